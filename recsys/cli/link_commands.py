"""`recsys links add|block|remove|list`: curators' similar-artist links, with the audit trail.

An edit changes the graph the next radio uses; ALS is not retrained.
"""

from __future__ import annotations

import argparse
from typing import Any

from pool.fields import FieldError
from pool.importer import load_current_pool
from recsys.cli.command_context import CommandContext, valid_id, valid_text
from recsys.cli.trust_commands import add_staff_arguments
from recsys.curation.links import make_link, unlinkable_artists
from recsys.curation.pool_names import current_pool_names
from recsys.curation.store import load_links, put_link, remove_link
from recsys.errors import UsageError


def _add_pair_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("artist_a", help="one artist's id (a verified artist of the pool)")
    parser.add_argument("artist_b", help="the other artist's id")


def add_parsers(commands: Any) -> None:
    links = commands.add_parser("links", help="curators' similar-artist links")
    verbs = links.add_subparsers(dest="verb", required=True, metavar="VERB")
    add = verbs.add_parser("add", help="link two artists as similar (or change the weight)")
    _add_pair_arguments(add)
    add.add_argument("--weight", type=float, required=True, help="0.0-1.0: how similar")
    add_staff_arguments(add)
    add.set_defaults(handler=run_put, kind="similar")
    block = verbs.add_parser("block", help="never link these two artists, whatever ALS says")
    _add_pair_arguments(block)
    add_staff_arguments(block)
    block.set_defaults(handler=run_put, kind="block", weight=None)
    remove = verbs.add_parser("remove", help="remove a link or a block")
    _add_pair_arguments(remove)
    add_staff_arguments(remove)
    remove.set_defaults(handler=run_remove)
    show = verbs.add_parser("list", help="list links, optionally of one artist")
    show.add_argument("--artist", help="only links touching this artist")
    show.set_defaults(handler=run_list)


def run_put(args: argparse.Namespace, ctx: CommandContext) -> int:
    by, why = valid_text(args.by, "--by"), valid_text(args.why, "--why")
    try:
        link = make_link(
            artist_a=args.artist_a,
            artist_b=args.artist_b,
            kind=args.kind,
            weight=args.weight,
            curator=by,
            note=why,
            created_at=ctx.now,
        )
    except FieldError as error:
        raise UsageError(str(error)) from None
    # A link joins artists of the pool: without one, nothing to link (and nothing created).
    conn = ctx.open_state_with_pool()
    try:
        pool = load_current_pool(conn, ctx.settings.state_dir)
        refused = unlinkable_artists(link, pool.artists)
        if refused:
            raise UsageError(f"not a verified artist of the current pool: {', '.join(refused)}")
        before = put_link(conn, link, why=why, role="curator")
    finally:
        conn.close()
    ctx.print_json(
        {
            "link": link.as_dict(),
            "before": before,
            "effective": "at the next radio; no retraining needed",
        }
    )
    return 0


def run_remove(args: argparse.Namespace, ctx: CommandContext) -> int:
    a, b = valid_id(args.artist_a, "artist_a"), valid_id(args.artist_b, "artist_b")
    by, why = valid_text(args.by, "--by"), valid_text(args.why, "--why")
    conn = ctx.open_state()
    try:
        removed = remove_link(conn, a, b, by=by, why=why, role="curator", now=ctx.now)
    finally:
        conn.close()
    if removed is None:
        raise UsageError(f"there is no link between {a} and {b}")
    ctx.print_json({"removed": removed})
    return 0


def run_list(args: argparse.Namespace, ctx: CommandContext) -> int:
    artist = valid_id(args.artist, "--artist") if args.artist else None
    conn = ctx.open_existing_state()
    try:
        names = current_pool_names(conn, ctx.settings.state_dir)
        ctx.print_json([names.link(link.as_dict()) for link in load_links(conn, artist)])
    finally:
        conn.close()
    return 0
