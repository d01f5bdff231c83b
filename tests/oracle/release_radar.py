"""The oracle's Release Radar: new releases from the artists a listener follows and plays, then from
their curated and ALS neighbours; newest first within each circle, one or two tracks per
release. Empty but valid when nothing was released lately.
"""

from __future__ import annotations

from typing import NamedTuple

from recsys.domain.mix import MixTrack, Reason
from recsys.generators.context import (
    GenerationContext,
    RecentReleases,
    UserProfile,
)
from recsys.generators.neighbourhood import artist_affinity, strongest_anchor
from recsys.generators.result import GenerationResult, make_mix
from tests.oracle.personal_mixes import listener_scores
from tests.oracle.track_rules import TrackRules, spread_artists

NAME = "release_radar"
TITLE = "Release Radar"


# A circle: how close an artist is to the listener (followed 0, played 1, neighbour 2), and
# either the reason itself or, for a neighbour, the anchors to name the strongest of when one
# of its tracks is taken (most neighbours' releases never make the radar).
_Circle = tuple[int, Reason | None]


def _circles(
    ctx: GenerationContext, user: UserProfile, recent: RecentReleases
) -> tuple[dict[str, _Circle], dict[str, float]]:
    """Artist with a recent release → its circle: followed 0, played 1, their graph
    neighbours 2; for listeners without personalisation, the pool's popular artists 1.
    Returns the circles and the anchors a neighbour's reason is named from."""
    released = recent.by_artist
    circles: dict[str, _Circle] = {}
    if user.personalised:
        for artist in sorted(a for a in user.follows if a in released):
            circles[artist] = (0, Reason("followed_artist", {"artist_id": artist}))
        affinity = artist_affinity(user.history, ctx.catalog)
        top = dict(
            sorted(affinity.items(), key=lambda kv: (-kv[1], kv[0]))[: ctx.settings.top_artists]
        )
        for artist in top:
            if artist in released:
                circles.setdefault(artist, (1, Reason("history", {"artist_id": artist})))
        # Sorted: the first of equally strong anchors names a reason, in every process.
        anchors = top | dict.fromkeys(sorted(user.follows), max(top.values(), default=1.0))
    else:
        popular = ctx.catalog.popular_artists(ctx.settings.cold_start_artists)
        for artist in popular:
            if artist in released:
                circles[artist] = (
                    1,
                    Reason("seed", {"artist_id": artist, "basis": "popular in the pool"}),
                )
        anchors = dict.fromkeys(popular, 1.0)
    # Neighbours with a release: any artist an anchor's edge reaches, but never one a
    # curator blocked with an anchor (as ``neighbours_of``).
    edges = recent.edges_to_released
    reached: set[str] = set()
    for anchor in anchors:
        row = edges.get(anchor)
        if row is not None:
            reached.update(row)
    reached.difference_update(circles)
    reached.difference_update(anchors)
    blocked = ctx.blocked
    for artist in blocked.keys() & reached:
        if not blocked[artist].isdisjoint(anchors):
            reached.discard(artist)
    for artist in reached:
        circles[artist] = (2, None)
    return circles, anchors


def _reason(
    ctx: GenerationContext,
    recent: RecentReleases,
    circle: _Circle,
    artist: str,
    anchors: dict[str, float],
) -> Reason:
    reason = circle[1]
    if reason is not None:
        return reason
    return ctx.edge_reason(strongest_anchor(ctx.weights, anchors, artist), artist)


def generate(ctx: GenerationContext, user: UserProfile) -> GenerationResult:
    """The listener's Release Radar."""
    return _generate(ctx, user)


class _Candidate(NamedTuple):
    track_id: str
    artist_ids: tuple[str, ...]
    title: str
    closeness: int
    artist: str  # the track's artist closest to the listener: what its reason names


def _generate(ctx: GenerationContext, user: UserProfile) -> GenerationResult:
    settings = ctx.settings
    recent = ctx.recent_releases(settings.release_radar_days)
    circles, anchors = _circles(ctx, user, recent) if recent.releases else ({}, {})
    orders = sorted({o for artist in circles for o in recent.by_artist.get(artist, ())})
    tracks, exclusions = ctx.catalog.tracks, user.exclusions
    candidates: list[tuple[int, int, str, str]] = []  # closeness, release, track, artist
    for order in orders:
        taken = 0
        for track_id in recent.releases[order]:
            artist_ids = tracks[track_id].artist_ids
            closest: tuple[int, str] | None = None
            for artist in artist_ids:
                circle = circles.get(artist)
                if circle is not None and (closest is None or circle[0] < closest[0]):
                    closest = (circle[0], artist)
            if closest is None or not exclusions.allows(track_id, artist_ids):
                continue
            candidates.append((closest[0], order, track_id, closest[1]))
            taken += 1
            if taken >= settings.release_radar_tracks_per_release:
                break
    # Closest circle first, then newest release; the neighbours' releases (circle 2) by the
    # listener's own score of their artist first, when discovery is ranked by the listener.
    factors = user.factors if user.personalised else None
    if ctx.settings.discovery_ranking == "listener" and factors is not None and ctx.model:
        scores = listener_scores(
            ctx, user, list(dict.fromkeys(a for c, _, _, a in candidates if c == 2))
        )
        candidates.sort(key=lambda c: (c[0], -scores[c[3]] if c[0] == 2 else 0.0, c[1]))
    else:
        candidates.sort(key=lambda c: (c[0], c[1]))
    # The repetition rules in one pass (no duplicate track or recording, the per-artist cap,
    # no pair a curator blocked); reasons are named only for the tracks that make the radar.
    cap = settings.max_tracks_per_artist
    rules = TrackRules(
        exclusions=exclusions,
        blocked=ctx.blocked,
        isrc_of=ctx.catalog.isrc_of,
        recent=(),
        familiar_cap=cap,
        discovery_cap=cap,
    )
    blocked = ctx.blocked.keys()
    kept: list[_Candidate] = []
    for closeness, _order, track_id, artist in candidates:
        track = tracks[track_id]
        via = artist
        if closeness == 2 and not blocked.isdisjoint(track.artist_ids):
            via = strongest_anchor(ctx.weights, anchors, artist)
        if rules.admit(track_id, track.artist_ids, via, "familiar"):
            kept.append(_Candidate(track_id, track.artist_ids, track.title, closeness, artist))
    placed = spread_artists(kept, settings.release_radar_max_tracks)
    reasons: dict[str, Reason] = {}
    mix_tracks = []
    for candidate in placed:
        reason = reasons.get(candidate.artist)
        if reason is None:
            circle = circles[candidate.artist]
            reason = reasons[candidate.artist] = _reason(
                ctx, recent, circle, candidate.artist, anchors
            )
        mix_tracks.append(
            MixTrack(candidate.track_id, candidate.artist_ids, candidate.title, reason)
        )
    notes = (
        ()
        if mix_tracks
        else (
            f"no release in the last {settings.release_radar_days} days "
            "from artists close to this listener",
        )
    )
    mix = make_mix(ctx, "release_radar", user.user_id, TITLE, mix_tracks)
    return GenerationResult((mix,), notes)
