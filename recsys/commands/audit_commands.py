"""`recsys audit [--since TIMESTAMP]`: read the append-only audit trail."""

from __future__ import annotations

import argparse
from typing import Any

from pool.audit import read_audit
from pool.fields import FieldError, check_timestamp
from recsys.commands.context import CommandContext
from recsys.errors import UsageError


def add_parsers(commands: Any) -> None:
    audit = commands.add_parser("audit", help="print the audit trail of staff changes")
    audit.add_argument("--since", help="only entries at or after this ISO 8601 timestamp")
    audit.set_defaults(handler=run_audit)


def run_audit(args: argparse.Namespace, ctx: CommandContext) -> int:
    since = None
    if args.since is not None:
        try:
            since = check_timestamp(args.since, "--since")
        except FieldError as error:
            raise UsageError(str(error)) from None
    conn = ctx.open_state()
    try:
        ctx.print_json([entry.as_dict() for entry in read_audit(conn, since)])
    finally:
        conn.close()
    return 0
