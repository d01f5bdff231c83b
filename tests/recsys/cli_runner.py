"""Run the real `recsys` command line in a child process, as an operator would."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str


def run_cli(*args: str | Path, state_dir: Path, env: dict[str, str] | None = None) -> CliResult:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("RECSYS_")}
    environ["RECSYS_STATE_DIR"] = str(state_dir)
    environ.update(env or {})
    completed = subprocess.run(
        [sys.executable, "-m", "recsys", *map(str, args)],
        capture_output=True,
        text=True,
        env=environ,
        timeout=300,
        check=False,
    )
    return CliResult(completed.returncode, completed.stdout, completed.stderr)
