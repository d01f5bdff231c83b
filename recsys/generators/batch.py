"""Personal mixes and Release Radar for many listeners at once: the rebuild's generator.

Personalised listeners with a history (nearly all) go through the compiled generators
(``batch_kernel``) a chunk at a time; everyone else through the Python generators, whose
output for them is the same for all and made once. Both give the same mixes: the compiled
ones are the Python ones on integer arrays, and a test holds them to it. Results are plain
``Mix`` values, so the final filter and the store's encoding are the same code either way.
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
from recsys.generators import personal_mixes, release_radar
from recsys.generators.batch_arrays import GenerationArrays, csr
from recsys.generators.batch_kernel import (
    MIX_ANCHOR1,
    MIX_ANCHOR2,
    MIX_ANCHORS,
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
    generate_chunk,
    part_members,
    reason_ids,
    users_excluding,
)
from recsys.generators.context import GenerationContext, Listener, UserProfile
from recsys.generators.result import make_mix
from recsys.listening.history import ListeningHistory

_EPOCH = date(1970, 1, 1)
Ints = npt.NDArray[np.int64]
# What ``run`` takes of a listener: a ``Listener``, or their whole ``UserProfile``.
ChunkUser = Listener | UserProfile


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


@dataclass(frozen=True, slots=True)
class UserOutput:
    """One listener's mixes and Release Radar (before the final filter), and how many notes
    the generators made (shortfalls, as ``GenerationResult.notes``)."""

    mixes: tuple[Mix, ...]
    release_radar: Mix
    notes: int


@dataclass(frozen=True)
class CompiledChunk:
    """What ``generate_chunk`` made for a chunk of users: rows of mixes, of mix tracks and of
    radar tracks (columns named in ``batch_kernel``), and each user's count of notes."""

    users: Sequence[ChunkUser]
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
    # Each user's "don't play this" as numbers: (indptr, artists, indptr, tracks).
    exclusions: tuple[Ints, Ints, Ints, Ints]

    def excluding(self) -> npt.NDArray[np.bool_]:
        """Per user, whether their output holds something they excluded (the generators
        leave it out; the final filter would remove it)."""
        return users_excluding(self.members, self.exclusions)  # type: ignore[no-any-return]

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

    def radar_reasons_of(self, position: int) -> Ints:
        radar = self._bounds[1]
        return self.radar_reasons[radar[position] : radar[position + 1]]

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
    """Generates listeners a chunk at a time. Its scratch arrays (a few per track and per
    artist) are made on first use; forked workers each write their own copy of them."""

    def __init__(
        self, ctx: GenerationContext, arrays: GenerationArrays, history: ListeningHistory
    ) -> None:
        self._ctx = ctx
        self._arrays = arrays
        self._history = history
        self._scratch: Scratch | None = None
        self._state = np.zeros(2, np.int64)
        settings = ctx.settings
        familiar = round(settings.mix_target_tracks * settings.familiar_share)
        cap = settings.max_tracks_per_artist
        self._sizes = (
            settings.mix_target_tracks,
            familiar,
            cap,
            settings.max_discovery_tracks_per_artist,
            settings.mix_max_tracks,
        )
        self._limits = (
            settings.top_artists,
            -(-familiar // cap),
            settings.max_mixes,
            settings.mix_min_tracks,
        )
        self._radar_sizes = (
            cap,
            settings.release_radar_tracks_per_release,
            settings.release_radar_max_tracks,
        )
        recent_from = ctx.today - timedelta(days=settings.recent_days)
        self._cutoff = (recent_from - _EPOCH).days

    def _scratch_arrays(self) -> Scratch:
        if self._scratch is None:
            tracks = len(self._arrays.track_ids)
            artists = len(self._arrays.artist_ids)

            def per_track() -> Ints:
                return np.zeros(tracks, np.int64)

            def per_artist(dtype: type = np.int64) -> npt.NDArray[np.generic]:
                return np.zeros(artists, dtype)

            self._scratch = Scratch(
                seen_track=per_track(),
                seen_recording=np.zeros(max(self._arrays.recordings, 1), np.int64),
                recent_track=per_track(),
                played_track=per_track(),
                played_artist=per_artist(),
                counted_artist=per_artist(),
                tracks_per_artist=per_artist(),
                discoveries_per_artist=per_artist(),
                artist_value=per_artist(np.float64),
                value_stamp=per_artist(),
                anchor_mark=per_artist(),
                anchor_weight=per_artist(np.float64),
                anchor_rank=per_artist(),
                excluded_track=per_track(),
                excluded_artist=per_artist(),
            )
        return self._scratch

    @property
    def context(self) -> GenerationContext:
        return self._ctx

    @property
    def arrays(self) -> GenerationArrays:
        return self._arrays

    def compiles(self, user: UserProfile) -> bool:
        """Whether ``run`` takes this user: personalised, with a history."""
        return bool(
            user.personalised
            and user.history.track_ids
            and self._history.users.index_of(user.user_id) is not None
        )

    def generate(self, users: Sequence[UserProfile]) -> list[UserOutput]:
        """Each user's output, in the order given."""
        compiled = [i for i, user in enumerate(users) if self.compiles(user)]
        chunk = self.run([users[i] for i in compiled])
        outputs: list[UserOutput | None] = [None] * len(users)
        for position, i in enumerate(compiled):
            outputs[i] = self.output(chunk, position)
        return [
            output if output is not None else self.python_output(user)
            for output, user in zip(outputs, users, strict=True)
        ]

    def python_output(self, user: UserProfile) -> UserOutput:
        """A user ``run`` does not take, through the Python generators."""
        mixes = personal_mixes.generate(self._ctx, user)
        radar = release_radar.generate(self._ctx, user)
        return UserOutput(mixes.mixes, radar.mixes[0], len(mixes.notes) + len(radar.notes))

    def _chunk_inputs(
        self, users: Sequence[ChunkUser]
    ) -> tuple[
        tuple[Ints, Ints, Ints, npt.NDArray[np.float32], npt.NDArray[np.int32]],
        tuple[Ints, Ints],
        tuple[Ints, Ints, Ints, Ints],
    ]:
        history = self._history
        rows = np.array([history.users.index_of(u.user_id) for u in users], np.int64)
        starts, stops = history.indptr[rows], history.indptr[rows + 1]
        lengths = stops - starts
        h_ptr = np.zeros(len(users) + 1, np.int64)
        np.cumsum(lengths, out=h_ptr[1:])
        index = np.repeat(starts - h_ptr[:-1], lengths) + np.arange(int(h_ptr[-1]))
        h_trk = self._arrays.history_tracks[history.track[index]]
        arrays, none = self._arrays, ()  # most listeners exclude nothing
        tracks = [
            arrays.tracks_of(u.exclusions.tracks) if u.exclusions.tracks else none for u in users
        ]
        return (
            (h_ptr, h_trk, history.plays[index], history.heard[index], history.last_day[index]),
            arrays.artists_csr([u.follows for u in users]),
            (*arrays.artists_csr([u.exclusions.artists for u in users]), *csr(tracks)),
        )

    def warm_up(self) -> CompiledChunk:
        """Compile the generators now (or load them from numba's cache): a rebuild does it
        once before forking, not once in every worker. Returns their chunk of no listener."""
        return self.run([])

    def run(self, users: Sequence[ChunkUser]) -> CompiledChunk:
        """The compiled generators over ``users`` (each one that ``compiles``)."""
        arrays = self._arrays
        history, follows, exclusions = self._chunk_inputs(users)
        mixes, tracks, notes, radar = generate_chunk(
            history,
            follows,
            exclusions,
            self._cutoff,
            arrays.catalog,
            arrays.graph,
            arrays.scenes,
            arrays.releases,
            arrays.blocked,
            self._sizes,
            self._ctx.settings.min_familiar_share,
            self._limits,
            self._radar_sizes,
            self._scratch_arrays(),
            self._state,
        )
        g_ptr, g_nbr, _ = arrays.graph
        track_reasons, radar_reasons = reason_ids(
            mixes, tracks, radar, follows[0], follows[1], g_ptr, g_nbr
        )
        t_ptr, t_art = arrays.catalog[0], arrays.catalog[1]
        members = part_members(mixes, tracks, radar, len(users), t_ptr, t_art)
        return CompiledChunk(
            users, mixes, tracks, notes, radar, track_reasons, radar_reasons, members, exclusions
        )

    def output(self, chunk: CompiledChunk, position: int) -> UserOutput:
        """The chunk's ``position``-th user as ``Mix`` values."""
        user = chunk.users[position]
        found = int(chunk.notes[position])
        mix_rows, radar_rows = chunk.rows_of(position)
        built = [self._mix(user, i, row, chunk.tracks) for i, row in enumerate(mix_rows, 1)]
        if not built:
            # As ``personal_mixes.generate``: a history too thin for a mix.
            fallback = personal_mixes.generate_non_personalised(self._ctx, user)
            built, found = list(fallback.mixes), found + 1
        radar_mix = self._radar(user, radar_rows)
        return UserOutput(tuple(built), radar_mix, found + int(not radar_mix.tracks))

    def _mix(self, user: ChunkUser, index: int, row: Ints, tracks: Ints) -> Mix:
        ctx, arrays = self._ctx, self._arrays
        artist_ids, track_ids, pool = arrays.artist_ids, arrays.track_ids, ctx.catalog.tracks
        anchors = [artist_ids[int(row[MIX_ANCHOR1])]]
        if int(row[MIX_ANCHORS]) > 1:
            anchors.append(artist_ids[int(row[MIX_ANCHOR2])])
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
                basis = "followed_artist" if anchor in user.follows else "history"
                reason = reasons[via] = Reason(basis, {"artist_id": anchor})
            picked.append(MixTrack(track.track_id, track.artist_ids, track.title, reason))
        return make_mix(
            ctx, "mix", f"{user.user_id}:{index}", personal_mixes.title(index, anchors, ctx), picked
        )

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
                reason = Reason("history", {"artist_id": artist})
            else:
                via = int(row[RADAR_VIA])
                reason = ctx.edge_reason(artist_ids[via] if via >= 0 else "", artist)
            picked.append(MixTrack(track.track_id, track.artist_ids, track.title, reason))
        return make_mix(ctx, "release_radar", user.user_id, release_radar.TITLE, picked)
