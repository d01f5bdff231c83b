"""`recsys trust ...`: the trust team's registry edits, each with `--by` and `--why`.

Changes take effect at the next pool build; the registry, not any feed, is what the gate reads.
"""

from __future__ import annotations

import argparse
from typing import Any

from pool.model import TrustKind
from pool.state import list_trust, set_trust
from recsys.commands.context import CommandContext, valid_id, valid_text

GRANTS: dict[str, TrustKind] = {
    "verify-artist": "artist",
    "trust-label": "label",
    "trust-partner": "partner",
}


def add_staff_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--by", required=True, help="the staff member making the change")
    parser.add_argument("--why", required=True, help="the reason, kept in the audit log")


def add_parsers(commands: Any) -> None:
    trust = commands.add_parser("trust", help="edit the trust registry (trust team)")
    verbs = trust.add_subparsers(dest="verb", required=True, metavar="VERB")
    for verb, kind in GRANTS.items():
        grant = verbs.add_parser(verb, help=f"mark a {kind} as trusted/verified")
        grant.add_argument("id", help=f"{kind} id")
        add_staff_arguments(grant)
        grant.set_defaults(handler=run_grant, kind=kind)
    revoke = verbs.add_parser("revoke", help="revoke an artist's, label's or partner's trust")
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--artist", metavar="ID")
    which.add_argument("--label", metavar="ID")
    which.add_argument("--partner", metavar="ID")
    add_staff_arguments(revoke)
    revoke.set_defaults(handler=run_revoke)
    show = verbs.add_parser("list", help="list the registry")
    show.add_argument("--kind", choices=["artist", "label", "partner"])
    show.set_defaults(handler=run_list)


def _change(
    ctx: CommandContext, kind: TrustKind, raw_id: str, trusted: bool, args: argparse.Namespace
) -> int:
    subject = valid_id(raw_id, f"{kind} id")
    by, why = valid_text(args.by, "--by"), valid_text(args.why, "--why")
    conn = ctx.open_state()
    try:
        before = set_trust(conn, kind, subject, trusted=trusted, by=by, why=why, now=ctx.now)
    finally:
        conn.close()
    ctx.print_json(
        {
            "kind": kind,
            "id": subject,
            "trusted": trusted,
            "before": before,
            "effective": "at the next pool build",
        }
    )
    return 0


def run_grant(args: argparse.Namespace, ctx: CommandContext) -> int:
    return _change(ctx, args.kind, args.id, True, args)


def run_revoke(args: argparse.Namespace, ctx: CommandContext) -> int:
    kind: TrustKind = "artist" if args.artist else "label" if args.label else "partner"
    return _change(ctx, kind, args.artist or args.label or args.partner, False, args)


def run_list(args: argparse.Namespace, ctx: CommandContext) -> int:
    conn = ctx.open_state()
    try:
        ctx.print_json(list_trust(conn, args.kind))
    finally:
        conn.close()
    return 0
