"""`recsys flags add|review|queue`: AI flags and the curators' review of them.

The queue names each track (title, artists, label) from the current pool. A review of a track
nothing knows (neither pool, catalogue nor flag) is refused as a typo; a flag is not: a flag
may name a track before its feed arrives (the detector scans deliveries upstream).
"""

from __future__ import annotations

import argparse
from typing import Any, cast

from pool.fields import FieldError, check_score
from pool.model import AiFlag, AiReview, FlagSource, ReviewDecision
from pool.state import add_flag, record_review, review_queue
from recsys.cli.command_context import CommandContext, valid_id, valid_text
from recsys.cli.trust_commands import add_ahead_argument, add_staff_arguments
from recsys.curation.pool_names import current_pool_names, current_pool_tracks, unknown_track
from recsys.errors import UsageError
from recsys.jobs.exclusion_sync import publish_exclusions


def add_parsers(commands: Any) -> None:
    flags = commands.add_parser("flags", help="flag tracks as AI-generated and review flags")
    verbs = flags.add_subparsers(dest="verb", required=True, metavar="VERB")
    add = verbs.add_parser("add", help="record an AI flag on a track")
    add.add_argument("track_id", help="the flagged track's id")
    add.add_argument(
        "--source",
        required=True,
        choices=["detector", "label", "curator", "listener"],
        help="who flags it: detector, label, curator or listener",
    )
    add.add_argument(
        "--score", required=True, type=float, help="0.0-1.0: how likely it is fully AI-made"
    )
    add_staff_arguments(add)
    add_ahead_argument(add)
    add.set_defaults(handler=run_add)
    review = verbs.add_parser("review", help="a curator's decision on a flagged track")
    review.add_argument("track_id", help="a track of the review queue (`recsys flags queue`)")
    review.add_argument(
        "--decision",
        required=True,
        choices=["exclude", "clear"],
        help="exclude: AI-generated, keep it out; clear: a person's work, let it back in",
    )
    add_staff_arguments(review)
    review.set_defaults(handler=run_review)
    queue = verbs.add_parser("queue", help="list tracks waiting for a curator's review")
    queue.set_defaults(handler=run_queue)


def run_add(args: argparse.Namespace, ctx: CommandContext) -> int:
    track_id = valid_id(args.track_id, "track_id")
    try:
        score = check_score(args.score, "--score")
    except FieldError as error:
        raise UsageError(str(error)) from None
    by, why = valid_text(args.by, "--by"), valid_text(args.why, "--why")
    flag = AiFlag(track_id, cast(FlagSource, args.source), score, ctx.now)
    conn = ctx.open_state()
    try:
        if not args.ahead_of_delivery:
            pool_tracks = current_pool_tracks(conn, ctx.settings.state_dir)
            unknown = unknown_track(conn, ctx.settings.state_dir, track_id, pool_tracks)
            if unknown is not None:
                raise UsageError(f"{unknown}: pass --ahead-of-delivery to record it anyway")
        add_flag(conn, flag, by=by, why=why, role="trust")
        publish_exclusions(conn, ctx.settings)
    finally:
        conn.close()
    ctx.print_json(
        {
            "track_id": track_id,
            "source": flag.source,
            "score": score,
            "effective": "at the next read of any stored mix and the next pool build",
        }
    )
    return 0


def run_review(args: argparse.Namespace, ctx: CommandContext) -> int:
    track_id = valid_id(args.track_id, "track_id")
    by, why = valid_text(args.by, "--by"), valid_text(args.why, "--why")
    review = AiReview(track_id, cast(ReviewDecision, args.decision), by, ctx.now, why)
    conn = ctx.open_state()
    try:
        pool_tracks = current_pool_tracks(conn, ctx.settings.state_dir)
        refused = unknown_track(conn, ctx.settings.state_dir, track_id, pool_tracks)
        if refused is not None:
            raise UsageError(refused)
        outcome = record_review(conn, review, rules=ctx.settings.ai)
        publish_exclusions(conn, ctx.settings)
    finally:
        conn.close()
    answer = {"track_id": track_id, "decision": review.decision, "status": outcome}
    if outcome == "awaiting_second_approval":
        answer["detail"] = (
            "the detector scored this track at or above the exclusion threshold: it stays"
            " excluded until a second curator clears it too"
        )
    ctx.print_json(answer)
    return 0


def run_queue(args: argparse.Namespace, ctx: CommandContext) -> int:
    conn = ctx.open_existing_state()
    try:
        names = current_pool_names(conn, ctx.settings.state_dir)
        ctx.print_json([names.queue_entry(e) for e in review_queue(conn, ctx.settings.ai)])
    finally:
        conn.close()
    return 0
