"""`recsys train --data DIR`: import, screen listens for fraud, train the embeddings."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from recsys.cli.command_context import CommandContext, add_allow_shrink_argument
from recsys.jobs.rebuild import rebuild_lock
from recsys.training.run import run_training


def add_parsers(commands: Any) -> None:
    train = commands.add_parser(
        "train", help="import a data directory, screen listens for fraud, train ALS"
    )
    train.add_argument(
        "--data", type=Path, required=True, help="data directory (docs/contract.md section 2)"
    )
    train.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_allow_shrink_argument(train)
    train.set_defaults(handler=run_train)


def run_train(args: argparse.Namespace, ctx: CommandContext) -> int:
    # One run at a time: a training run publishes a pool and a model, as a rebuild does.
    with rebuild_lock(ctx.settings.state_dir):
        conn = ctx.open_state()
        try:
            run = run_training(
                conn,
                ctx.settings.state_dir,
                args.data,
                ctx.settings,
                ctx.now,
                max_shrink=ctx.settings.max_shrink(allow_shrink=args.allow_shrink),
            )
        finally:
            conn.close()
    summary = run.summary()
    if args.json:
        ctx.print_json(summary)
        return 0
    pool, listens, fraud, model = (summary[k] for k in ("pool", "listens", "fraud", "model"))
    ctx.print(
        f"pool {pool['version']}: admitted {pool['admitted']} of"
        f" {pool['catalog_tracks']} catalog tracks"
    )
    ctx.print(
        f"listens: {listens['kept_rows']} rows kept of {listens['rows']}"
        f" ({listens['bad_rows']} bad, {listens['unknown_track_rows']} unknown tracks,"
        f" {listens['opted_out_rows']} opted out)"
    )
    ctx.print(
        f"fraud screen: {fraud['accounts_flagged']} of {fraud['accounts']} accounts"
        f" left out, {fraud['plays_excluded']} plays"
    )
    for rule, count in fraud["accounts_by_rule"].items():
        ctx.print(f"    {rule:<22} {count}")
    ctx.print(
        f"model {model['version']}: {model['users']} users x {model['artists']} artists,"
        f" {model['factors']} factors"
    )
    ctx.print("seconds per stage: " + ", ".join(f"{k} {v}" for k, v in summary["seconds"].items()))
    return 0
