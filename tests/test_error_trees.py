"""Each package's error tree is complete in its ``errors.py`` docstring (as httpx draws its own):
every class raised on purpose anywhere in the package is named there, so a reader sees the
whole tree in one place."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import pool
import pool.errors
import recsys
import recsys.errors


def _all_subclasses(base: type) -> set[type]:
    found: set[type] = set()
    stack = [base]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                stack.append(sub)
    return found


@pytest.mark.parametrize(
    ("package", "base", "docstring"),
    [
        (recsys, recsys.errors.RecsysError, recsys.errors.__doc__),
        (pool, pool.errors.PoolError, pool.errors.__doc__),
    ],
)
def test_every_error_class_is_in_the_tree(package: object, base: type, docstring: str) -> None:
    for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):  # type: ignore[attr-defined]
        if not module.name.endswith(".__main__"):  # importing it runs the command line
            importlib.import_module(module.name)
    ours = {c for c in _all_subclasses(base) if c.__module__.startswith(package.__name__)}  # type: ignore[attr-defined]
    assert ours, "the walk found the package's errors"
    missing = sorted(c.__name__ for c in ours if c.__name__ not in docstring)
    assert not missing, f"missing from {package.__name__}.errors' tree: {missing}"  # type: ignore[attr-defined]
