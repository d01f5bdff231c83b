"""`recsys store gc [--json]`: remove the partial versions that killed rebuilds left behind.

A rebuild killed with SIGKILL (the OOM killer, a cron timeout, a reboot) never reaches its
commit or its abort, so the users its workers had written stay in the store under a version
that will never be current: gigabytes at a million users. The next rebuild removes them at its
start; this command does it now, for an operator who does not want to wait. It takes the
rebuild lock, so it never removes the version a running rebuild is writing, and refuses at
once while one runs.
"""

from __future__ import annotations

import argparse
from typing import Any

from recsys.cli.command_context import CommandContext
from recsys.errors import RecsysError
from recsys.jobs.rebuild import LOCK_FILE, RebuildLockedError, rebuild_lock
from recsys.store.base import StoreUnavailableError
from recsys.store.factory import open_store

GC_DESCRIPTION = """\
Remove every store version but the current one: the users that rebuilds killed before
their switch (SIGKILL, the OOM killer, a reboot) had written. Takes the rebuild lock, so it
refuses at once while a rebuild runs; a rebuild does the same at its own start."""

GC_EPILOG = """\
example:
  recsys store gc            # the embedded store, or the one RECSYS_STORE names
  RECSYS_STORE=redis://127.0.0.1:6379/0 recsys store gc --json

exit status:
  0  done (also when there was nothing to remove); the current version is never touched
  1  a rebuild is running (nothing removed), the store does not answer, or a store
     file is damaged (one line on stderr says which and what to do)
  2  bad arguments or configuration
"""


class StoreBusyError(RecsysError):
    """The store cannot be collected now: a rebuild holds the lock, or the store does not
    answer."""


def add_parsers(commands: Any) -> None:
    store = commands.add_parser("store", help="maintain the mix store (embedded or Redis)")
    verbs = store.add_subparsers(dest="verb", required=True, metavar="VERB")
    gc = verbs.add_parser(
        "gc",
        help="remove the partial versions that killed rebuilds left in the store",
        description=GC_DESCRIPTION,
        epilog=GC_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    gc.add_argument("--json", action="store_true", help='print {"store", "current", "dropped"}')
    gc.set_defaults(handler=run_gc)


def run_gc(args: argparse.Namespace, ctx: CommandContext) -> int:
    state_dir = ctx.settings.state_dir
    try:
        with rebuild_lock(state_dir):
            store = open_store(ctx.settings)
            try:
                dropped = store.drop_stale_versions()
                current = store.current_version()
            finally:
                store.close()
    except StoreUnavailableError as error:
        raise StoreBusyError(
            f"store gc: the mix store does not answer ({error}); run `recsys store gc` again"
            " once it does (the current version is never touched)"
        ) from error
    except RebuildLockedError:
        raise StoreBusyError(
            f"store gc refused: a rebuild is running (lock {state_dir / LOCK_FILE}); nothing"
            " was removed. A rebuild removes stale versions at its start; or run `recsys store"
            " gc` again once it has ended"
        ) from None
    if args.json:
        ctx.print_json({"store": store.name, "current": current, "dropped": dropped})
        return 0
    kept = f"current version {current} kept" if current else "no version is current"
    if dropped:
        ctx.print(
            f"store gc ({store.name}): removed {len(dropped)} stale version(s):"
            f" {', '.join(dropped)}; {kept}"
        )
    else:
        ctx.print(f"store gc ({store.name}): nothing to remove; {kept}")
    return 0
