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
import time
from pathlib import Path
from typing import Any, TextIO

from recsys.cli.command_context import CommandContext, add_allow_shrink_argument
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
    rebuild.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_allow_shrink_argument(rebuild)
    rebuild.set_defaults(handler=run_rebuild_command)


class ProgressReporter:
    """A one-line bar on a terminal; otherwise an INFO log line every 10%."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self.next_log = 0.1

    def __call__(self, done: int, total: int) -> None:
        share = done / total if total else 1.0
        rate = done / max(time.monotonic() - self.started, 1e-9)
        if self.tty:
            bar = "#" * int(share * 30)
            self.stream.write(f"\rgenerating [{bar:<30}] {done}/{total} users ({rate:,.0f}/s)")
            if done >= total:
                self.stream.write("\n")
            self.stream.flush()
        elif share >= self.next_log or done >= total:
            log.info("generated %d/%d users (%.0f users/s)", done, total, rate)
            self.next_log = share + 0.1


def run_rebuild_command(args: argparse.Namespace, ctx: CommandContext) -> int:
    workers = args.workers or ctx.settings.serve.rebuild_workers or os.cpu_count() or 1
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
            progress=ProgressReporter(sys.stderr),
            workers=workers,
            store=store,
            allow_shrink=args.allow_shrink,
            announce=lambda line: print(f"recsys: {line}", file=sys.stderr, flush=True),
        )
    except StoreUnavailableError as error:
        raise RebuildFailedError(
            f"rebuild failed: the mix store stopped answering ({error}); a version becomes"
            " current only once complete, so listeners keep the last complete one. Run the"
            " rebuild again once the store answers"
        ) from error
    finally:
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
