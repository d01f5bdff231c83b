"""`recsys train --data DIR` and `recsys similar ARTIST_ID`: embeddings and the graph."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from recsys.commands.context import CommandContext, valid_id
from recsys.errors import UsageError
from recsys.graph.similar_artists import similar_artists
from recsys.training_run import load_current_graph, run_training


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 1 <= value <= 500:
        raise argparse.ArgumentTypeError(f"must be between 1 and 500, got {value}")
    return value


def add_parsers(commands: Any) -> None:
    train = commands.add_parser(
        "train", help="import a data directory, screen listens for fraud, train ALS"
    )
    train.add_argument("--data", type=Path, required=True)
    train.add_argument("--json", action="store_true", help="print the summary as JSON")
    train.set_defaults(handler=run_train)
    similar = commands.add_parser("similar", help="an artist's similar artists, with sources")
    similar.add_argument("artist_id")
    similar.add_argument("--limit", type=_limit, default=20)
    similar.set_defaults(handler=run_similar)


def run_train(args: argparse.Namespace, ctx: CommandContext) -> int:
    conn = ctx.open_state()
    try:
        run = run_training(conn, ctx.settings.state_dir, args.data, ctx.settings, ctx.now)
    finally:
        conn.close()
    summary = run.summary()
    if args.json:
        ctx.print_json(summary)
        return 0
    pool, listens, fraud, model = (summary[k] for k in ("pool", "listens", "fraud", "model"))
    ctx.print(
        f"pool {pool['version']}: admitted {pool['admitted']} of"
        f" {pool['catalog_tracks']} catalog tracks"
    )
    ctx.print(
        f"listens: {listens['kept_rows']} rows kept of {listens['rows']}"
        f" ({listens['bad_rows']} bad, {listens['unknown_track_rows']} unknown tracks,"
        f" {listens['opted_out_rows']} opted out)"
    )
    ctx.print(
        f"fraud screen: {fraud['accounts_flagged']} of {fraud['accounts']} accounts"
        f" left out, {fraud['plays_excluded']} plays"
    )
    for rule, count in fraud["accounts_by_rule"].items():
        ctx.print(f"    {rule:<22} {count}")
    ctx.print(
        f"model {model['version']}: {model['users']} users x {model['artists']} artists,"
        f" {model['factors']} factors"
    )
    ctx.print("seconds per stage: " + ", ".join(f"{k} {v}" for k, v in summary["seconds"].items()))
    return 0


def similar_payload(ctx: CommandContext, artist_id: str, limit: int) -> dict[str, Any]:
    """The JSON of `GET /v1/artists/{id}/similar`: curated edges say which curator linked them."""
    conn = ctx.open_state()
    try:
        graph = load_current_graph(conn, ctx.settings.state_dir, ctx.settings)
    finally:
        conn.close()
    if artist_id not in graph:
        raise UsageError(f"unknown artist (not a verified artist of the current pool): {artist_id}")
    return {
        "artist_id": artist_id,
        "similar": [
            {"artist_id": s.artist_id, "score": round(s.score, 4), "source": s.source}
            | ({"curator": s.link.curator} if s.link is not None else {})
            for s in similar_artists(graph, artist_id, limit)
        ],
    }


def run_similar(args: argparse.Namespace, ctx: CommandContext) -> int:
    ctx.print_json(similar_payload(ctx, valid_id(args.artist_id, "artist_id"), args.limit))
    return 0
