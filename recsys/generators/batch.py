"""Personal mixes and Release Radar for a batch of listeners: the one implementation.

The compiled generators (``batch_kernel``) make them for a chunk of listeners at a time in
a rebuild, and for a batch of one on request (as ``implicit``'s ``recommend`` treats one user
as a batch of one). Listeners without personalisation (strangers, opt-outs, the erased) go
through the same code with the pool's popular artists as anchors. Results come back as rows
(``CompiledChunk``), which the payload encoder writes straight into stored payloads, or as
plain ``Mix`` values (``output``), which pass the final filter like any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from recsys.domain.mix import Mix, MixTrack, Reason
from recsys.generators.batch_arrays import GenerationArrays, csr
from recsys.generators.batch_kernel import (
    MIX_ANCHOR1,
    MIX_ANCHOR2,
    MIX_ANCHORS,
    MIX_POPULAR,
    MIX_START,
    MIX_STOP,
    MIX_USER,
    NEIGHBOUR,
    RADAR_ARTIST,
    RADAR_CLOSENESS,
    RADAR_TRACK,
    RADAR_USER,
    RADAR_VIA,
    SLOT,
    TRACK,
    VIA,
    Listeners,
    Mixing,
    admit_in_order,
    generate_chunk,
    mix_workspace,
    part_members,
    reason_ids,
    users_excluding,
)
from recsys.generators.context import GenerationContext, Listener, UserProfile, anonymous
from recsys.generators.result import make_mix
from recsys.listening.history import ListeningHistory

_EPOCH = date(1970, 1, 1)
Ints = npt.NDArray[np.int64]
# What ``run`` takes of a listener: a ``Listener``, or their whole ``UserProfile``.
ChunkUser = Listener | UserProfile
RADAR_TITLE = "Release Radar"


def popular_reason(artist_id: str) -> Reason:
    """Why a track of a popular artist is in a non-personalised mix or radar."""
    return Reason("seed", {"artist_id": artist_id, "basis": "popular in the pool"})


def mix_title(index: int, names: Sequence[str]) -> str:
    """The title of mix number ``index`` around one or two anchors (by ``names``)."""
    if len(names) == 1:
        return f"Mix {index}: {names[0]} and more"
    return f"Mix {index}: {names[0]}, {names[1]} and more"


# Fields of the scratch records (``_records``), each 8 bytes: the marks of an artist that
# the graph walk and the discovery ranking read for every neighbour (64 bytes: one cache
# line), the artist's counts in the current mix, and the marks of a track.
_HOT_ARTIST_MARKS = (
    ("value_stamp", np.int64),
    ("value", np.float64),
    ("played", np.int64),
    ("excluded", np.int64),
    ("anchor", np.int64),
    ("anchor_weight", np.float64),
    ("candidate", np.int64),
    ("listener_value", np.float64),
)
_ARTIST_COUNTS = (
    ("counted", np.int64),
    ("tracks", np.int64),
    ("discoveries", np.int64),
    ("anchor_rank", np.int64),
)
_TRACK_MARKS = (
    ("seen", np.int64),
    ("recent", np.int64),
    ("played", np.int64),
    ("excluded", np.int64),
)
_CACHE_LINE = 64


def _records(count: int, fields: Sequence[tuple[str, type]]) -> np.ndarray:
    """``count`` zeroed records of ``fields``, the first starting on a cache line, so that
    a record of 64 bytes is one line. Its fields (``records[name]``) are strided views that
    the compiled generators index like any array."""
    dtype = np.dtype(list(fields))
    raw = np.zeros(count * dtype.itemsize + _CACHE_LINE, np.uint8)
    start = -raw.ctypes.data % _CACHE_LINE
    return raw[start : start + count * dtype.itemsize].view(dtype)


class Scratch(NamedTuple):
    """The arrays the compiled generators mark as they go, made once per process and reused
    for every listener (a stamp per listener or per mix says which marks are current, so
    nothing is cleared between them). A named tuple: numba reads its fields by name at no
    cost, where a plain tuple was read by position."""

    seen_track: npt.NDArray[np.int64]  # per track: the mix stamp of the mix holding it
    seen_recording: npt.NDArray[np.int64]  # per recording (ISRC): the mix stamp, likewise
    recent_track: npt.NDArray[np.int64]  # per track: the user stamp if played recently
    played_track: npt.NDArray[np.int64]  # per track: the user stamp if ever played
    played_artist: npt.NDArray[np.int64]  # per artist: the user stamp if ever played
    counted_artist: npt.NDArray[np.int64]  # per artist: the mix stamp once counted in it
    tracks_per_artist: npt.NDArray[np.int64]  # per artist: tracks in the current mix
    discoveries_per_artist: npt.NDArray[np.int64]  # per artist: discovery tracks in it
    artist_value: npt.NDArray[np.float64]  # per artist: a score, affinity or closeness
    value_stamp: npt.NDArray[np.int64]  # per artist: the stamp its value was set under
    anchor_mark: npt.NDArray[np.int64]  # per artist: the mix stamp if an anchor of it
    anchor_weight: npt.NDArray[np.float64]  # per artist: its weight as an anchor
    anchor_rank: npt.NDArray[np.int64]  # per artist: its place in the anchors' order
    excluded_track: npt.NDArray[np.int64]  # per track: the user stamp if they excluded it
    excluded_artist: npt.NDArray[np.int64]  # per artist: the user stamp if excluded
    listener_value: npt.NDArray[np.float64]  # per artist: the listener's own score
    tag_value: npt.NDArray[np.float64]  # per tag: its weight in the listener's tag profile
    tag_stamp: npt.NDArray[np.int64]  # per tag: the user stamp if in their profile
    candidate_stamp: npt.NDArray[np.int64]  # per artist: the stamp once a listener's candidate
    candidates: npt.NDArray[np.int64]  # a listener's candidates across their mixes, listed
    style_value: npt.NDArray[np.float64]  # per tag: its weight summed over a mix's anchors
    style_stamp: npt.NDArray[np.int64]  # per tag: the mix stamp it was summed under


@dataclass(frozen=True, slots=True)
class UserOutput:
    """One listener's mixes and Release Radar (before the final filter), and how many notes
    the generators made (shortfalls: a mix too short to keep, a history too thin, an empty
    radar)."""

    mixes: tuple[Mix, ...]
    release_radar: Mix
    notes: int


@dataclass(frozen=True)
class CompiledChunk:
    """What ``generate_chunk`` made for a chunk of users: rows of mixes, of mix tracks and of
    radar tracks (columns named in ``batch_kernel``), and each user's count of notes."""

    users: Sequence[ChunkUser]
    listeners: Listeners
    mixes: Ints
    tracks: Ints
    notes: Ints
    radar: Ints
    # A number per mix track and per radar track naming its reason (``reason_ids``).
    track_reasons: Ints
    radar_reasons: Ints
    # Per user, the distinct tracks and artists of their mixes and of their radar
    # (``part_members``): (indptr, numbers) each.
    members: tuple[tuple[Ints, Ints], ...]

    def excluding(self) -> npt.NDArray[np.bool_]:
        """Per user, whether their output holds something they excluded (the generators
        leave it out; the final filter would remove it)."""
        return users_excluding(self.members, self.listeners)  # type: ignore[no-any-return]

    def members_of(self, position: int, part: int) -> list[int]:
        """Part 0: mix tracks, 1: mix artists, 2: radar tracks, 3: radar artists."""
        indptr, values = self.members[part]
        return values[indptr[position] : indptr[position + 1]].tolist()  # type: ignore[no-any-return]

    @cached_property
    def bounds(self) -> tuple[Ints, Ints]:
        """Where each user's mix rows and radar rows start (rows come in user order)."""
        every = np.arange(len(self.users) + 1)
        return (
            np.searchsorted(self.mixes[:, MIX_USER], every),
            np.searchsorted(self.radar[:, RADAR_USER], every),
        )

    @cached_property
    def _bounds(self) -> tuple[list[int], list[int]]:
        mixes, radar = self.bounds
        return mixes.tolist(), radar.tolist()

    def rows_of(self, position: int) -> tuple[Ints, Ints]:
        """The mix rows and radar rows of the chunk's ``position``-th user."""
        mixes, radar = self._bounds
        return (
            self.mixes[mixes[position] : mixes[position + 1]],
            self.radar[radar[position] : radar[position + 1]],
        )

    def users_with(self, tracks: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
        """Per user, whether any of their mix or radar tracks is one of ``tracks`` (a mask
        over pool numbers)."""
        found = np.zeros(len(self.users), np.bool_)
        lengths = self.mixes[:, MIX_STOP] - self.mixes[:, MIX_START]
        track_users = np.repeat(self.mixes[:, MIX_USER], lengths)
        found[track_users[tracks[self.tracks[:, TRACK]]]] = True
        found[self.radar[tracks[self.radar[:, RADAR_TRACK]], RADAR_USER]] = True
        return found


class BatchGenerator:
    """Generates listeners a chunk at a time (or one at a time, on request). Its scratch and
    work arrays (a few per track and per artist) are made on first use and reused by every
    call: forked workers each write their own copy, and callers on threads must not share
    one generator without a lock (``Engine`` holds one)."""

    def __init__(
        self, ctx: GenerationContext, arrays: GenerationArrays, history: ListeningHistory
    ) -> None:
        self._ctx = ctx
        self._arrays = arrays
        self._history = history
        self._mixing: Mixing | None = None
        self._state = np.zeros(2, np.int64)
        settings = ctx.settings
        recent_from = ctx.today - timedelta(days=settings.recent_days)
        self._cutoff = (recent_from - _EPOCH).days
        cap = settings.max_tracks_per_artist
        self._radar_sizes = (
            cap,
            settings.release_radar_tracks_per_release,
            settings.release_radar_max_tracks,
        )

    def _mixing_arrays(self) -> Mixing:
        if self._mixing is None:
            arrays, settings = self._arrays, self._ctx.settings
            familiar = round(settings.mix_target_tracks * settings.familiar_share)
            cap = settings.max_tracks_per_artist
            tracks, artists = len(arrays.track_ids), len(arrays.artist_ids)

            # The marks a listener's inner loops read together share a record: all of an
            # artist's hot marks lie on one cache line, which the graph walk prefetches a
            # few neighbours ahead (``_neighbours``) with one request.
            hot = _records(artists, _HOT_ARTIST_MARKS)
            counts = _records(artists, _ARTIST_COUNTS)
            track = _records(tracks, _TRACK_MARKS)
            scratch = Scratch(
                seen_track=track["seen"],
                seen_recording=np.zeros(max(arrays.recordings, 1), np.int64),
                recent_track=track["recent"],
                played_track=track["played"],
                played_artist=hot["played"],
                counted_artist=counts["counted"],
                tracks_per_artist=counts["tracks"],
                discoveries_per_artist=counts["discoveries"],
                artist_value=hot["value"],
                value_stamp=hot["value_stamp"],
                anchor_mark=hot["anchor"],
                anchor_weight=hot["anchor_weight"],
                anchor_rank=counts["anchor_rank"],
                excluded_track=track["excluded"],
                excluded_artist=hot["excluded"],
                listener_value=hot["listener_value"],
                tag_value=np.zeros(max(arrays.tags, 1), np.float64),
                tag_stamp=np.zeros(max(arrays.tags, 1), np.int64),
                candidate_stamp=hot["candidate"],
                candidates=np.zeros(artists, np.int64),
                style_value=np.zeros(max(arrays.tags, 1), np.float64),
                style_stamp=np.zeros(max(arrays.tags, 1), np.int64),
            )
            self._mixing = Mixing(
                catalog=arrays.catalog,
                g=arrays.graph,
                scenes=arrays.scenes,
                blocked=(*arrays.blocked, np.diff(arrays.blocked[0]) > 0),
                sizes=(
                    settings.mix_target_tracks,
                    familiar,
                    cap,
                    settings.max_discovery_tracks_per_artist,
                    settings.mix_max_tracks,
                ),
                min_share=settings.min_familiar_share,
                artist_factors=arrays.artist_factors,
                artist_tags=arrays.artist_tags,
                tag_blend=self._ctx.model.settings.tag_blend if self._ctx.model else 0.0,
                graph_weight=settings.discovery_graph_weight,
                competition=settings.discovery_candidates_per_slot,
                limits=(
                    settings.top_artists,
                    -(-familiar // cap),
                    settings.max_mixes,
                    settings.mix_min_tracks,
                    settings.mix_familiar_artists,
                ),
                scratch=scratch,
                work=mix_workspace(settings.top_artists, settings.mix_target_tracks, artists),
            )
        return self._mixing

    @property
    def context(self) -> GenerationContext:
        return self._ctx

    def at(self, ctx: GenerationContext) -> BatchGenerator:
        """This generator for ``ctx``, the same context at another moment of the same day
        (what an on-request answer is generated at): the arrays, scratch and stamps shared."""
        if ctx is self._ctx:
            return self
        if ctx.today != self._ctx.today:
            raise ValueError("a generator's arrays hold one day's release window")
        self._mixing_arrays()  # made once, here, for every copy to share
        copy = object.__new__(BatchGenerator)
        copy.__dict__.update(self.__dict__)
        copy._ctx = ctx
        return copy

    @property
    def arrays(self) -> GenerationArrays:
        return self._arrays

    def generate(self, users: Sequence[ChunkUser]) -> list[UserOutput]:
        """Each user's output as ``Mix`` values, in the order given."""
        chunk = self.run(users)
        return [self.output(chunk, position) for position in range(len(users))]

    def _listeners(self, users: Sequence[ChunkUser]) -> Listeners:
        """The chunk's listeners as ``Listeners``: the history rows of the personalised (a
        personalised listener the history does not know has none), nothing personal of the
        others but their exclusions."""
        history, arrays = self._history, self._arrays
        personalised = np.fromiter((u.personalised for u in users), np.bool_, len(users))
        found = [history.users.index_of(u.user_id) if u.personalised else None for u in users]
        known = np.fromiter((row is not None for row in found), np.bool_, len(users))
        index_rows = np.fromiter((row or 0 for row in found), np.int64, len(users))
        # An empty history (no model trained yet) has no row 0: its one pointer serves all.
        ends = np.minimum(index_rows + 1, len(history.indptr) - 1)
        starts, stops = history.indptr[index_rows], history.indptr[ends]
        lengths = np.where(known, stops - starts, 0)
        h_ptr = np.zeros(len(users) + 1, np.int64)
        np.cumsum(lengths, out=h_ptr[1:])
        index = np.repeat(starts - h_ptr[:-1], lengths) + np.arange(int(h_ptr[-1]))
        factors, factored, tags = self._factors(users, personalised)
        none = ()  # most listeners exclude nothing
        tracks = [
            arrays.tracks_of(u.exclusions.tracks) if u.exclusions.tracks else none for u in users
        ]
        follows = [u.follows if p else none for u, p in zip(users, personalised, strict=True)]
        return Listeners(
            h_ptr,
            arrays.history_tracks[history.track[index]],
            history.plays[index],
            history.heard[index],
            history.last_day[index],
            *arrays.artists_csr(follows),
            *arrays.artists_csr([u.exclusions.artists for u in users]),
            *csr(tracks),
            personalised,
            factors,
            factored,
            *tags,
        )

    def _factors(
        self, users: Sequence[ChunkUser], personalised: npt.NDArray[np.bool_]
    ) -> tuple[
        npt.NDArray[np.float32],
        npt.NDArray[np.bool_],
        tuple[Ints, npt.NDArray[np.int32], npt.NDArray[np.float32]],
    ]:
        """The listeners' factors (a row each), whether they have any, and their tag profiles
        (CSR: empty rows for those without factors), when discovery slots are ranked by the
        listener's own scores; otherwise no factor columns and no tags."""
        model = self._ctx.model
        no_tags = (
            np.zeros(len(users) + 1, np.int64),
            np.zeros(0, np.int32),
            np.zeros(0, np.float32),
        )
        if self._ctx.settings.discovery_ranking != "listener" or model is None:
            return np.zeros((len(users), 0), np.float32), np.zeros(len(users), np.bool_), no_tags
        rows = [
            model.users.index_of(u.user_id) if p else None
            for u, p in zip(users, personalised.tolist(), strict=True)
        ]
        factored = np.fromiter((row is not None for row in rows), np.bool_, len(users))
        index = np.fromiter((row or 0 for row in rows), np.int64, len(users))
        factors = np.ascontiguousarray(model.user_factors[index], np.float32)
        profiles = model.user_tag_profiles
        if profiles.shape[1] == 0:
            return factors, factored, no_tags
        tags = profiles[index[factored]]
        lengths = np.zeros(len(users), np.int64)
        lengths[factored] = np.diff(tags.indptr)
        ut_ptr = np.zeros(len(users) + 1, np.int64)
        np.cumsum(lengths, out=ut_ptr[1:])
        return (
            factors,
            factored,
            (ut_ptr, tags.indices.astype(np.int32), tags.data.astype(np.float32)),
        )

    def admit_in_order(
        self, user: ChunkUser | None, tracks: Sequence[MixTrack], seed: str, cap: int, limit: int
    ) -> list[MixTrack]:
        """``tracks`` (drawn elsewhere: a radio's walk) held to the mixes' repetition rules,
        stated once in ``batch_kernel._admit``: in order, without a duplicate or a second
        version of a recording, at most ``cap`` per artist, nothing ``user`` excluded, no
        artist blocked with the one a track's reason names or with ``seed``; then spread so
        that no artist plays twice in a row, the first ``limit``."""
        arrays = self._arrays
        numbers = np.fromiter(
            (arrays.track_number(t.track_id) for t in tracks), np.int64, len(tracks)
        )
        vias = np.fromiter(
            (arrays.artist_number.get(t.reason.via.get("artist_id", ""), -1) for t in tracks),
            np.int64,
            len(tracks),
        )
        listeners = self._listeners([user if user is not None else anonymous("")])
        kept = admit_in_order(
            listeners,
            numbers,
            vias,
            arrays.artist_number.get(seed, -1),
            cap,
            limit,
            self._mixing_arrays(),
            self._state,
        )
        return [tracks[i] for i in kept.tolist()]

    def warm_up(self) -> CompiledChunk:
        """Compile the generators now (or load them from numba's cache): a rebuild does it
        once before forking, not once in every worker. Returns their chunk of no listener."""
        self.admit_in_order(None, [], "", 1, 1)
        return self.run([])

    def run(self, users: Sequence[ChunkUser]) -> CompiledChunk:
        """The compiled generators over ``users``."""
        arrays = self._arrays
        listeners = self._listeners(users)
        mixes, tracks, notes, radar = generate_chunk(
            listeners,
            self._cutoff,
            self._mixing_arrays(),
            arrays.popular,
            arrays.releases,
            self._radar_sizes,
            self._state,
        )
        return self._chunk(users, listeners, (mixes, tracks, notes, radar))

    def empty_chunk(self) -> CompiledChunk:
        """The chunk of no listener, made without ``generate_chunk`` (so that the payload
        assembly can be compiled while the generators are)."""
        rows = (
            np.empty((0, MIX_POPULAR + 1), np.int64),
            np.empty((0, SLOT + 1), np.int64),
            np.zeros(0, np.int64),
            np.empty((0, RADAR_VIA + 1), np.int64),
        )
        return self._chunk([], self._listeners([]), rows)

    def _chunk(
        self, users: Sequence[ChunkUser], listeners: Listeners, rows: tuple[Ints, Ints, Ints, Ints]
    ) -> CompiledChunk:
        """``generate_chunk``'s rows with each track's reason number and each user's members."""
        mixes, tracks, notes, radar = rows
        g_ptr, g_nbr, _ = self._arrays.graph
        track_reasons, radar_reasons = reason_ids(mixes, tracks, radar, listeners, g_ptr, g_nbr)
        t_ptr, t_art = self._arrays.catalog[0], self._arrays.catalog[1]
        members = part_members(mixes, tracks, radar, len(users), t_ptr, t_art)
        return CompiledChunk(
            users, listeners, mixes, tracks, notes, radar, track_reasons, radar_reasons, members
        )

    def output(self, chunk: CompiledChunk, position: int) -> UserOutput:
        """The chunk's ``position``-th user as ``Mix`` values."""
        user = chunk.users[position]
        mix_rows, radar_rows = chunk.rows_of(position)
        built = tuple(self._mix(user, i, row, chunk.tracks) for i, row in enumerate(mix_rows, 1))
        radar_mix = self._radar(user, radar_rows)
        return UserOutput(built, radar_mix, int(chunk.notes[position]) + int(not radar_mix.tracks))

    def _mix(self, user: ChunkUser, index: int, row: Ints, tracks: Ints) -> Mix:
        ctx, arrays = self._ctx, self._arrays
        artist_ids, track_ids, pool = arrays.artist_ids, arrays.track_ids, ctx.catalog.tracks
        anchors = [artist_ids[int(row[MIX_ANCHOR1])]]
        if int(row[MIX_ANCHORS]) > 1:
            anchors.append(artist_ids[int(row[MIX_ANCHOR2])])
        popular = bool(row[MIX_POPULAR])
        reasons: dict[int, Reason] = {}
        picked = []
        for track_row in tracks[int(row[MIX_START]) : int(row[MIX_STOP])]:
            track = pool[track_ids[int(track_row[TRACK])]]
            via = int(track_row[VIA])
            if track_row[SLOT]:
                reason = ctx.edge_reason(artist_ids[via], artist_ids[int(track_row[NEIGHBOUR])])
                picked.append(
                    MixTrack(track.track_id, track.artist_ids, track.title, reason, "discovery")
                )
                continue
            reason = reasons.get(via)
            if reason is None:
                anchor = artist_ids[via]
                if popular:
                    reason = popular_reason(anchor)
                else:
                    basis = "followed_artist" if anchor in user.follows else "history"
                    reason = Reason(basis, {"artist_id": anchor})
                reasons[via] = reason
            picked.append(MixTrack(track.track_id, track.artist_ids, track.title, reason))
        title = mix_title(index, [ctx.catalog.name(a) for a in anchors])
        return make_mix(ctx, "mix", f"{user.user_id}:{index}", title, picked)

    def _radar(self, user: ChunkUser, rows: Ints) -> Mix:
        ctx, arrays = self._ctx, self._arrays
        artist_ids, track_ids, pool = arrays.artist_ids, arrays.track_ids, ctx.catalog.tracks
        picked = []
        for row in rows:
            track = pool[track_ids[int(row[RADAR_TRACK])]]
            artist = artist_ids[int(row[RADAR_ARTIST])]
            closeness = int(row[RADAR_CLOSENESS])
            if closeness == 0:
                reason = Reason("followed_artist", {"artist_id": artist})
            elif closeness == 1:
                reason = (
                    Reason("history", {"artist_id": artist})
                    if user.personalised
                    else popular_reason(artist)
                )
            else:
                via = int(row[RADAR_VIA])
                reason = ctx.edge_reason(artist_ids[via] if via >= 0 else "", artist)
            picked.append(MixTrack(track.track_id, track.artist_ids, track.title, reason))
        return make_mix(ctx, "release_radar", user.user_id, RADAR_TITLE, picked)
