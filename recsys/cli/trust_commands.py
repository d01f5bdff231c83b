"""`recsys trust ...`: the trust team's registry edits, each with `--by` and `--why`.

The registry, not any feed, is what the gate reads. A grant counts at the next pool build (the
pool admits the newly trusted tracks then); a revocation counts at the next read everywhere
(stored mixes, Release Radar, radios, similar artists), and the next pool build leaves the
tracks out. `trust import DIR` is the one way a data directory's `trust/` files enter the
registry: a named staff action, one audit record per grant.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pool.model import TrustKind
from pool.state import list_trust, set_trust
from pool.trust_import import import_trust_files
from recsys.cli.command_context import CommandContext, valid_id, valid_text
from recsys.curation.pool_names import unknown_trust_subject
from recsys.errors import UsageError
from recsys.jobs.exclusion_sync import publish_exclusions
from recsys.store.base import StoreUnavailableError

GRANTS: dict[str, TrustKind] = {
    "verify-artist": "artist",
    "trust-label": "label",
    "trust-partner": "partner",
}
GRANT_HELP: dict[TrustKind, str] = {
    "artist": "mark an artist as verified (counts at the next pool build)",
    "label": "mark a label as trusted (counts at the next pool build)",
    "partner": "mark a partner as trusted (counts at the next pool build)",
}


def add_staff_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--by", required=True, help="the staff member making the change")
    parser.add_argument("--why", required=True, help="the reason, kept in the audit log")


AHEAD_HELP = (
    "record it although no delivery the current pool was built from names the id (without"
    " this, such an id is refused as a likely typo)"
)


def add_ahead_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ahead-of-delivery", action="store_true", help=AHEAD_HELP)


def add_parsers(commands: Any) -> None:
    trust = commands.add_parser("trust", help="edit the trust registry (trust team)")
    verbs = trust.add_subparsers(dest="verb", required=True, metavar="VERB")
    for verb, kind in GRANTS.items():
        grant = verbs.add_parser(verb, help=GRANT_HELP[kind])
        grant.add_argument("id", help=f"{kind} id")
        add_staff_arguments(grant)
        add_ahead_argument(grant)
        grant.set_defaults(handler=run_grant, kind=kind)
    revoke = verbs.add_parser(
        "revoke",
        help="revoke an artist's, label's or partner's trust (counts at the next read)",
        description=(
            "Revoke trust. At the next read the subject's tracks leave every stored mix,"
            " Release Radar and radio, and a revoked artist leaves similar-artist answers;"
            " the next pool build leaves the tracks out of the pool. Example: recsys trust"
            " revoke --artist ar000042 --by tina --why 'impersonation'."
        ),
    )
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--artist", metavar="ID", help="revoke this artist's verification")
    which.add_argument("--label", metavar="ID", help="revoke this label's trust")
    which.add_argument("--partner", metavar="ID", help="revoke this partner's trust")
    add_staff_arguments(revoke)
    add_ahead_argument(revoke)
    revoke.set_defaults(handler=run_revoke)
    staff_import = verbs.add_parser(
        "import",
        help="grant the ids of a data directory's trust/*.csv files (a named staff action)",
        description=(
            "Grant every partner, label and artist listed in DIR/trust/partners.csv,"
            " labels.csv and artists.csv that the registry has never seen, each under --by"
            " with one audit record per grant (ids revoked by staff stay revoked). pool build"
            " and rebuild never read these files. Example: recsys trust import data/"
            " --by tina --why 'initial registry of the partner delivery'. Exit status: 0 done,"
            " 1 no such directory or no trust files, 2 bad arguments."
        ),
    )
    staff_import.add_argument("data", type=Path, metavar="DIR", help="the data directory")
    add_staff_arguments(staff_import)
    staff_import.add_argument("--json", action="store_true", help="print the summary as JSON")
    staff_import.set_defaults(handler=run_import)
    show = verbs.add_parser("list", help="list the registry")
    show.add_argument(
        "--kind", choices=["artist", "label", "partner"], help="only entries of this kind"
    )
    show.set_defaults(handler=run_list)


def _change(
    ctx: CommandContext, kind: TrustKind, raw_id: str, trusted: bool, args: argparse.Namespace
) -> int:
    subject = valid_id(raw_id, f"{kind} id")
    by, why = valid_text(args.by, "--by"), valid_text(args.why, "--why")
    conn = ctx.open_state()
    store_sync = "done"
    try:
        if not args.ahead_of_delivery:
            unknown = unknown_trust_subject(conn, ctx.settings.state_dir, kind, subject)
            if unknown is not None:
                raise UsageError(f"{unknown}: pass --ahead-of-delivery to record it anyway")
        before = set_trust(conn, kind, subject, trusted=trusted, by=by, why=why, now=ctx.now)
        if not trusted:
            try:
                publish_exclusions(conn, ctx.settings)
            except StoreUnavailableError:
                # Committed and audited; reads check the state's view too, and the server
                # syncs the store at its next check.
                store_sync = "pending"
    finally:
        conn.close()
    ctx.print_json(
        {
            "kind": kind,
            "id": subject,
            "trusted": trusted,
            "before": before,
            "effective": "at the next read" if not trusted else "at the next pool build",
            "store_sync": store_sync,
        }
    )
    return 0


def run_import(args: argparse.Namespace, ctx: CommandContext) -> int:
    by, why = valid_text(args.by, "--by"), valid_text(args.why, "--why")
    conn = ctx.open_state()
    try:
        result = import_trust_files(conn, args.data, by=by, why=why, now=ctx.now)
    finally:
        conn.close()
    summary = result.summary() | {"effective": "at the next pool build"}
    if args.json:
        ctx.print_json(summary)
        return 0
    kinds = ", ".join(f"{count} {kind}s" for kind, count in summary["granted_by_kind"].items())
    ctx.print(f"granted {summary['granted']} ({kinds}) by {by}; effective at the next pool build")
    ctx.print(f"  already in the registry (left as they are): {summary['already_in_registry']}")
    if result.issues:
        ctx.print(f"  rows refused: {len(result.issues)}")
        for issue in result.issues[:20]:
            ctx.print(f"    {issue}")
    return 0


def run_grant(args: argparse.Namespace, ctx: CommandContext) -> int:
    return _change(ctx, args.kind, args.id, True, args)


def run_revoke(args: argparse.Namespace, ctx: CommandContext) -> int:
    kind: TrustKind = "artist" if args.artist else "label" if args.label else "partner"
    return _change(ctx, kind, args.artist or args.label or args.partner, False, args)


def run_list(args: argparse.Namespace, ctx: CommandContext) -> int:
    conn = ctx.open_existing_state()
    try:
        ctx.print_json(list_trust(conn, args.kind))
    finally:
        conn.close()
    return 0
