"""`recsys demo`: a synthetic world through the whole pipeline, on the embedded state.

Needs no server and no data: it writes a fresh world under ``<state dir>/demo/`` (replacing the
previous demo there, and nothing else), builds the trust-gated pool in a demo state beside it
and prints what was admitted and refused.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

from pool.importer import import_data_dir
from pool.state import open_state
from recsys.commands.context import CommandContext
from recsys.commands.pool_commands import print_summary
from recsys.errors import UsageError
from recsys.world import WorldConfig, generate_world

DEMO_MARKER = ".recsys-demo"


def add_parsers(commands: Any) -> None:
    demo = commands.add_parser("demo", help="run the pipeline on a generated world and print it")
    demo.set_defaults(handler=run_demo)


def _fresh_demo_root(root: Path) -> Path:
    if root.exists():
        if not (root / DEMO_MARKER).is_file():
            raise UsageError(f"{root} exists and was not made by `recsys demo`; move it away")
        shutil.rmtree(root)
    root.mkdir(parents=True)
    (root / DEMO_MARKER).write_text("made by `recsys demo`; replaced on every run\n")
    return root


def run_demo(args: argparse.Namespace, ctx: CommandContext) -> int:
    settings = ctx.settings.demo
    root = _fresh_demo_root(ctx.settings.state_dir / "demo")
    world_dir, state_dir = root / "world", root / "state"
    config = WorldConfig(
        users=settings.users, artists=settings.artists, seed=settings.seed, today=ctx.now.date()
    )
    world = generate_world(world_dir, config)
    ctx.print(f"1. generated a synthetic world in {world_dir}:")
    ctx.print("   " + ", ".join(f"{key} {value}" for key, value in world.items()))

    conn = open_state(state_dir)
    try:
        result = import_data_dir(conn, state_dir, world_dir, ctx.settings.ai, ctx.now)
    finally:
        conn.close()
    ctx.print("2. built the trust-gated candidate pool:")
    print_summary(ctx, result.build.report.summary(), max_issues=settings.show_issues)
    ctx.print(f"   (state and reports in {state_dir})")
    return 0
