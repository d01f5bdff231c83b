"""`recsys rebuild --data DIR`: the cron job. A progress bar on a terminal, log lines otherwise,
a summary at the end; exit 0 only when the new version is current.

The store is opened and asked once before anything else, so a cron run against a store that is
down fails at once, with the state untouched, instead of after training. A store that stops
answering later fails the run with one message that says what listeners keep getting (the
store switches only to complete versions), not with the store client's bare error.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

from recsys.cli.command_context import CommandContext, add_allow_shrink_argument
from recsys.cli.rebuild_display import RebuildDisplay
from recsys.errors import RecsysError
from recsys.jobs.rebuild import run_rebuild
from recsys.store.base import StoreUnavailableError
from recsys.store.factory import open_store

log = logging.getLogger("recsys.jobs.rebuild")


class RebuildFailedError(RecsysError):
    """The rebuild stopped before publishing; the store still serves its last complete version."""


def add_parsers(commands: Any) -> None:
    rebuild = commands.add_parser(
        "rebuild", help="the cron job: import, train, generate every user's mixes, switch"
    )
    rebuild.add_argument(
        "--data", type=Path, required=True, help="data directory (docs/contract.md section 2)"
    )
    rebuild.add_argument("--workers", type=int, help="generation processes (default: config)")
    rebuild.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="generate on the Dask cluster whose scheduler is at ADDRESS, e.g."
        " tcp://scheduler:8786 (default: serve.rebuild_cluster; none: this machine)",
    )
    rebuild.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_allow_shrink_argument(rebuild)
    rebuild.set_defaults(handler=run_rebuild_command)


def run_rebuild_command(args: argparse.Namespace, ctx: CommandContext) -> int:
    workers = args.workers or ctx.settings.serve.rebuild_workers or os.cpu_count() or 1
    cluster = args.cluster or ctx.settings.serve.rebuild_cluster or None
    display = RebuildDisplay(sys.stderr)
    generate = None
    if cluster is not None:
        # Imported only here: a rebuild on one machine never loads Dask.
        from recsys.jobs.cluster import cluster_generation  # noqa: PLC0415

        generate = cluster_generation(cluster, ctx.settings)
    store = open_store(ctx.settings)
    try:
        if not store.ping():
            raise RebuildFailedError(
                f"rebuild not started: the mix store ({store.name}) does not answer; nothing"
                " was changed and the store keeps serving what it holds"
            )
        summary = run_rebuild(
            ctx.settings,
            args.data,
            ctx.now,
            progress=display.progress,
            workers=workers,
            store=store,
            allow_shrink=args.allow_shrink,
            stage_hook=display.stage,
            announce=display.announce,
            generate=generate,
        )
    except StoreUnavailableError as error:
        raise RebuildFailedError(
            f"rebuild failed: the mix store stopped answering ({error}); a version becomes"
            " current only once complete, so listeners keep the last complete one. Run the"
            " rebuild again once the store answers"
        ) from error
    finally:
        display.finish()
        store.close()
    if args.json:
        ctx.print_json(summary)
        return 0
    generation, fraud = summary["generation"], summary["fraud"]
    ctx.print(
        f"rebuild published store version {summary['store']['version']}"
        f" ({summary['store']['name']})"
    )
    ctx.print(
        f"  pool {summary['pool']['version']}: {summary['pool']['admitted']} tracks"
        f" admitted of {summary['pool']['catalog_tracks']}"
    )
    ctx.print(
        f"  fraud screen: {fraud['accounts_flagged']} of {fraud['accounts']} accounts"
        f" left out of training"
    )
    ctx.print(
        f"  model {summary['model']['version']}: {summary['model']['users']} users x"
        f" {summary['model']['artists']} artists"
    )
    ctx.print(
        f"  users {generation['users']}, mixes {generation['mixes']}, tracks"
        f" {generation['tracks']}, {generation['users_per_second']} users/s on"
        f" {generation['workers']} workers"
    )
    excluded = generation["tracks_excluded_by_final_filter"]
    ctx.print(
        "  tracks excluded by the final filter: "
        + (", ".join(f"{k} {v}" for k, v in excluded.items()) or "none")
    )
    ctx.print(
        "  seconds per stage: " + ", ".join(f"{k} {v}" for k, v in summary["seconds"].items())
    )
    return 0
