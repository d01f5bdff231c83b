"""The folder tree shows the architecture: no two modules share a name across the packages
(an ``errors.py`` per package and ``__init__.py`` excepted), and ``pool`` never imports
``recsys``."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_BY_DESIGN = {"__init__.py", "__main__.py", "errors.py"}


def test_no_two_modules_share_a_name() -> None:
    where: dict[str, list[str]] = defaultdict(list)
    for package in ("pool", "recsys"):
        for path in (ROOT / package).rglob("*.py"):
            if path.name not in SHARED_BY_DESIGN:
                where[path.name].append(str(path.relative_to(ROOT)))
    shared = {name: paths for name, paths in where.items() if len(paths) > 1}
    assert not shared, shared


def test_pool_never_imports_recsys() -> None:
    for path in (ROOT / "pool").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("recsys"), (path, node.module)
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("recsys") for a in node.names), path


def test_recsys_root_holds_only_cross_cutting_modules() -> None:
    loose = sorted(p.name for p in (ROOT / "recsys").glob("*.py"))
    assert loose == ["__init__.py", "__main__.py", "errors.py", "settings.py"]


def test_every_package_declares_its_public_names() -> None:
    """Each package's ``__init__`` lists what it offers in ``__all__``, and everything listed
    exists (a module of the package, or a name the ``__init__`` defines or imports)."""
    for package in ("pool", "recsys"):
        for init in (ROOT / package).rglob("__init__.py"):
            tree = ast.parse(init.read_text())
            declared = [
                node.value
                for node in ast.walk(tree)
                if isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
            ]
            assert declared, f"{init.relative_to(ROOT)} declares no __all__"
            names = ast.literal_eval(declared[0])
            bound = {
                alias.asname or alias.name
                for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom | ast.Import)
                for alias in node.names
            } | {
                target.id
                for node in ast.walk(tree)
                if isinstance(node, ast.Assign)
                for target in node.targets
                if isinstance(target, ast.Name)
            }
            for name in names:
                module = init.parent / f"{name}.py"
                assert module.exists() or (init.parent / name).is_dir() or name in bound, (
                    init.relative_to(ROOT),
                    name,
                )
