"""The gate as a state machine (Hypothesis): staff verify and revoke, flag and clear, link and
block, feeds are re-ingested, the engine is rebuilt and read, in any order. After every step, no
served track breaks SPEC invariants 1-3 against what the machine itself recorded."""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from pool.importer import import_data_dir
from pool.model import AiFlag, AiReview
from pool.state import add_flag, load_serving_exclusions, record_review, set_trust
from recsys.curation.links import canonical_pair, make_link
from recsys.curation.store import put_link
from recsys.engine import Engine, load_engine
from recsys.generators.registry import GenerationRequest, run_generator
from recsys.settings import load_settings
from recsys.state import open_engine_state
from recsys.training_run import run_training
from recsys.world import WorldConfig, generate_world

START = datetime(2026, 11, 26, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def trained_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small world trained once; each machine run copies its state folder."""
    root = tmp_path_factory.mktemp("gate-machine")
    generate_world(
        root / "data", WorldConfig(users=200, artists=40, seed=13, today=date(2026, 11, 26))
    )
    conn = open_engine_state(root / "state")
    run_training(conn, root / "state", root / "data", load_settings(None, {}, root), START)
    conn.close()
    return root


class GateMachine(RuleBasedStateMachine):
    template: Path

    @initialize()
    def start(self) -> None:
        self.tmp = Path(tempfile.mkdtemp())
        shutil.copytree(self.template / "state", self.tmp / "state")
        self.data = self.template / "data"
        self.truth: dict[str, Any] = json.loads((self.template / "data.truth.json").read_text())
        self.settings = replace(load_settings(None, {}, self.tmp), state_dir=self.tmp / "state")
        self.conn = open_engine_state(self.settings.state_dir)
        self.clock = START
        self.artists = sorted(self.truth["verified_artist_ids"])[:12]
        self.labels = sorted(self.truth["trusted_label_ids"])[:4]
        self.tracks = sorted(self.truth["expected_eligible_track_ids"])[:40]
        self.trusted = self._registry()  # the template's pool was built from this registry
        self.engine: Engine = self._load()
        self.flagged: set[str] = set()

    def teardown(self) -> None:
        if hasattr(self, "conn"):
            self.conn.close()
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _tick(self) -> datetime:
        self.clock += timedelta(minutes=1)
        return self.clock

    def _registry(self) -> set[tuple[str, str]]:
        rows = self.conn.execute("SELECT kind, subject_id FROM trust_registry WHERE trusted = 1")
        return {(kind, subject) for kind, subject in rows}

    def _load(self) -> Engine:
        engine = load_engine(self.conn, self.settings.state_dir, self.settings, self._tick())
        # Curator blocks act from this load on (trust changes wait for the next pool build).
        self.blocked = {
            canonical_pair(a, b)
            for a, b in self.conn.execute(
                "SELECT artist_a, artist_b FROM curator_links WHERE kind = 'block'"
            )
        }
        return engine

    def _publish_flags(self) -> None:
        exclusions = load_serving_exclusions(self.conn, self.settings.ai)
        self.engine = replace(self.engine, gate=replace(self.engine.gate, exclusions=exclusions))

    @rule(index=st.integers(0, 11), trusted=st.booleans())
    def verify_or_revoke_artist(self, index: int, trusted: bool) -> None:
        set_trust(
            self.conn,
            "artist",
            self.artists[index],
            trusted=trusted,
            by="tina",
            why="machine",
            now=self._tick(),
        )

    @rule(index=st.integers(0, 3), trusted=st.booleans())
    def trust_or_revoke_label(self, index: int, trusted: bool) -> None:
        set_trust(
            self.conn,
            "label",
            self.labels[index],
            trusted=trusted,
            by="tina",
            why="machine",
            now=self._tick(),
        )

    @rule(
        index=st.integers(0, 39),
        score=st.sampled_from([0.3, 0.6, 0.95, 1.0]),
        source=st.sampled_from(["detector", "curator", "label", "listener"]),
    )
    def flag_track(self, index: int, score: float, source: str) -> None:
        track = self.tracks[index]
        add_flag(
            self.conn,
            AiFlag(track, source, score, self._tick()),  # type: ignore[arg-type]
            by="det",
            why="machine",
            role="trust",
        )
        if source in ("curator", "label") or (source == "detector" and score >= 0.5):
            self.flagged.add(track)
        self._publish_flags()

    @rule(index=st.integers(0, 39))
    def clear_track(self, index: int) -> None:
        track = self.tracks[index]
        record_review(self.conn, AiReview(track, "clear", "carol", self._tick(), "human"))
        self.flagged.discard(track)
        self._publish_flags()

    @rule(a=st.integers(0, 11), b=st.integers(0, 11), block=st.booleans())
    def link_or_block(self, a: int, b: int, block: bool) -> None:
        if a == b:
            return
        link = make_link(
            artist_a=self.artists[a],
            artist_b=self.artists[b],
            kind="block" if block else "similar",
            weight=None if block else 0.9,
            curator="cora",
            note="machine",
            created_at=self._tick(),
        )
        put_link(self.conn, link, why="machine", role="curator")
        self.engine = self._load()  # link edits change the next radio at once

    @rule()
    def ingest_and_rebuild(self) -> None:
        import_data_dir(
            self.conn, self.settings.state_dir, self.data, self.settings.ai, self._tick()
        )
        self.engine = self._load()
        self._publish_flags()

    @invariant()
    def served_tracks_keep_the_invariants(self) -> None:
        if not hasattr(self, "engine"):
            return
        engine = self.engine
        users = list(engine.history.users.ids)[:3]
        requests = [("personal_mixes", GenerationRequest(user=engine.profile(u))) for u in users]
        requests += [
            ("artist_radio", GenerationRequest(seed_artist=a))
            for a in self.artists[:3]
            if a in engine.context.graph
        ]
        pool = engine.context.catalog.tracks
        for name, request in requests:
            result, _ = run_generator(name, engine.context, request, engine.gate)
            for mix in result.mixes:
                for track in mix.tracks:
                    metadata = pool[track.track_id]
                    assert ("partner", metadata.partner) in self.trusted
                    assert ("label", metadata.label_id) in self.trusted
                    assert all(("artist", a) in self.trusted for a in metadata.artist_ids)
                    assert metadata.ai_declaration != "generated"
                    assert track.track_id not in self.flagged
                    via = track.reason.via.get("artist_id")
                    if track.reason.type in ("curated_link", "als_neighbour") and via:
                        for artist in track.artist_ids:
                            assert canonical_pair(via, artist) not in self.blocked
                    if request.seed_artist is not None:
                        for artist in track.artist_ids:
                            assert (
                                artist == request.seed_artist
                                or canonical_pair(request.seed_artist, artist) not in self.blocked
                            )


@pytest.mark.slow
def test_the_gate_holds_in_any_sequence_of_staff_actions(trained_template: Path) -> None:
    GateMachine.template = trained_template
    runner = GateMachine.TestCase
    runner.settings = settings(
        max_examples=8,
        stateful_step_count=10,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    runner("runTest").runTest()
