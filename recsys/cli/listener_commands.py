"""`recsys mixes|release-radar|radio|similar`: the listener read paths, as the API's JSON.

Mixes and Release Radar are read from the store (as the cron job wrote them) and filtered now;
radios and similar artists are generated on request.
"""

from __future__ import annotations

import argparse
from typing import Any

from recsys.cli.command_context import CommandContext, valid_id
from recsys.domain.exclusions import NO_EXCLUSIONS
from recsys.engine.loading import Engine, load_engine
from recsys.serving import answers
from recsys.store.factory import open_store


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 1 <= value <= 500:
        raise argparse.ArgumentTypeError(f"must be between 1 and 500, got {value}")
    return value


def add_parsers(commands: Any) -> None:
    mixes = commands.add_parser("mixes", help="a user's personal mixes (JSON)")
    mixes.add_argument("user_id", help="the listener's id (an unknown one gets cold-start mixes)")
    mixes.set_defaults(handler=run_mixes)
    radar = commands.add_parser("release-radar", help="a user's Release Radar (JSON)")
    radar.add_argument("user_id", help="the listener's id")
    radar.set_defaults(handler=run_release_radar)
    radio = commands.add_parser("radio", help="an artist or track radio (JSON)")
    seed = radio.add_mutually_exclusive_group(required=True)
    seed.add_argument("--artist", metavar="ID", help="an artist radio around this artist")
    seed.add_argument("--track", metavar="ID", help="a track radio starting from this track")
    radio.add_argument("--user", metavar="ID", help="personalise for this user")
    radio.add_argument("--limit", type=_limit, help="at most N tracks, 1-500 (default: all)")
    radio.set_defaults(handler=run_radio)
    similar = commands.add_parser("similar", help="an artist's similar artists, with sources")
    similar.add_argument("artist_id", help="a verified artist of the pool")
    similar.add_argument(
        "--limit", type=_limit, default=20, help="at most N similar artists, 1-500 (default: 20)"
    )
    similar.set_defaults(handler=run_similar)


def engine_for(ctx: CommandContext) -> Engine:
    """The engine of the state folder; a folder with no state or no pool is refused with
    where it looked and what fills it, and nothing is created there."""
    conn = ctx.open_state_with_pool()
    try:
        return load_engine(conn, ctx.settings.state_dir, ctx.settings, ctx.now)
    finally:
        conn.close()


def _read(ctx: CommandContext, user_id: str, read: Any) -> dict[str, Any]:
    engine = engine_for(ctx)
    store = open_store(ctx.settings)
    try:
        exclusions = engine.exclusions.get(user_id, NO_EXCLUSIONS)
        return dict(read(engine, store, user_id, exclusions))
    finally:
        store.close()


def run_mixes(args: argparse.Namespace, ctx: CommandContext) -> int:
    user_id = valid_id(args.user_id, "user_id")
    ctx.print_json(_read(ctx, user_id, answers.read_user_mixes))
    return 0


def run_release_radar(args: argparse.Namespace, ctx: CommandContext) -> int:
    user_id = valid_id(args.user_id, "user_id")
    ctx.print_json(_read(ctx, user_id, answers.read_release_radar))
    return 0


def run_radio(args: argparse.Namespace, ctx: CommandContext) -> int:
    user = valid_id(args.user, "--user") if args.user else None
    engine = engine_for(ctx)
    if args.artist:
        mix = answers.artist_radio(engine, valid_id(args.artist, "--artist"), user, args.limit)
    else:
        mix = answers.track_radio(engine, valid_id(args.track, "--track"), user, args.limit)
    ctx.print_json(mix)
    return 0


def run_similar(args: argparse.Namespace, ctx: CommandContext) -> int:
    artist = valid_id(args.artist_id, "artist_id")
    ctx.print_json(answers.similar(engine_for(ctx), artist, args.limit))
    return 0
