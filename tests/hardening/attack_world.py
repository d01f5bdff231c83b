"""Attack worlds: a clean generated world, attacks layered onto copies of it, and exposure.

An attack test compares the same world with and without the attack, so the world here has no
planted bots (``bot_share=0``): every bot in a run is one the test wrote itself, and the clean
run is the no-attack baseline. Attacks only *add* files or rows to a copy of the clean data
directory (a partner's catalogue, an extra ``listens/*.csv`` of bot accounts), the way they
would reach the cron job.

Exposure is what an attack is after: the share of genuine listeners whose outputs (personal
mixes and Release Radar, generated through the final filter exactly as the rebuild stores them)
hold at least one target track.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from recsys.engine.loading import Engine, load_engine
from recsys.errors import NotFoundError
from recsys.listening.fraud import FraudRules
from recsys.serving import answers
from recsys.settings import Settings, load_settings
from recsys.state.schema import open_engine_state
from recsys.store.base import MixStore
from recsys.training.run import TrainingRun
from recsys.world import WorldConfig, generate_world
from tests.staff import trusted_training

TODAY = date(2026, 11, 26)
NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)

# The fraud screen switched off: no threshold can be reached, so every account and play is
# kept and no loop is capped. The same rules as ``NEVER`` in
# tests/benchmarks/bench_fraud_defence.py (its "unscreened" variant): the run of a bot farm
# that the screen failed to catch.
SCREEN_OFF = FraudRules(
    max_plays_per_day=10**9,
    max_track_plays_per_day=10**9,
    max_short_play_share=2.0,
    max_farm_share=2.0,
    max_label_share=2.0,
    bandwagon_target_share=2.0,
    duplicate_min_group=10**9,
)


def clean_world(data: Path, *, users: int, artists: int, seed: int) -> Path:
    """A generated world without planted bots (the no-attack world), written to ``data``."""
    generate_world(
        data, WorldConfig(users=users, artists=artists, seed=seed, today=TODAY, bot_share=0.0)
    )
    return data


def copy_world(data: Path, to: Path) -> Path:
    """A copy of a data directory for one attack to add its files to."""
    shutil.copytree(data, to)
    return to


def append_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """Rows added at the end of a JSON-lines feed, as a partner's next delivery would be."""
    with path.open("a", encoding="utf-8", newline="\n") as out:
        out.writelines(json.dumps(dict(row)) + "\n" for row in rows)


def append_csv(path: Path, lines: Iterable[str]) -> None:
    """Lines added at the end of a CSV file that already has its header."""
    with path.open("a", encoding="utf-8", newline="\n") as out:
        out.writelines(line + "\n" for line in lines)


def bot_ids(count: int, prefix: str) -> list[str]:
    return [f"{prefix}{i:05d}" for i in range(1, count + 1)]


@dataclass(frozen=True, slots=True)
class BotFarm:
    """Accounts run by one operator, replaying one shared history with small jitter.

    Modelled on the generator's pushers (``recsys/world/bots.py``): the targets are looped
    dozens to hundreds of times a day, each play just past the 30-second royalty threshold,
    on many days; a few normal plays of popular tracks ("cover") make the accounts look like
    fans and tie the targets to the popular artists in the model.
    """

    user_ids: tuple[str, ...]
    target_track_ids: tuple[str, ...]
    cover_track_ids: tuple[str, ...]
    loop_days: int = 40
    window_days: int = 90
    seed: int = 0


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def bot_listen_lines(farm: BotFarm, durations: Mapping[str, int]) -> list[str]:
    """The farm's listens as ``user_id,track_id,played_at,ms_played,plays`` lines."""
    rng = np.random.default_rng(farm.seed)
    first = datetime(TODAY.year, TODAY.month, TODAY.day, tzinfo=UTC) - timedelta(
        days=farm.window_days
    )
    days = np.sort(rng.choice(farm.window_days, size=farm.loop_days, replace=False))
    # The shared template: (track, day, second of day, plays, ms per play).
    template: list[tuple[str, int, int, int, int]] = []
    for day in days.tolist():
        for track in farm.target_track_ids:
            per_play = min(int(rng.integers(30_500, 32_500)), durations[track])
            template.append(
                (track, day, int(rng.integers(0, 86_400)), int(rng.integers(40, 201)), per_play)
            )
    for track in farm.cover_track_ids:
        day = int(rng.integers(0, farm.window_days))
        second = int(rng.integers(9 * 3600, 23 * 3600))
        template.append((track, day, second, 1 + int(rng.random() < 0.2), durations[track]))
    lines = []
    for user in farm.user_ids:
        for track, day, second, plays, per_play in template:
            if rng.random() < 0.05:
                continue  # each account drops a few rows of the template
            moved = min(max(second + int(rng.integers(-900, 901)), 0), 86_399)
            count = max(1, plays + int(rng.integers(-1, 2)))
            at = first + timedelta(days=day, seconds=moved)
            lines.append(f"{user},{track},{_stamp(at)},{count * per_play},{count}")
    return lines


def write_bot_listens(data: Path, farm: BotFarm, durations: Mapping[str, int]) -> None:
    """The farm's listens as one more ``listens/*.csv`` file of the data directory."""
    path = data / "listens" / "zz-bot-farm.csv"
    path.write_text(
        "user_id,track_id,played_at,ms_played,plays\n"
        + "".join(line + "\n" for line in bot_listen_lines(farm, durations)),
        encoding="utf-8",
    )


@dataclass(frozen=True)
class Run:
    """One cron-job training of a data directory, loaded as the engine that serves it."""

    settings: Settings
    training: TrainingRun
    engine: Engine


def train(root: Path, data: Path, *, fraud: FraudRules | None = None) -> Run:
    """Import and train ``data`` into a state under ``root``; ``fraud`` replaces the
    configured screen (``SCREEN_OFF``: the run without the fraud filter)."""
    settings = load_settings(None, {"RECSYS_STATE_DIR": str(root / "state")}, root)
    if fraud is not None:
        settings = replace(settings, fraud=fraud)
    conn = open_engine_state(settings.state_dir)
    try:
        training = trusted_training(conn, settings.state_dir, data, settings, NOW)
        engine = load_engine(conn, settings.state_dir, settings, NOW)
    finally:
        conn.close()
    return Run(settings, training, engine)


Outputs = Mapping[str, frozenset[str]]  # listener -> every track served to them


def _tracks_of(mixes: Iterable[Mapping[str, Any]]) -> frozenset[str]:
    return frozenset(t["track_id"] for mix in mixes for t in mix["tracks"])


def generated_outputs(engine: Engine, users: Sequence[str]) -> Outputs:
    """Each listener's personal mixes and Release Radar as generated now (what the rebuild
    stores), through the final filter."""
    return {
        u: _tracks_of([*answers.user_mixes(engine, u)["mixes"], answers.release_radar(engine, u)])
        for u in users
    }


def stored_outputs(engine: Engine, store: MixStore, users: Sequence[str]) -> Outputs:
    """Each listener's stored mixes and Release Radar as the read path serves them now
    (``GET /v1/users/{id}/mixes`` and ``.../release-radar``)."""
    outputs = {}
    for user in users:
        exclusions = engine.profile(user).exclusions
        mixes = answers.read_user_mixes(engine, store, user, exclusions)["mixes"]
        radar = answers.read_release_radar(engine, store, user, exclusions)
        outputs[user] = _tracks_of([*mixes, radar])
    return outputs


@dataclass(frozen=True, slots=True)
class Exposure:
    """Which of ``population`` listeners (or radios) got at least one target track."""

    population: int
    exposed: frozenset[str]

    @property
    def share(self) -> float:
        return len(self.exposed) / self.population if self.population else 0.0


def exposure(outputs: Outputs, targets: Iterable[str]) -> Exposure:
    wanted = frozenset(targets)
    return Exposure(len(outputs), frozenset(u for u, tracks in outputs.items() if tracks & wanted))


def radio_exposure(engine: Engine, seed_artists: Sequence[str], targets: Iterable[str]) -> Exposure:
    """Which artist radios (one per seed artist, not personalised) play a target track; a
    seed the engine does not know gives no radio, hence no exposure."""
    wanted = frozenset(targets)
    exposed = set()
    for artist in seed_artists:
        try:
            radio = answers.artist_radio(engine, artist, None, None)
        except NotFoundError:
            continue
        if {t["track_id"] for t in radio["tracks"]} & wanted:
            exposed.add(artist)
    return Exposure(len(seed_artists), frozenset(exposed))
