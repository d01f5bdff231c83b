"""`recsys demo`: a synthetic world through the whole pipeline, on the embedded state.

Needs no server and no data: it writes a fresh world under ``<state dir>/demo/`` (replacing the
previous demo there, and nothing else), builds the trust-gated pool in a demo state beside it,
screens the listens for fraud, trains ALS and prints an artist's similar artists with the
source of each edge, one listener's mixes, Release Radar and an artist radio. It ends with the
commands, exactly as to type them, that show the same listener's mixes and serve the API on
the demo's state: a newcomer's next step must not need the code.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import networkx as nx

from pool.trust_import import import_trust_files
from recsys.cli.command_context import CommandContext
from recsys.cli.pool_commands import print_summary
from recsys.domain.mix import describe_reason
from recsys.engine.loading import Engine, load_engine
from recsys.errors import UsageError
from recsys.graph.similar_artists import similar_artists
from recsys.serving import answers
from recsys.settings import Settings
from recsys.state.schema import open_engine_state
from recsys.training.run import run_training
from recsys.world import WorldConfig, generate_world

DEMO_MARKER = ".recsys-demo"
DEMO_STAFF = "demo-trust-team"


# The widest artist and title columns of the tracks printed (longer ones are cut short).
ARTISTS_WIDTH, TITLE_WIDTH = 34, 30


def add_parsers(commands: Any) -> None:
    demo = commands.add_parser(
        "demo",
        help="run the pipeline on a generated world and print it",
        description="Generate a synthetic world under STATE_DIR/demo/world (replacing an earlier"
        " demo there), run the whole pipeline on a state in STATE_DIR/demo/state, print one"
        " listener's mixes, Release Radar and an artist radio, and the commands that show the"
        " same on that state. The world's size: [demo] in config/default.toml.",
    )
    demo.set_defaults(handler=run_demo)


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 mix``, ``2 mixes``: ``many`` when the plural is not ``word + "s"``."""
    return f"{count} {word if count == 1 else many or word + 's'}"


def _fresh_demo_root(root: Path) -> Path:
    if root.exists():
        if not (root / DEMO_MARKER).is_file():
            raise UsageError(f"{root} exists and was not made by `recsys demo`; move it away")
        shutil.rmtree(root)
    root.mkdir(parents=True)
    (root / DEMO_MARKER).write_text("made by `recsys demo`; replaced on every run\n")
    return root


def _showcase_artist(graph: nx.Graph) -> str | None:
    """The best-connected artist with at least one curated edge: it shows both sources."""
    curated = {
        artist
        for a, b, data in graph.edges(data=True)
        if data["source"] == "curated"
        for artist in (a, b)
    }
    ranked = sorted(curated, key=lambda a: (-graph.degree(a), a))
    return ranked[0] if ranked else None


def run_demo(args: argparse.Namespace, ctx: CommandContext) -> int:
    demo = ctx.settings.demo
    root = _fresh_demo_root(ctx.settings.state_dir / "demo")
    world_dir, state_dir = root / "world", root / "state"
    settings = replace(ctx.settings, state_dir=state_dir)
    config = WorldConfig(
        users=demo.users, artists=demo.artists, seed=demo.seed, today=ctx.now.date()
    )
    world = generate_world(world_dir, config)
    ctx.print(f"1. generated a synthetic world in {world_dir}:")
    ctx.print("   " + ", ".join(f"{key} {value}" for key, value in world.items()))

    conn = open_engine_state(state_dir)
    try:
        # The demo plays the trust team too: pool builds never read trust/ files on their own.
        grants = import_trust_files(
            conn,
            world_dir,
            by=DEMO_STAFF,
            why="the demo's staff import of the synthetic world's trust registry",
            now=ctx.now,
        )
        ctx.print(
            f"   {DEMO_STAFF} imported the world's trust files:"
            f" {plural(len(grants.granted), 'grant')}, each in the audit trail"
            " (`recsys trust import`)"
        )
        run = run_training(conn, state_dir, world_dir, settings, ctx.now)
    finally:
        conn.close()
    engine = _engine(state_dir, settings, ctx)
    graph = engine.context.graph
    summary = run.summary()
    ctx.print("2. built the trust-gated candidate pool:")
    print_summary(ctx, summary["pool"], max_issues=demo.show_issues)
    fraud = summary["fraud"]
    ctx.print(
        f"3. screened listens for streaming fraud: {fraud['accounts_flagged']} of"
        f" {fraud['accounts']} accounts left out of training"
        f" ({fraud['plays_excluded']} plays); accounts per rule:"
    )
    for rule, count in fraud["accounts_by_rule"].items():
        ctx.print(f"    {rule:<22} {count}")
    model = summary["model"]
    ctx.print(
        f"4. trained ALS {model['version']} on {model['users']} users x {model['artists']} artists"
    )
    artist = _showcase_artist(graph)
    names = {a.artist_id: a.name for a in run.pool.catalog.artists.values()}
    if artist is not None:
        ctx.print(f"5. artists similar to {names.get(artist, artist)} ({artist}):")
        for s in similar_artists(graph, artist, 10):
            via = f"curated by {s.link.curator}" if s.link is not None else "ALS neighbour"
            ctx.print(f"    {s.score:5.2f}  {names.get(s.artist_id, s.artist_id):<32} {via}")
    user = _showcase_user(engine)
    if user is not None:
        mixes = answers.user_mixes(engine, user)["mixes"]
        ctx.print(f"6. {plural(len(mixes), 'personal mix', 'personal mixes')} for user {user}:")
        for mix in mixes:
            _print_mix(ctx, mix, names, demo.show_tracks)
        ctx.print("7. their Release Radar:")
        _print_mix(ctx, answers.release_radar(engine, user), names, demo.show_tracks)
    if artist is not None:
        ctx.print("8. an artist radio, generated on request:")
        radio = answers.artist_radio(engine, artist, user, None)
        _print_mix(ctx, radio, names, demo.show_tracks)
    ctx.print(f"   (state, reports and models in {state_dir})")
    ctx.print("next: the same on the demo's state, as JSON and over HTTP (type them as shown):")
    for command in next_commands(state_dir, user, ctx.settings, args.config, Path.cwd()):
        ctx.print(f"   {command}")
    return 0


def next_commands(
    state_dir: Path, user: str | None, settings: Settings, config: Path | None, cwd: Path
) -> list[str]:
    """The commands that show the demo listener's mixes and serve the API on the demo's
    state, as a shell takes them: the state folder relative to ``cwd`` when inside it, and
    the demo's own ``--config`` when it had one."""
    shown = state_dir.relative_to(cwd) if state_dir.is_relative_to(cwd) else state_dir
    where = f"--state-dir {shlex.quote(str(shown))}"
    if config is not None:
        where += f" --config {shlex.quote(str(config))}"
    commands = []
    if user is not None:
        commands += [f"recsys mixes {shlex.quote(user)} {where}"]
        commands += [f"recsys release-radar {shlex.quote(user)} {where}"]
    commands.append(f"recsys serve {where}")
    if user is not None:
        host, port = settings.serve.host, settings.serve.port
        commands.append(f"curl http://{host}:{port}/v1/users/{user}/mixes  # while it serves")
    return commands


def _engine(state_dir: Path, settings: Settings, ctx: CommandContext) -> Engine:
    conn = open_engine_state(state_dir)
    try:
        return load_engine(conn, state_dir, settings, ctx.now)
    finally:
        conn.close()


def _showcase_user(engine: Engine) -> str | None:
    """A personalised listener with the most varied history: their mixes show the most."""
    best: tuple[int, str] | None = None
    for user_id in engine.history.users.ids:
        if user_id in engine.optouts:
            continue
        span = len(engine.history.of(user_id).track_ids)
        if best is None or span > best[0]:
            best = (span, user_id)
    return None if best is None else best[1]


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def _print_mix(ctx: CommandContext, mix: dict[str, Any], names: dict[str, str], show: int) -> None:
    """A mix's title, then its first ``show`` tracks in aligned columns: artists, title, and
    the reason in words (``describe_reason``)."""
    tracks = mix["tracks"]
    basis = "personalised" if mix["personalised"] else f"not personalised: {mix['basis']}"
    ctx.print(f"   {mix['title']} ({plural(len(tracks), 'track')}; {basis})")
    rows = [
        (
            _cut(", ".join(track["artist_names"]), ARTISTS_WIDTH),
            _cut(track["title"], TITLE_WIDTH),
            describe_reason(track["reason"], lambda a: names.get(a, a)),
        )
        for track in tracks[:show]
    ]
    artists_width = max((len(r[0]) for r in rows), default=0)
    title_width = max((len(r[1]) for r in rows), default=0)
    for artists, title, reason in rows:
        ctx.print(f"      {artists:<{artists_width}}  {title:<{title_width}}  {reason}")
    if len(tracks) > show:
        ctx.print(f"      ... {len(tracks) - show} more")
