"""The gate as a state machine (Hypothesis; issue 13, item 14).

Staff verify and revoke artists, trust and revoke labels and partners, flag tracks (every
source), clear them (one curator, or two for a high detector score), link and block artists,
erase listeners, build the pool and rebuild, and rebuild with an erasure, a revocation or a
flag arriving at any stage of the run (or between two chunks of generation), in any order.

The machine keeps its own record of what must hold (``tests/hardening/gate_record.py``),
built from the raw data directory and its own actions, never read back from the engine: a
revocation counts at once, a grant from the next pool build (the record takes the registry
as the build read it); a flag, review, takedown and block as SPEC section 6 says. After
every step it reads every output path with a freshly loaded engine, as the next request
would: stored mixes and Release Radar, on-the-spot generation, artist and track radios and
similar artists, for listeners in both chunks of generation, an opted-out listener, an
unknown one and every erased one; and stored reads through the engine of the step before (a
server that has not caught up yet), which only the store's withheld set protects. Erased
listeners have no stored payload, no model or history row and no personal reason. A run that
serves nothing cannot pass: the test counts what was served and checked.

``test_the_machine_finds_each_defect`` puts back, one at a time, the defects the fixes of
issue 13 removed, and expects the machine to fail on each.
"""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)

import pool.state
import recsys.jobs.publish
import recsys.jobs.rebuild
from pool.errors import PoolShrinkError, ReviewRefusedError
from pool.importer import POOL_POINTER, import_data_dir
from pool.model import AiFlag, AiReview
from pool.state import add_flag, get_pointer, set_trust
from pool.trust_import import import_trust_files
from recsys.curation.links import make_link
from recsys.curation.store import put_link
from recsys.domain.exclusions import NO_EXCLUSIONS
from recsys.engine.loading import Engine, load_engine
from recsys.errors import NotFoundError, RecsysError
from recsys.jobs.exclusion_sync import publish_exclusions
from recsys.jobs.rebuild import MIN_CHUNK_USERS, run_rebuild
from recsys.listening.history import load_history
from recsys.payload.codec import decode_user
from recsys.serving.answers import (
    artist_radio,
    read_release_radar,
    read_user_mixes,
    release_radar,
    similar,
    track_radio,
    user_mixes,
)
from recsys.settings import Settings, load_settings
from recsys.state.privacy import Tombstones, erase_user
from recsys.state.schema import open_engine_state
from recsys.store.base import MixStore
from recsys.store.factory import open_store
from recsys.training.run import MODEL_POINTER, MODELS_DIR, load_current_model
from recsys.world import WorldConfig, generate_world
from tests.hardening.gate_record import GateRecord, Subject, pair
from tests.staff import INJECTION_POINTS

START = datetime(2026, 11, 26, 12, tzinfo=UTC)
# More than MIN_CHUNK_USERS known users, so a rebuild generates in two chunks.
WORLD = WorldConfig(
    users=280, artists=25, seed=13, today=date(2026, 11, 26), median_listen_rows=15.0
)
CURATORS = ("carol", "cleo")
NEW_USER = "u-never-seen"
PERSONAL_REASONS = ("history", "followed_artist")
LINK_REASONS = ("curated_link", "als_neighbour")


def machine_settings(state: Path) -> Settings:
    # One ALS thread: on two cores, implicit's thread pool costs more than it saves here.
    environ = {
        "RECSYS_STATE_DIR": str(state),
        "RECSYS_STORE": "embedded",
        "RECSYS_ALS__THREADS": "1",
    }
    return load_settings(None, environ, state.parent)


def _quiet(done: int, total: int) -> None:
    pass


@dataclass(frozen=True)
class Template:
    """A small world rebuilt once per module; each example copies its state folder."""

    data: Path
    state: Path
    record: GateRecord
    first_chunk: tuple[str, ...]  # listeners generated in the first chunk
    second_chunk: tuple[str, ...]  # ... and in the second
    optout: str
    tracks: tuple[str, ...]  # served to the listeners above: what staff flag
    feed_flagged: tuple[str, ...]  # withheld by the feed's flags: what curators may clear
    artists: tuple[str, ...]
    labels: tuple[str, ...]
    partners: tuple[str, ...]
    serving_subjects: tuple[Subject, ...]  # the partners, labels and artists of ``tracks``
    linked_pairs: tuple[tuple[str, str], ...]  # artists a served reason links: what curators block
    radio_artists: tuple[str, ...]
    radio_tracks: tuple[str, ...]

    @property
    def listeners(self) -> tuple[str, ...]:
        return self.first_chunk + self.second_chunk


def _stored_tracks(store: MixStore, user: str) -> list[dict[str, Any]]:
    payload = store.read_user(user)
    if payload is None:
        return []
    document = decode_user(payload)
    mixes = [*document["mixes"], document.get("release_radar") or {"tracks": []}]
    return [t for m in mixes for t in m["tracks"]]


def _linked_pairs(tracks: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """The pairs of artists that the reasons of ``tracks`` link."""
    return {
        pair(via, artist)
        for t in tracks
        if t["reason"]["type"] in LINK_REASONS
        for via in [t["reason"]["via"].get("artist_id")]
        if via
        for artist in t["artist_ids"]
        if artist != via
    }


def _build_template(root: Path) -> Template:
    data = root / "data"
    generate_world(data, WORLD)
    truth = json.loads((root / "data.truth.json").read_text())
    settings = machine_settings(root / "state")
    conn = open_engine_state(settings.state_dir)
    try:
        # The staff's named import: the only way trust enters the registry.
        import_trust_files(conn, data, by="tina", why="the delivery's registry", now=START)
        run_rebuild(settings, data, START, progress=_quiet, workers=1)
        engine = load_engine(conn, settings.state_dir, settings, START)
    finally:
        conn.close()
    record = GateRecord.from_data_dir(data, settings.ai, feed_before=START)
    # The record's own reading of the raw delivery agrees with the world's known answer.
    assert record.eligible() == set(truth["expected_eligible_track_ids"])
    known = engine.known_users()
    assert len(known) > MIN_CHUNK_USERS, "the world must generate in two chunks"
    optouts = set(truth["optout_user_ids"])
    bots = {u for group in truth["bot_user_ids"].values() for u in group}

    def listeners(users: list[str]) -> list[str]:
        return [
            u
            for u in users
            if u not in optouts | bots and engine.history.users.index_of(u) is not None
        ]

    first, second = listeners(known[:MIN_CHUNK_USERS])[:3], listeners(known[MIN_CHUNK_USERS:])[-2:]
    assert len(first) == 3 and len(second) == 2
    store = open_store(settings)
    try:
        stored = [t for u in first + second for t in _stored_tracks(store, u)]
    finally:
        store.close()
    served = Counter(t["track_id"] for t in stored)
    tracks = tuple(t for t, _ in sorted(served.items(), key=lambda kv: (-kv[1], kv[0]))[:24])
    by_artist = Counter(
        a for t, n in served.items() for a in record.catalog[t].artists for _ in range(n)
    )
    radio_artists = tuple(a for a, _ in by_artist.most_common(3))
    linked = _linked_pairs(stored)
    for artist in radio_artists:
        linked |= _linked_pairs(artist_radio(engine, artist, None, None)["tracks"])

    def clean_but_flagged(track: str) -> bool:
        meta = record.catalog[track]
        return (
            not meta.generated
            and track not in record.taken_down
            and all(record.subject_allowed(s) for s in meta.subjects())
        )

    flagged = [t for t in sorted(record.ai) if record.ai[t].withheld and clean_but_flagged(t)]
    feed_flagged = (
        [t for t in flagged if record.ai[t].label_flagged][:1]
        + [t for t in flagged if record.ai[t].high and not record.ai[t].label_flagged][:3]
        + [t for t in flagged if not record.ai[t].high and not record.ai[t].label_flagged][:2]
    )
    return Template(
        data=data,
        state=settings.state_dir,
        record=record,
        first_chunk=tuple(first),
        second_chunk=tuple(second),
        optout=sorted(u for u in optouts if u in known)[0],
        tracks=tracks,
        feed_flagged=tuple(feed_flagged),
        artists=tuple(sorted({a for t in record.catalog.values() for a in t.artists})),
        labels=tuple(sorted({t.label for t in record.catalog.values()})),
        partners=tuple(sorted({t.partner for t in record.catalog.values()})),
        serving_subjects=tuple(sorted({s for t in tracks for s in record.catalog[t].subjects()})),
        linked_pairs=tuple(sorted(linked)),
        radio_artists=radio_artists,
        radio_tracks=tracks[:2],
    )


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return _build_template(tmp_path_factory.mktemp("gate-machine"))


def _from(name: str) -> st.SearchStrategy[Any]:
    """One of the template's ids (known once the module's fixture has built the world)."""
    return st.deferred(lambda: st.sampled_from(getattr(GateMachine.template, name)))


def _subjects() -> st.SearchStrategy[Subject]:
    """Any partner, label or artist of the catalog, trusted or not."""

    def build() -> st.SearchStrategy[Subject]:
        t = GateMachine.template
        return st.sampled_from(
            [("artist", a) for a in t.artists]
            + [("label", label) for label in t.labels]
            + [("partner", p) for p in t.partners]
        )

    return st.deferred(build)


# Flags that withhold (or not): (source, score).
FLAGS = st.sampled_from(
    [
        ("detector", 0.3),
        ("detector", 0.6),
        ("detector", 0.95),
        ("curator", 1.0),
        ("label", 0.9),
        ("listener", 0.9),
    ]
)
WITHHOLDING_FLAGS = st.sampled_from([("detector", 0.6), ("detector", 0.95), ("curator", 1.0)])


class GateMachine(RuleBasedStateMachine):
    template: Template
    seen: ClassVar[Counter[str]] = Counter()  # what was served and checked, in one run

    flagged = Bundle("flagged")

    # -- set-up ----------------------------------------------------------------------

    @initialize()
    def start(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="gate-machine-"))
        shutil.copytree(self.template.state, self.tmp / "state")
        self.settings = machine_settings(self.tmp / "state")
        self.conn = open_engine_state(self.settings.state_dir)
        self.clock = START
        self.record: GateRecord = copy.deepcopy(self.template.record)
        self.stale: Engine | None = None  # the engine of the step before
        self.touched_artist: str | None = None
        self.touched_track: str | None = None
        self.seen["examples"] += 1

    def teardown(self) -> None:
        if hasattr(self, "conn"):
            self.conn.close()
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _tick(self) -> datetime:
        self.clock += timedelta(minutes=1)
        return self.clock

    @contextmanager
    def _other_connection(self) -> Iterator[Any]:
        """A connection of its own, as the CLI or the API would open."""
        conn = open_engine_state(self.settings.state_dir)
        try:
            yield conn
        finally:
            conn.close()

    # -- staff actions (each as its command does it) ------------------------------------

    def _set_trust(self, conn: Any, subject: Subject, trusted: bool) -> None:
        kind, subject_id = subject
        now = self._tick()
        set_trust(conn, kind, subject_id, trusted=trusted, by="tina", why="m", now=now)  # type: ignore[arg-type]
        if not trusted:
            publish_exclusions(conn, self.settings)  # `recsys trust revoke` syncs the store
        self.record.set_trust(subject, trusted)
        if kind == "artist":
            self.touched_artist = subject_id

    def _flag(self, conn: Any, track: str, source: str, score: float) -> None:
        flag = AiFlag(track, source, score, self._tick())  # type: ignore[arg-type]
        add_flag(conn, flag, by="det", why="m", role="trust")
        publish_exclusions(conn, self.settings)  # `recsys flags add` syncs the store
        self.record.flag(track, source, score)
        self.touched_track = track

    def _erase(self, conn: Any, user: str) -> None:
        store = open_store(self.settings)
        try:
            erase_user(
                conn,
                self.settings.state_dir,
                store,
                user,
                actor="ada",
                role="admin",
                now=self._tick(),
            )
        finally:
            store.close()
        self.record.erased.add(user)

    @rule(subject=_subjects(), trusted=st.booleans())
    def grant_or_revoke(self, subject: Subject, trusted: bool) -> None:
        self._set_trust(self.conn, subject, trusted)

    @rule(target=flagged, track=_from("tracks"), flag=FLAGS)
    def flag_track(self, track: str, flag: tuple[str, float]) -> str:
        self._flag(self.conn, track, *flag)
        return track

    @rule(
        target=flagged,
        track=_from("tracks"),
        first=st.sampled_from(CURATORS),
        second=st.sampled_from(CURATORS),
    )
    def detector_flags_and_curators_clear(self, track: str, first: str, second: str) -> str:
        """The detector scores a served track at the exclusion threshold or above; a curator
        clears it, every output path still withholds it, and a second curator clears it."""
        self._flag(self.conn, track, "detector", 0.95)
        self._review(track, first, "clear")
        self.every_output_path_keeps_the_record()
        self._review(track, second, "clear")
        return track

    @rule(
        track=flagged,
        curator=st.sampled_from(CURATORS),
        decision=st.sampled_from(["clear", "clear", "exclude"]),
    )
    def review(self, track: str, curator: str, decision: str) -> None:
        self._review(track, curator, decision)

    @rule(track=_from("feed_flagged"), curator=st.sampled_from(CURATORS))
    def clear_a_track_the_feed_flagged(self, track: str, curator: str) -> None:
        """The feed's high detector scores and the rights holder's flags: four eyes, or
        no clear at all."""
        self._review(track, curator, "clear")

    def _review(self, track: str, curator: str, decision: str) -> None:
        review = AiReview(track, decision, curator, self._tick(), "m")  # type: ignore[arg-type]
        try:
            # Through the module, so that a test can put back the one-curator defect.
            outcome = pool.state.record_review(self.conn, review, rules=self.settings.ai)
        except ReviewRefusedError:
            outcome = "refused"
        expected = self.record.review(track, decision, curator)
        assert outcome == expected, (
            f"four-eyes/rights-holder rule: {decision} of {track} by {curator} was {outcome!r},"
            f" the record expects {expected!r}"
        )
        self.seen[f"review:{outcome}"] += 1
        if outcome != "refused":
            publish_exclusions(self.conn, self.settings)  # `recsys flags review` syncs it
        self.touched_track = track

    @rule(artists=_from("linked_pairs"), block=st.booleans())
    def link_or_block(self, artists: tuple[str, str], block: bool) -> None:
        """A curator blocks (or links) two artists that some served reason links."""
        a, b = artists
        link = make_link(
            artist_a=a,
            artist_b=b,
            kind="block" if block else "similar",
            weight=None if block else 0.9,
            curator="cora",
            note="m",
            created_at=self._tick(),
        )
        put_link(self.conn, link, why="m", role="curator")
        self.record.link(a, b, block)
        self.touched_artist = a

    @rule(user=_from("listeners"))
    def erase(self, user: str) -> None:
        self._erase(self.conn, user)

    @rule(allow_shrink=st.booleans())
    def pool_build(self, allow_shrink: bool) -> None:
        """`recsys pool build`: the registry as it is now admits the pool's tracks."""
        before = self._pointers()
        try:
            import_data_dir(
                self.conn,
                self.settings.state_dir,
                self.template.data,
                self.settings.ai,
                self._tick(),
                max_shrink=None if allow_shrink else self.settings.pool_max_shrink,
            )
        except PoolShrinkError:
            assert not allow_shrink
            assert self._pointers() == before, "a refused pool build moved a pointer"
            self.seen["refused_pool_builds"] += 1
            return
        self.record.pool_built()
        self.seen["pool_builds"] += 1

    @rule(allow_shrink=st.booleans())
    def rebuild(self, allow_shrink: bool) -> None:
        self._rebuild(allow_shrink=allow_shrink)

    @rule(stage=st.sampled_from(INJECTION_POINTS), user=_from("listeners"))
    def rebuild_with_an_erasure(self, stage: str, user: str) -> None:
        self._rebuild(stage=stage, actor=lambda conn: self._erase(conn, user), kind="erasure")

    @rule(stage=st.sampled_from(INJECTION_POINTS), subject=_from("serving_subjects"))
    def rebuild_with_a_revocation(self, stage: str, subject: Subject) -> None:
        self._rebuild(
            stage=stage, actor=lambda conn: self._set_trust(conn, subject, False), kind="revocation"
        )

    @rule(stage=st.sampled_from(INJECTION_POINTS), track=_from("tracks"), flag=WITHHOLDING_FLAGS)
    def rebuild_with_a_flag(self, stage: str, track: str, flag: tuple[str, float]) -> None:
        self._rebuild(stage=stage, actor=lambda conn: self._flag(conn, track, *flag), kind="flag")

    def _pointers(self) -> tuple[str | None, str | None, str | None]:
        store = open_store(self.settings)
        try:
            version = store.current_version()
        finally:
            store.close()
        return get_pointer(self.conn, POOL_POINTER), get_pointer(self.conn, MODEL_POINTER), version

    def _rebuild(
        self,
        *,
        allow_shrink: bool = True,
        stage: str | None = None,
        actor: Callable[[Any], None] | None = None,
        kind: str = "",
    ) -> None:
        """A rebuild; ``actor`` acts from a connection of its own just before ``stage``
        starts (for "generate": after the first chunk of generation, before the second)."""
        calls: list[str] = []
        seen_by_run: dict[str, Any] = {}

        def act() -> None:
            calls.append(str(stage))
            assert actor is not None
            with self._other_connection() as conn:
                actor(conn)

        def hook(name: str) -> None:
            if name == stage and not calls:
                act()
            if name == "pool":  # the registry the pool stage is about to read
                seen_by_run["registry"] = self.record.trusted_now()

        def progress(done: int, total: int) -> None:
            if stage == "generate" and not calls:
                if done < total:
                    self.seen["injected:between_chunks"] += 1
                act()  # after the first chunk (the only one, once revocations shrank the pool)

        before = self._pointers()
        try:
            run_rebuild(
                self.settings,
                self.template.data,
                self._tick(),
                progress=progress,
                workers=1,
                allow_shrink=allow_shrink,
                stage_hook=hook,
            )
        except PoolShrinkError:
            assert not allow_shrink
            assert self._pointers() == before, "a refused rebuild moved a pointer"
            self.seen["refused_rebuilds"] += 1
            return
        except RecsysError as error:
            # Revocations may leave no pool track anyone listened to: then there is nothing
            # to train, and the run must fail changing nothing. Any other failure is a defect.
            if "no listens of pool tracks survived" not in str(error):
                raise AssertionError(
                    f"a rebuild with {kind or 'nothing'} injected at {stage} failed: {error}"
                ) from error
            assert self._pointers() == before, "a failed rebuild moved a pointer"
            self.seen["failed_rebuilds"] += 1
            return
        assert calls == ([stage] if stage else []), f"the {kind} was not injected at {stage}"
        self.record.pool_built(seen_by_run["registry"])
        self.seen["rebuilds"] += 1
        if stage:
            self.seen[f"injected:{kind}"] += 1

    # -- what every reader sees --------------------------------------------------------

    def _served(
        self,
        where: str,
        tracks: list[dict[str, Any]],
        *,
        blocked: frozenset[tuple[str, str]] | set[tuple[str, str]] | None,
        personal: bool = True,
        seed_artist: str | None = None,
    ) -> None:
        record = self.record
        for track in tracks:
            track_id = track["track_id"]
            why = record.why_not_servable(track_id)
            assert why is None, f"{where}: served {track_id}, which is {why}"
            reason = track["reason"]
            assert personal or reason["type"] not in PERSONAL_REASONS, (
                f"{where}: a personal reason ({reason}) for a listener who must get none"
            )
            if blocked is None:
                continue
            artists = record.catalog[track_id].artists
            via = reason["via"].get("artist_id")
            if reason["type"] in LINK_REASONS and via:
                for artist in artists:
                    assert artist == via or pair(via, artist) not in blocked, (
                        f"{where}: {track_id} is there because of {via}, blocked with {artist}"
                    )
            if seed_artist is not None:
                for artist in artists:
                    assert artist == seed_artist or pair(seed_artist, artist) not in blocked, (
                        f"{where}: {track_id} by {artist}, blocked with the seed"
                    )
        self.seen["tracks"] += len(tracks)

    @staticmethod
    def _tracks(mixes: dict[str, Any], radar: dict[str, Any]) -> list[dict[str, Any]]:
        return [t for m in mixes["mixes"] for t in m["tracks"]] + list(radar["tracks"])

    @invariant()
    def every_output_path_keeps_the_record(self) -> None:
        if not hasattr(self, "conn"):
            return
        engine = load_engine(self.conn, self.settings.state_dir, self.settings, self.clock)
        store = open_store(self.settings)
        try:
            self._check_user_reads(engine, store)
            self._check_radios_and_similar(engine)
            self._check_erasures(engine, store)
            self._check_store_withheld_set(engine, store)
            if self.stale is not None:
                self._check_stale_reader(self.stale, store)
        finally:
            store.close()
        self.stale = engine

    def _check_user_reads(self, engine: Engine, store: MixStore) -> None:
        record, template = self.record, self.template
        for user in (*template.listeners, template.optout, NEW_USER):
            erased = user in record.erased
            payload = store.read_user(user)
            assert not (erased and payload is not None), f"erased {user} has a stored payload"
            exclusions = engine.exclusions.get(user, NO_EXCLUSIONS)
            mixes = read_user_mixes(engine, store, user, exclusions)
            radar = read_release_radar(engine, store, user, exclusions)
            tracks = self._tracks(mixes, radar)
            # A block counts at the next read, stored mixes included (a reason across a pair
            # blocked since they were generated is removed by the final filter).
            stored = payload is not None
            self._served(
                f"{'stored' if stored else 'on-the-spot'} read of {user}",
                tracks,
                blocked=record.blocked,
                personal=not erased and user not in (template.optout, NEW_USER),
            )
            if stored and any(t["reason"]["type"] == "history" for t in tracks):
                self.seen["personalised_stored_reads"] += 1
        # On-the-spot generation for a known listener (no stored payload consulted).
        for user in template.listeners[:1] + template.second_chunk[-1:]:
            tracks = self._tracks(user_mixes(engine, user), {"tracks": []})
            tracks += release_radar(engine, user)["tracks"]
            self._served(
                f"on-the-spot mixes of {user}",
                tracks,
                blocked=record.blocked,
                personal=user not in record.erased,
            )
            self.seen["on_the_spot_reads"] += 1

    def _check_radios_and_similar(self, engine: Engine) -> None:
        record, template = self.record, self.template
        listener = template.listeners[0]
        personal = listener not in record.erased
        seeds = [*template.radio_artists, *([self.touched_artist] if self.touched_artist else [])]
        for seed in seeds:
            allowed = record.subject_allowed(("artist", seed))
            try:
                radio = artist_radio(engine, seed, listener, None)
            except NotFoundError:
                radio = None
            assert allowed or radio is None, (
                f"the artist radio of {seed} answered, and {seed} is untrusted"
                f" ({'revoked' if ('artist', seed) in record.admitted else 'not admitted'})"
            )
            if radio is not None:
                self._served(
                    f"artist radio of {seed}",
                    radio["tracks"],
                    blocked=record.blocked,
                    personal=personal,
                    seed_artist=seed,
                )
                self.seen["radios"] += 1
            try:
                answer = similar(engine, seed, 20)
            except NotFoundError:
                answer = None
            assert allowed or answer is None, f"similar artists of untrusted {seed} answered"
            for entry in answer["similar"] if answer else ():
                other = entry["artist_id"]
                assert record.subject_allowed(("artist", other)), (
                    f"similar to {seed}: {other}, which is untrusted (revoked or not admitted)"
                )
                assert pair(seed, other) not in record.blocked, (
                    f"similar to {seed}: {other}, a blocked pair"
                )
                self.seen["similar_artists"] += 1
        graph = engine.context.graph
        for a, b in record.blocked:
            assert not graph.has_edge(a, b), f"the blocked pair {a}, {b} is an edge of the graph"
        for a, b in record.similar_links:
            if a in graph and b in graph:
                assert graph.has_edge(a, b), f"the curated link {a}, {b} is not in the graph"
        radio_tracks = [
            *template.radio_tracks,
            *([self.touched_track] if self.touched_track else []),
        ]
        for seed in radio_tracks:
            why = record.why_not_servable(seed)
            try:
                radio = track_radio(engine, seed, listener, None)
            except NotFoundError:
                radio = None
            assert why is None or radio is None, f"the track radio of {seed} answered ({why})"
            if radio is not None:
                self._served(
                    f"track radio of {seed}",
                    radio["tracks"],
                    blocked=record.blocked,
                    personal=personal,
                )
                self.seen["radios"] += 1

    def _check_erasures(self, engine: Engine, store: MixStore) -> None:
        if not self.record.erased:
            return
        model = load_current_model(self.conn, self.settings.state_dir)
        version = str(get_pointer(self.conn, MODEL_POINTER))
        history = load_history(self.settings.state_dir / MODELS_DIR / version)
        for user in sorted(self.record.erased):
            assert store.read_user(user) is None, f"erased {user} has a stored payload"
            assert model.users.index_of(user) is None, f"erased {user} has model factors"
            assert history.users.index_of(user) is None, f"erased {user} has a history"
            assert not engine.profile(user).personalised, f"erased {user} is personalised"
            for table in ("user_optouts", "user_exclusions", "user_follows"):
                rows = self.conn.execute(f"SELECT COUNT(*) FROM {table} WHERE user_id = ?", (user,))
                assert rows.fetchone()[0] == 0, f"erased {user} has rows in {table}"
            self.seen["erased_checked"] += 1

    def _check_store_withheld_set(self, engine: Engine, store: MixStore) -> None:
        """Stored reads drop what the store's withheld set names (a reader whose engine has
        not caught up relies on it): it holds every pool track the record withholds now."""
        withheld = self.record.withheld_pool_tracks(engine.context.catalog.tracks)
        missing = withheld - store.excluded_among(sorted(withheld))
        assert not missing, (
            f"the store's withheld set lacks {sorted(missing)[:5]}"
            f" ({self.record.why_not_servable(min(missing))}, ...): a flag or revocation lost"
        )
        self.seen["withheld_checked"] += len(withheld)

    def _check_stale_reader(self, stale: Engine, store: MixStore) -> None:
        """Stored reads through the engine loaded before the last step."""
        for user in (*self.template.listeners, self.template.optout):
            if user in self.record.erased or store.read_user(user) is None:
                continue
            exclusions = stale.exclusions.get(user, NO_EXCLUSIONS)
            tracks = self._tracks(
                read_user_mixes(stale, store, user, exclusions),
                read_release_radar(stale, store, user, exclusions),
            )
            self._served(f"stored read of {user} by a lagging reader", tracks, blocked=None)
            self.seen["stale_reads"] += 1


def _run_machine(template: Template, **overrides: Any) -> Counter[str]:
    GateMachine.template = template
    GateMachine.seen = Counter()
    runner = GateMachine.TestCase
    runner.settings = settings(
        **{
            "max_examples": 40,
            "stateful_step_count": 10,
            "deadline": None,
            "derandomize": True,
            "database": None,
            "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
            **overrides,
        }
    )
    runner("runTest").runTest()
    return GateMachine.seen


@pytest.mark.slow
def test_the_gate_holds_in_any_sequence_of_staff_actions_and_rebuilds(
    template: Template,
) -> None:
    seen = _run_machine(template)
    # The positive control: a machine that serves nothing (or checks nothing) cannot pass.
    assert seen["tracks"] > 0, seen
    assert seen["personalised_stored_reads"] > 0, seen
    assert seen["on_the_spot_reads"] > 0, seen
    assert seen["radios"] > 0 and seen["similar_artists"] > 0, seen
    assert seen["stale_reads"] > 0 and seen["withheld_checked"] > 0, seen
    assert seen["erased_checked"] > 0, seen
    assert seen["review:awaiting_second_approval"] > 0 and seen["review:refused"] > 0, seen
    for kind in ("erasure", "revocation", "flag"):
        assert seen[f"injected:{kind}"] > 0, seen


# -- the defects the fixes of issue 13 removed, put back one at a time ---------------------


def _switch_ignores_new_tombstones(monkeypatch: pytest.MonkeyPatch) -> None:
    """The switch sees only the tombstones of the run's start."""
    publish, current = recsys.jobs.publish.publish_release, recsys.jobs.publish.current_tombstones
    at_start: list[frozenset[str]] = []

    def publish_remembering(conn: Any, state_dir: Path, release: Any, *a: Any, **k: Any) -> Any:
        at_start[:] = [release.tombstones]
        return publish(conn, state_dir, release, *a, **k)

    def as_at_start(conn: Any) -> Tombstones:
        now = current(conn)
        return Tombstones(now.key, at_start[0]) if at_start else now

    monkeypatch.setattr(recsys.jobs.rebuild, "publish_release", publish_remembering)
    monkeypatch.setattr(recsys.jobs.publish, "current_tombstones", as_at_start)


def _revocations_not_withheld(monkeypatch: pytest.MonkeyPatch) -> None:
    """A revocation waits for the next pool build."""
    monkeypatch.setattr("pool.state.revoked_tracks", lambda *args: {})


def _switch_publishes_load_time_exclusions(monkeypatch: pytest.MonkeyPatch) -> None:
    """The switch gives the store what was withheld when the run loaded its engine."""
    load = recsys.jobs.rebuild.load_engine
    at_load: dict[str, Any] = {}

    def load_and_remember(*args: Any, **kwargs: Any) -> Engine:
        engine = load(*args, **kwargs)
        at_load["exclusions"] = engine.gate.exclusions
        return engine

    real = recsys.jobs.publish.load_serving_exclusions

    def stale(*args: Any, **kwargs: Any) -> Any:
        return at_load.get("exclusions") or real(*args, **kwargs)

    monkeypatch.setattr(recsys.jobs.rebuild, "load_engine", load_and_remember)
    monkeypatch.setattr(recsys.jobs.publish, "load_serving_exclusions", stale)


def _one_curator_clears_a_high_score(monkeypatch: pytest.MonkeyPatch) -> None:
    """A clear of a track the detector scored at or above the threshold needs one curator."""
    top = pool.state._top_score

    def no_detector(conn: Any, track_id: str, source: str) -> float | None:
        return None if source == "detector" else top(conn, track_id, source)

    monkeypatch.setattr(pool.state, "_top_score", no_detector)


DEFECTS = {
    "switch-ignores-new-tombstones": (_switch_ignores_new_tombstones, "erased|erasure"),
    "revocations-not-withheld": (_revocations_not_withheld, "untrusted|revoked"),
    "switch-publishes-load-time-exclusions": (
        _switch_publishes_load_time_exclusions,
        "withheld set|lagging reader",
    ),
    "one-curator-clears-a-high-score": (_one_curator_clears_a_high_score, "four-eyes|flagged"),
}


@pytest.mark.slow
@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_the_machine_finds_each_defect(
    template: Template, monkeypatch: pytest.MonkeyPatch, defect: str
) -> None:
    put_back, symptom = DEFECTS[defect]
    put_back(monkeypatch)
    with pytest.raises(AssertionError, match=symptom):
        # No shrinking: the first failing sequence is proof enough, and shrinking costs.
        _run_machine(template, phases=[Phase.generate], report_multiple_bugs=False)
