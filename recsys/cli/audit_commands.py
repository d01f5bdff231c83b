"""`recsys audit [--since TIMESTAMP] [--anonymous]`: read the append-only audit trail.

Calls refused for want of a valid token are not in the trail one by one (anonymous traffic
could grow it without bound); they are counted per minute, endpoint and reason, and
``--anonymous`` prints those counts instead.
"""

from __future__ import annotations

import argparse
from typing import Any

from pool.audit import read_anonymous_refusals, read_audit
from pool.fields import FieldError, check_timestamp
from recsys.cli.command_context import CommandContext
from recsys.errors import UsageError


def add_parsers(commands: Any) -> None:
    audit = commands.add_parser("audit", help="print the audit trail of staff changes")
    audit.add_argument("--since", help="only entries at or after this ISO 8601 timestamp")
    audit.add_argument(
        "--anonymous",
        action="store_true",
        help="print the per-minute counts of calls refused for want of a valid token",
    )
    audit.set_defaults(handler=run_audit)


def run_audit(args: argparse.Namespace, ctx: CommandContext) -> int:
    since = None
    if args.since is not None:
        try:
            since = check_timestamp(args.since, "--since")
        except FieldError as error:
            raise UsageError(str(error)) from None
    conn = ctx.open_existing_state()
    try:
        if args.anonymous:
            ctx.print_json([row.as_dict() for row in read_anonymous_refusals(conn, since)])
        else:
            ctx.print_json([entry.as_dict() for entry in read_audit(conn, since)])
    finally:
        conn.close()
    return 0
