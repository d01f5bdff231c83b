"""`recsys serve` refuses to start without a pool to serve, with a message, not a traceback."""

from __future__ import annotations

from pathlib import Path

from tests.recsys.cli_runner import run_cli


def test_serve_without_a_built_pool_fails_with_a_clear_message(tmp_path: Path) -> None:
    result = run_cli("serve", "--port", "0", state_dir=tmp_path / "state")
    assert result.code == 1
    assert f"nothing has been built yet (no state folder) in {tmp_path / 'state'}" in result.err
    assert "`recsys rebuild --data DIR`" in result.err
    assert "Traceback" not in result.err and "serving" not in result.out
    assert not (tmp_path / "state").exists()  # a read creates no state


def test_serve_refuses_a_bad_port(tmp_path: Path) -> None:
    result = run_cli("serve", "--port", "70000", state_dir=tmp_path / "state")
    assert result.code == 2 and "--port" in result.err
