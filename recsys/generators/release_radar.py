"""Release Radar: new releases from the artists a listener follows and plays, then from
their curated and ALS neighbours; newest first within each circle, one or two tracks per
release. Empty but valid when nothing was released lately.
"""

from __future__ import annotations

from recsys.generators.context import (
    GenerationContext,
    RecentReleases,
    UserProfile,
    anonymous,
)
from recsys.generators.neighbourhood import artist_affinity, edge_reason, neighbours_of
from recsys.generators.result import GenerationResult, for_listener, make_mix
from recsys.generators.steps import (
    apply_steps,
    cap_per_artist,
    drop_blocked,
    drop_duplicates,
    drop_excluded,
    spread_artists,
)
from recsys.mix import MixTrack, Reason

NAME = "release_radar"
TITLE = "Release Radar"


def _circles(
    ctx: GenerationContext, user: UserProfile, recent: RecentReleases
) -> dict[str, tuple[int, Reason]]:
    """Artist with a recent release → (closeness, reason): followed 0, played 1, their graph
    neighbours 2; for listeners without personalisation, the pool's popular artists 1."""
    released = recent.by_artist
    circles: dict[str, tuple[int, Reason]] = {}
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
        anchors = top | dict.fromkeys(user.follows, max(top.values(), default=1.0))
    else:
        popular = ctx.catalog.popular_artists(ctx.settings.cold_start_artists)
        for artist in popular:
            if artist in released:
                circles[artist] = (
                    1,
                    Reason("seed", {"artist_id": artist, "basis": "popular in the pool"}),
                )
        anchors = dict.fromkeys(popular, 1.0)
    for neighbour in neighbours_of(
        recent.edges_to_released, anchors, exclude=set(circles), blocked=ctx.blocked
    ):
        circles.setdefault(
            neighbour.artist_id,
            (2, edge_reason(ctx.graph, neighbour.anchor, neighbour.artist_id)),
        )
    return circles


def generate(ctx: GenerationContext, user: UserProfile) -> GenerationResult:
    """The listener's Release Radar; built once per day for everyone without personalisation
    or exclusions (they all get the same one)."""
    if user.personalised or user.exclusions.artists or user.exclusions.tracks:
        return _generate(ctx, user)
    key = (NAME, "non-personalised", ctx.today.isoformat())
    shared = ctx.shared(key, lambda: _generate(ctx, anonymous("")))
    return GenerationResult(
        tuple(for_listener(ctx, mix, user.user_id) for mix in shared.mixes), shared.notes
    )


def _generate(ctx: GenerationContext, user: UserProfile) -> GenerationResult:
    settings = ctx.settings
    recent = ctx.recent_releases(settings.release_radar_days)
    circles = _circles(ctx, user, recent) if recent.releases else {}
    orders = sorted({o for artist in circles for o in recent.by_artist.get(artist, ())})
    candidates: list[tuple[int, int, MixTrack]] = []
    for order in orders:
        track_ids = recent.releases[order]
        taken = 0
        for track_id in track_ids:
            track = ctx.catalog.tracks[track_id]
            closest = min(
                (circles[a] for a in track.artist_ids if a in circles),
                key=lambda c: c[0],
                default=None,
            )
            if closest is None or not user.exclusions.allows(track_id, track.artist_ids):
                continue
            candidates.append(
                (closest[0], order, MixTrack(track_id, track.artist_ids, track.title, closest[1]))
            )
            taken += 1
            if taken >= settings.release_radar_tracks_per_release:
                break
    candidates.sort(key=lambda c: (c[0], c[1]))  # closest circle first, then newest release
    steps = [
        drop_excluded(user.exclusions),
        drop_blocked(ctx.blocked),
        drop_duplicates(ctx.catalog.isrc_of),
        cap_per_artist(settings.max_tracks_per_artist, settings.max_tracks_per_artist),
    ]
    tracks = spread_artists(apply_steps([c[2] for c in candidates], steps))
    tracks = tracks[: settings.release_radar_max_tracks]
    notes = (
        ()
        if tracks
        else (
            f"no release in the last {settings.release_radar_days} days "
            "from artists close to this listener",
        )
    )
    return GenerationResult((make_mix(ctx, "release_radar", user.user_id, TITLE, tracks),), notes)
