# Compiled functions take their arrays positionally (numba has no keyword-only arguments).
# ruff: noqa: PLR0917
"""Compiled (numba) personal mixes and Release Radar for a chunk of listeners at once: the
one implementation, for a rebuild's chunks and for one listener on request alike.

They work on integer arrays instead of dicts of strings (in Python they cost milliseconds a
listener). Listeners without personalisation go through the same code, with the pool's
popular artists as anchors. The repetition rules are stated once, in ``_admit``, and used by
the mixes, the Release Radar and (through ``admit_in_order``) the radios. A Python statement
of the same algorithms is kept as a test oracle (``tests/oracle``), and
``tests/recsys/generators/test_batch_generation.py`` holds the two to the same mixes, tracks
and reasons; Hypothesis properties over small worlds hold them to the rules
(``test_generator_properties.py``). Artists and tracks are numbered in the order of their
ids, so "ties broken by id" is "ties broken by number".

Scratch arrays are "stamped": ``mark[x] == stamp`` means x is in the set, and a new stamp
empties every set at once. The small helpers of the inner loops are inlined: a call there
costs more than the work. The inner loops themselves run in functions compiled without
numba's reference counting (``_nrt=False``: they allocate nothing): an array bound in a loop
(an inlined helper's argument) otherwise costs an atomic increment and decrement per array
per iteration, which was 40% of the generators' time.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numba import njit

from recsys.generators.prefetch import prefetch, prefetch_item

# Output columns of a mix track (``tracks`` array).
TRACK, VIA, NEIGHBOUR, SLOT = 0, 1, 2, 3
# Output columns of a mix (``mixes`` array).
# MIX_POPULAR: 1 for a mix around the pool's popular artists (no personalisation, or a
# history too thin for a mix of its own), whose familiar tracks' reasons say so.
MIX_USER, MIX_START, MIX_STOP, MIX_ANCHOR1, MIX_ANCHOR2, MIX_ANCHORS, MIX_POPULAR = range(7)
# Output columns of a radar track (``radar`` array).
RADAR_USER, RADAR_TRACK, RADAR_ARTIST, RADAR_CLOSENESS, RADAR_VIA = 0, 1, 2, 3, 4
_NONE_ABOVE = 2**62  # above every artist number
# Candidates ahead whose rows are prefetched (``prefetch``), and float32 per cache line.
_AHEAD, _LINE_FLOATS = 4, 16


@njit(cache=True, inline="always")
def _int(value):  # type: ignore[no-untyped-def]
    """``value`` as a plain int64. A literal ``0`` passed to (or first stored in a variable
    passed to) a compiled helper makes numba compile that helper twice, once for
    ``Literal[int](0)`` and once for int64: a fifth of the first run's compile time."""
    return np.int64(value)


@njit(cache=True, inline="always")
def _in_sorted(values, start, stop, value):  # type: ignore[no-untyped-def]
    """Whether ``value`` is in the sorted slice values[start:stop]."""
    lo, hi = start, stop
    while lo < hi:
        mid = (lo + hi) // 2
        if values[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo < stop and values[lo] == value


@njit(cache=True, inline="always")
def _edge_index(g_ptr, g_nbr, a, b):  # type: ignore[no-untyped-def]
    """Position of the edge a-b in the graph's arrays (a's row), or -1."""
    lo, hi = g_ptr[a], g_ptr[a + 1]
    while lo < hi:
        mid = (lo + hi) // 2
        if g_nbr[mid] < b:
            lo = mid + 1
        else:
            hi = mid
    found = -1
    if lo < g_ptr[a + 1] and g_nbr[lo] == b:
        found = lo
    return found


_SPARE = 10  # radar tracks admitted past its length before the spread is tried
_SELECTED = 16  # neighbours picked one by one before the rest of a region's are sorted
_SHORT = 48  # up to this length, an insertion sort beats numba's mergesort and its buffers


@njit(cache=True, inline="always")
def _argsort(keys):  # type: ignore[no-untyped-def]
    """``np.argsort(keys, kind="mergesort")`` (stable), for integer or float keys alike: as
    floats (every key here is an exact one), so that the sort is compiled once, not once per
    key type with numba's own mergesort (seconds of the first rebuild's compile)."""
    return _stable_order(keys.astype(np.float64))


@njit(cache=True)
def _stable_order(keys):  # type: ignore[no-untyped-def]
    """The stable order of float ``keys``: by insertion for the short arrays met per listener
    (a history's artists, a mix's clusters), a bottom-up merge sort otherwise."""
    n = len(keys)
    order = np.arange(n)
    if n <= _SHORT:
        for i in range(1, n):
            key = keys[i]
            j = i
            while j > 0 and keys[order[j - 1]] > key:
                order[j] = order[j - 1]
                j -= 1
            order[j] = i
        return order
    spare = np.empty(n, np.int64)
    width = 1
    while width < n:
        for lo in range(0, n, 2 * width):
            mid, hi = min(lo + width, n), min(lo + 2 * width, n)
            i, j = lo, mid
            for k in range(lo, hi):
                if j < hi and (i >= mid or keys[order[j]] < keys[order[i]]):
                    spare[k] = order[j]
                    j += 1
                else:
                    spare[k] = order[i]
                    i += 1
        order, spare = spare, order
        width *= 2
    return order


@njit(cache=True)
def _sort(values):  # type: ignore[no-untyped-def]
    """Sort integer ``values`` in place: by insertion when short, else a heap sort (in place,
    allocating nothing, and one compiled sort rather than numba's quicksort as well)."""
    n = len(values)
    if n <= _SHORT:
        for i in range(1, n):
            value = values[i]
            j = i
            while j > 0 and values[j - 1] > value:
                values[j] = values[j - 1]
                j -= 1
            values[j] = value
        return
    for root in range(n // 2 - 1, -1, -1):
        _sift_up_to(values, root, n)
    for end in range(n - 1, 0, -1):
        values[0], values[end] = values[end], values[0]
        _sift_up_to(values, 0, end)


@njit(cache=True, inline="always")
def _sift_up_to(values, root, stop):  # type: ignore[no-untyped-def]
    """Heap property (largest on top) for values[:stop] below ``root``."""
    while True:
        child = 2 * root + 1
        if child >= stop:
            break
        if child + 1 < stop and values[child] < values[child + 1]:
            child += 1
        if values[root] >= values[child]:
            break
        values[root], values[child] = values[child], values[root]
        root = child


# A reason's kind, for an artist the listener knows or a popular one (``reason_ids``).
HISTORY, FOLLOWED, SEED = 0, 1, 2


@njit(cache=True)
def reason_ids(mixes, tracks, radar, listeners, g_ptr, g_nbr):  # type: ignore[no-untyped-def]
    """A number for each track's reason, the same number for the same reason JSON:
    3 * artist + kind for an artist's own reason (``HISTORY``, ``FOLLOWED`` or ``SEED``, for
    mix anchors and the radar's own circles alike), 3 * artists + edge position for an edge's
    reason (named by the edge's first artist), and 3 * artists + edges for a radar neighbour
    no anchor links."""
    artists, edges = len(g_ptr) - 1, len(g_nbr)
    f_ptr, f_art = listeners.f_ptr, listeners.f_art
    track_reasons = np.empty(len(tracks), np.int64)
    for m in range(len(mixes)):
        u = mixes[m, MIX_USER]
        for r in range(mixes[m, MIX_START], mixes[m, MIX_STOP]):
            via = tracks[r, VIA]
            if tracks[r, SLOT]:
                track_reasons[r] = 3 * artists + _edge_index(
                    g_ptr, g_nbr, via, tracks[r, NEIGHBOUR]
                )
            elif mixes[m, MIX_POPULAR]:
                track_reasons[r] = 3 * via + SEED
            elif _in_sorted(f_art, f_ptr[u], f_ptr[u + 1], via):
                track_reasons[r] = 3 * via + FOLLOWED
            else:
                track_reasons[r] = 3 * via + HISTORY
    radar_reasons = np.empty(len(radar), np.int64)
    for r in range(len(radar)):
        closeness, artist, via = (
            radar[r, RADAR_CLOSENESS],
            radar[r, RADAR_ARTIST],
            radar[r, RADAR_VIA],
        )
        if closeness == 0:
            radar_reasons[r] = 3 * artist + FOLLOWED
        elif closeness == 1:
            popular = not listeners.personalised[radar[r, RADAR_USER]]
            radar_reasons[r] = 3 * artist + (SEED if popular else HISTORY)
        elif via >= 0:
            radar_reasons[r] = 3 * artists + _edge_index(g_ptr, g_nbr, via, artist)
        else:
            radar_reasons[r] = 3 * artists + edges
    return track_reasons, radar_reasons


@njit(cache=True, inline="always")
def _blocked_with(bl_ptr, bl_art, t_ptr, t_art, via, track):  # type: ignore[no-untyped-def]
    """Whether any artist of ``track`` is blocked with ``via``."""
    blocked = False
    if via >= 0:
        for j in range(t_ptr[track], t_ptr[track + 1]):
            if _in_sorted(bl_art, bl_ptr[via], bl_ptr[via + 1], t_art[j]):
                blocked = True
                break
    return blocked


@njit(cache=True, inline="always")
def _blocked_with_marked(blocked, artist, mark, stamp):  # type: ignore[no-untyped-def]
    """Whether ``artist`` is blocked with any artist marked ``stamp`` in ``mark`` (a mix's
    or a radar's anchors); ``blocked`` is ``Mixing.blocked``. The artist's row of blocks is
    read only when it has some: few artists have any, and the row is otherwise a wait on
    memory for nearly every candidate."""
    bl_ptr, bl_art, has_blocks = blocked
    found = False
    if has_blocks[artist]:
        for j in range(bl_ptr[artist], bl_ptr[artist + 1]):
            if mark[bl_art[j]] == stamp:
                found = True
                break
    return found


class Rules(NamedTuple):
    """What ``_admit`` reads: the catalogue (each track's artists and recording) and curator
    blocks, the caps, the mix's (or radar's) stamp and the listener's, and the scratch arrays
    the repetition rules mark. A named tuple: read by name, at no cost in compiled code."""

    t_ptr: Any  # per track: where its artists start in t_art
    t_art: Any
    t_isrc: Any  # per track: its recording's number
    bl_ptr: Any  # per artist: where its blocked partners start in bl_art
    bl_art: Any
    cap: int  # tracks per artist in one mix
    discovery_cap: int  # discovery tracks per artist in one mix
    stamp: int  # the current mix's (or radar's) stamp
    seen_track: Any  # per track: the stamp of the mix holding it
    seen_isrc: Any  # per recording: the stamp of the mix holding it
    recent: Any  # per track: the user stamp if played recently
    recent_stamp: int  # the listener's stamp
    played_artist: Any  # per artist: the user stamp if the listener ever played them
    count_stamp: Any  # per artist: the stamp its counts belong to
    total: Any  # per artist: tracks in the mix
    new: Any  # per artist: discovery tracks in the mix
    excluded_track: Any  # per track: the user stamp if the listener excluded it
    excluded_artist: Any  # per artist: the user stamp if the listener excluded them


@njit(cache=True, inline="always")
def _rules(m, cap, discovery_cap, stamp, user_stamp):  # type: ignore[no-untyped-def]
    """The ``Rules`` of one mix (or radar) of one listener, from the ``Mixing`` ``m``."""
    scratch = m.scratch
    return Rules(
        m.catalog[0],
        m.catalog[1],
        m.catalog[2],
        m.blocked[0],
        m.blocked[1],
        cap,
        discovery_cap,
        stamp,
        scratch.seen_track,
        scratch.seen_recording,
        scratch.recent_track,
        user_stamp,
        scratch.played_artist,
        scratch.counted_artist,
        scratch.tracks_per_artist,
        scratch.discoveries_per_artist,
        scratch.excluded_track,
        scratch.excluded_artist,
    )


@njit(cache=True, inline="always")
def _admit(track, via, discovery, rules):  # type: ignore[no-untyped-def]
    """The repetition rules, stated once: ``track`` against what the mix holds, and the
    listener's exclusions (marked with ``recent_stamp``, the user's stamp). One exit: an
    inlined function that returns early keeps a reference count per array per exit."""
    t_ptr, t_art, t_isrc, stamp = rules.t_ptr, rules.t_art, rules.t_isrc, rules.stamp
    seen_track, seen_isrc, recent = rules.seen_track, rules.seen_isrc, rules.recent
    recent_stamp, count_stamp, total, new = (
        rules.recent_stamp,
        rules.count_stamp,
        rules.total,
        rules.new,
    )
    excluded_track, excluded_artist = rules.excluded_track, rules.excluded_artist
    bl_ptr, bl_art, cap, discovery_cap = rules.bl_ptr, rules.bl_art, rules.cap, rules.discovery_cap
    admitted = seen_track[track] != stamp and excluded_track[track] != recent_stamp
    if admitted and _blocked_with(bl_ptr, bl_art, t_ptr, t_art, via, track):
        admitted = False
    if admitted and discovery and recent[track] == recent_stamp:
        admitted = False
    if admitted:
        for j in range(t_ptr[track], t_ptr[track + 1]):
            a = t_art[j]
            if excluded_artist[a] == recent_stamp or (
                count_stamp[a] == stamp
                and (total[a] >= cap or (discovery and new[a] >= discovery_cap))
            ):
                admitted = False
                break
    if admitted and seen_isrc[t_isrc[track]] == stamp:
        admitted = False
    if admitted:
        seen_isrc[t_isrc[track]] = stamp
        seen_track[track] = stamp
        for j in range(t_ptr[track], t_ptr[track + 1]):
            a = t_art[j]
            if count_stamp[a] != stamp:
                count_stamp[a] = stamp
                total[a] = 0
                new[a] = 0
            total[a] += 1
            if discovery:
                new[a] += 1
    return admitted


@njit(cache=True, inline="always")
def _shares(t_ptr, t_art, x, y):  # type: ignore[no-untyped-def]
    shared = False
    for i in range(t_ptr[x], t_ptr[x + 1]):
        for j in range(t_ptr[y], t_ptr[y + 1]):
            if t_art[i] == t_art[j]:
                shared = True
    return shared


@njit(cache=True, _nrt=False)
def _spread_into(t_ptr, t_art, tracks, n, limit, used, placed):  # type: ignore[no-untyped-def]
    """No artist back-to-back, over ``tracks[:n]``, its first ``limit`` placed into
    ``placed`` as positions in ``tracks``, in play order (``used``: n falses); returns the
    count placed and the count dropped. The earliest remaining track that shares no artist
    with the last one placed goes next; when none can, the earliest is dropped."""
    count, first, dropped = 0, 0, 0
    while count < limit:
        while first < n and used[first]:
            first += 1
        if first == n:
            break
        taken = -1
        for index in range(first, n):
            if not used[index] and (
                count == 0 or not _shares(t_ptr, t_art, tracks[placed[count - 1]], tracks[index])
            ):
                taken = index
                break
        if taken < 0:
            used[first] = True  # no track fits after the last one: the earliest is dropped
            dropped += 1
        else:
            used[taken] = True
            placed[count] = taken
            count += 1
    return count, dropped


@njit(cache=True, inline="always")
def _discovery_count(target, familiar_target, min_share, familiar):  # type: ignore[no-untyped-def]
    topped_up = int(familiar / min_share) - familiar
    return max(target - familiar_target, min(target - familiar, topped_up))


@njit(cache=True)
def _top_artists(ls, u, m, stamp, touched):  # type: ignore[no-untyped-def]
    """Listener ``u``'s (of ``Listeners`` ``ls``) artist affinity (plays, skips counting for
    less) then their ``top_n`` artists by (-affinity, id): of those they have not excluded
    (the mixes' anchors), and of all (the radar's); every played artist is marked in
    ``played_artist`` under ``stamp``. Returns (mix top, its affinity, radar top, its affinity).
    ``touched`` (an array of every artist's size) collects the played artists: a list would
    cost an allocation and reference counts per artist."""
    h_trk, h_plays, h_heard = ls.h_trk, ls.h_plays, ls.h_heard
    t_ptr, t_art = m.catalog[0], m.catalog[1]
    affinity, played = m.scratch.artist_value, m.scratch.played_artist
    excluded_artist, top_n = m.scratch.excluded_artist, m.limits[0]
    n_touched = 0
    for i in range(ls.h_ptr[u], ls.h_ptr[u + 1]):
        track = h_trk[i]
        if track < 0:
            continue
        weight = float(h_plays[i]) * (0.25 + 0.75 * float(h_heard[i]))
        for j in range(t_ptr[track], t_ptr[track + 1]):
            a = t_art[j]
            if played[a] != stamp:
                played[a] = stamp
                affinity[a] = 0.0
                touched[n_touched] = a
                n_touched += 1
            affinity[a] += weight
    ranked = touched[:n_touched].copy()
    # By (-affinity, id): for the few artists of most histories, an insertion sort.
    if len(ranked) > _SHORT:
        _sort(ranked)
        values = np.empty(len(ranked), np.float64)
        for k in range(len(ranked)):
            values[k] = -affinity[ranked[k]]
        ranked = ranked[_argsort(values)]
    else:
        for i in range(1, len(ranked)):
            a = ranked[i]
            j = i
            while j > 0 and (
                affinity[ranked[j - 1]] < affinity[a]
                or (affinity[ranked[j - 1]] == affinity[a] and ranked[j - 1] > a)
            ):
                ranked[j] = ranked[j - 1]
                j -= 1
            ranked[j] = a
    weights = np.empty(len(ranked), np.float64)
    for k in range(len(ranked)):
        weights[k] = affinity[ranked[k]]
    allowed = np.empty(len(ranked), np.bool_)
    for k in range(len(ranked)):
        allowed[k] = excluded_artist[ranked[k]] != stamp
    mine = np.nonzero(allowed)[0][:top_n]
    return ranked[mine], weights[mine], ranked[:top_n], weights[:top_n]


@njit(cache=True)
def _own_tracks(ls, u, t_ptr, t_art):  # type: ignore[no-untyped-def]
    """Listener ``u``'s tracks per artist (every credited one), most played first, ties by
    id: (artists, tracks), sorted by artist."""
    h_start, h_stop, h_trk, h_plays = ls.h_ptr[u], ls.h_ptr[u + 1], ls.h_trk, ls.h_plays
    n = 0
    for i in range(h_start, h_stop):
        if h_trk[i] >= 0:
            n += t_ptr[h_trk[i] + 1] - t_ptr[h_trk[i]]
    own_art = np.empty(n, np.int64)
    own_trk = np.empty(n, np.int64)
    plays = np.empty(n, np.int64)
    n = 0
    for i in range(h_start, h_stop):
        track = h_trk[i]
        if track < 0:
            continue
        for j in range(t_ptr[track], t_ptr[track + 1]):
            own_art[n] = t_art[j]
            own_trk[n] = track
            plays[n] = h_plays[i]
            n += 1
    if n > _SHORT:
        order = _argsort(own_trk)
        order = order[_argsort(-plays[order])]
        order = order[_argsort(own_art[order])]
        return own_art[order], own_trk[order]
    # By (artist, most played, track), in place: an insertion sort, stable as the above.
    for i in range(1, n):
        a, t, p = own_art[i], own_trk[i], plays[i]
        j = i
        while j > 0 and (
            own_art[j - 1] > a
            or (
                own_art[j - 1] == a
                and (plays[j - 1] < p or (plays[j - 1] == p and own_trk[j - 1] > t))
            )
        ):
            own_art[j], own_trk[j], plays[j] = own_art[j - 1], own_trk[j - 1], plays[j - 1]
            j -= 1
        own_art[j], own_trk[j], plays[j] = a, t, p
    return own_art, own_trk


@njit(cache=True)
def _clusters(top, top_w, scenes, min_size):  # type: ignore[no-untyped-def]
    """A listener's top artists grouped by the graph's scenes (small groups merged into the
    best-linked): per top artist (by position) its cluster number,
    clusters numbered strongest first; returns (cluster of each, number of clusters).
    ``scenes``: ``Mixing.scenes``."""
    scene_of, sl_ptr, sl_nbr, sl_w = scenes
    n = len(top)
    # One group per scene of the listener (groups numbered in scene order).
    scenes = np.empty(n, np.int64)
    for k in range(n):
        scenes[k] = scene_of[top[k]]
    local = scenes[scenes >= 0].copy()
    local = local[: _distinct(local, 0, len(local))]
    group_of_scene = np.arange(len(local))
    member_group = np.full(n, -1, np.int64)
    for k in range(n):
        if scenes[k] >= 0:
            member_group[k] = np.searchsorted(local, scenes[k])
    n_groups = len(local)
    size = np.zeros(n_groups, np.int64)
    least = np.full(n_groups, _NONE_ABOVE)
    for k in range(n):
        g = member_group[k]
        if g >= 0:
            size[g] += 1
            least[g] = min(least[g], top[k])
    # The list of groups sorted by (size, least artist); merges keep positions.
    by_least = _argsort(least)
    order = list(by_least[_argsort(size[by_least])])
    merged = True
    while merged:
        merged = False
        smalls = [g for g in order if size[g] < min_size]
        for small in smalls:
            best_w, best_least, best_pos = 0.0, -1, -1
            for pos in range(len(order)):
                other = order[pos]
                if other == small:
                    continue
                weight = 0.0
                for s in range(len(local)):
                    if group_of_scene[s] != small:
                        continue
                    for t in range(len(local)):
                        if group_of_scene[t] != other:
                            continue
                        scene = local[s]
                        lo, hi = sl_ptr[scene], sl_ptr[scene + 1]
                        found = 0.0
                        while lo < hi:
                            mid = (lo + hi) // 2
                            if sl_nbr[mid] < local[t]:
                                lo = mid + 1
                            else:
                                hi = mid
                        if lo < sl_ptr[scene + 1] and sl_nbr[lo] == local[t]:
                            found = sl_w[lo]
                        weight += found
                key_better = (weight > best_w) or (
                    weight == best_w
                    and (
                        least[other] > best_least or (least[other] == best_least and pos > best_pos)
                    )
                )
                if key_better:
                    best_w, best_least, best_pos = weight, least[other], pos
            if best_w > 0:
                target = order[best_pos]
                for s in range(len(local)):
                    if group_of_scene[s] == small:
                        group_of_scene[s] = target
                for k in range(n):
                    if member_group[k] == small:
                        member_group[k] = target
                size[target] += size[small]
                least[target] = min(least[target], least[small])
                order.remove(small)
                merged = True
                break
    # Clusters strongest first: by (-sum of affinity in id order, least artist).
    n_clusters = len(order)
    sums = np.zeros(n_clusters, np.float64)
    leasts = np.empty(n_clusters, np.int64)
    ids = _argsort(top)
    for c in range(n_clusters):
        g = order[c]
        leasts[c] = least[g]
        for k in ids:
            if member_group[k] == g:
                sums[c] += top_w[k]
    by_least = _argsort(leasts)
    ranked = by_least[_argsort(-sums[by_least])]
    cluster_of = np.full(n, -1, np.int64)
    for rank in range(n_clusters):
        g = order[ranked[rank]]
        for k in range(n):
            if member_group[k] == g:
                cluster_of[k] = rank
    return cluster_of, n_clusters


@njit(cache=True, inline="always")
def _strongest(g_ptr, g_nbr, g_w, artist, anchor_mark, stamp, anchor_weight, anchor_rank):  # type: ignore[no-untyped-def]
    """The anchor whose edge to ``artist`` contributes most, the first of equals in the anchors'
    order (-1: none), read from the artist's own row (the graph is symmetric) with the anchors
    marked: their weights and their places in that order."""
    best, strongest, rank = -1, -np.inf, 0
    for j in range(g_ptr[artist], g_ptr[artist + 1]):
        anchor = g_nbr[j]
        if anchor_mark[anchor] != stamp:
            continue
        value = anchor_weight[anchor] * g_w[j]
        if value > strongest or (value == strongest and anchor_rank[anchor] < rank):
            best, strongest, rank = anchor, value, anchor_rank[anchor]
    return best


@njit(cache=True, _nrt=False)
def _take_familiar(goal, familiar, n_familiar, draw, rules):  # type: ignore[no-untyped-def]
    """A mix's familiar tracks: draws from the anchors' queues in
    turn (a queue with nothing left drops out, and so does an anchor at its cap in the mix)
    until ``goal`` tracks are admitted; ``draw``
    keeps where it stopped, so a second call goes on from there. Returns the new count.

    The anchors are drawn from in rounds (``_style_first``): those of
    ``familiar_order[:turn[3]]`` in turn until none has tracks left, then each of the others
    alone, in order. ``turn``: (next anchor, anchors of the round with tracks left, the
    round's start, its end)."""
    familiar_order, queues, alive, turn, own_trk, a_ptr, a_trk, played_track, user_stamp = draw
    n = len(familiar_order)
    while n_familiar < goal:
        if turn[1] == 0:
            if turn[3] >= n:
                break
            turn[0], turn[1], turn[2], turn[3] = turn[3], 1, turn[3], turn[3] + 1
        k = turn[0]
        turn[0] = k + 1 if k + 1 < turn[3] else turn[2]
        if not alive[k]:
            continue
        a = familiar_order[k]
        track = -1
        if rules.count_stamp[a] == rules.stamp and rules.total[a] >= rules.cap:
            pass  # at the cap: every track left in its queue credits it, and would be refused
        elif queues[k, 0] < queues[k, 1]:
            track = own_trk[queues[k, 0]]
            queues[k, 0] += 1
        else:
            p = queues[k, 2]
            while p < a_ptr[a + 1] and played_track[a_trk[p]] == user_stamp:
                p += 1
            if p < a_ptr[a + 1]:
                track = a_trk[p]
                p += 1
            queues[k, 2] = p
        if track < 0:
            alive[k] = False
            turn[1] -= 1
            continue
        if _admit(track, a, False, rules):
            familiar[n_familiar, 0] = track
            familiar[n_familiar, 1] = a
            n_familiar += 1
    return n_familiar


@njit(cache=True, inline="always")
def _better(score, a, b):  # type: ignore[no-untyped-def]
    """Whether neighbour ``a`` ranks before ``b``: higher score, then lower number."""
    return score[a] > score[b] or (score[a] == score[b] and a < b)


@njit(cache=True, _nrt=False)
def _sift(values, score, root, start, stop):  # type: ignore[no-untyped-def]
    """Heap property for values[start:stop] (root's subtree), the last-ranked on top."""
    while True:
        child = start + 2 * (root - start) + 1
        if child >= stop:
            break
        if child + 1 < stop and _better(score, values[child], values[child + 1]):
            child += 1
        if not _better(score, values[root], values[child]):
            break
        values[root], values[child] = values[child], values[root]
        root = child


@njit(cache=True, _nrt=False)
def _sort_best_first(values, score, start, stop):  # type: ignore[no-untyped-def]
    """Sort values[start:stop] in place, best first (``_better``: a total order, so the
    unstable heapsort gives the one order a stable sort would)."""
    for root in range(start + (stop - start) // 2 - 1, start - 1, -1):
        _sift(values, score, root, start, stop)
    for end in range(stop - 1, start, -1):
        values[start], values[end] = values[end], values[start]
        _sift(values, score, start, start, end)


@njit(cache=True, inline="always")
def _listener_dot(user_f, artist_factors, artist):  # type: ignore[no-untyped-def]
    """The listener's factors' dot product with ``artist``'s, in float64, in the order the
    oracle adds it up: eight running sums, the k-th over dimensions k, k + 8, k + 16, ...
    of the first multiple of eight, added pairwise, then the remaining dimensions in order.
    Eight sums, not one: a single running sum waits on each addition before the next (a
    listener's discovery candidates are a thousand dot products on a large catalogue)."""
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    n = len(user_f)
    full = n - n % 8
    for d in range(0, full, 8):
        s0 += float(user_f[d]) * float(artist_factors[artist, d])
        s1 += float(user_f[d + 1]) * float(artist_factors[artist, d + 1])
        s2 += float(user_f[d + 2]) * float(artist_factors[artist, d + 2])
        s3 += float(user_f[d + 3]) * float(artist_factors[artist, d + 3])
        s4 += float(user_f[d + 4]) * float(artist_factors[artist, d + 4])
        s5 += float(user_f[d + 5]) * float(artist_factors[artist, d + 5])
        s6 += float(user_f[d + 6]) * float(artist_factors[artist, d + 6])
        s7 += float(user_f[d + 7]) * float(artist_factors[artist, d + 7])
    total = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
    for d in range(full, n):
        total += float(user_f[d]) * float(artist_factors[artist, d])
    return total


@njit(cache=True, inline="always")
def _listener_tags(m, artist, user_stamp):  # type: ignore[no-untyped-def]
    """The cosine of the listener's tag profile (marked by ``_mark_listener``) with
    ``artist``'s tags (unit rows both), added up in the artist's tag order."""
    at_ptr, at_tag, at_w = m.artist_tags
    tag_value, tag_stamp = m.scratch.tag_value, m.scratch.tag_stamp
    total = 0.0
    for j in range(at_ptr[artist], at_ptr[artist + 1]):
        if tag_stamp[at_tag[j]] == user_stamp:
            total += tag_value[at_tag[j]] * float(at_w[j])
    return total


@njit(cache=True, _nrt=False)
def _score_by_listener(kept, n_kept, listener, m, score, user_stamp):  # type: ignore[no-untyped-def]
    """Each candidate neighbour's score as the listener's own, blended as the engine's ranker
    blends it (``ArtistModel.score_users``): their factors' dot product with the artist's over
    ``best_dot`` (the best of all their mixes' candidates: ``_discovery_threshold``), plus
    ``m.tag_blend`` x the cosine of their tags, kept in ``listener_value`` (already there
    for a candidate ``_discovery_threshold`` marked with ``scored`` in ``candidate_stamp``);
    plus ``m.graph_weight`` x its graph score over the best candidate's, in ``score``.
    ``listener``: (their factors, ``best_dot``, ``scored``)."""
    user_f, best_dot, scored = listener
    own, known = m.scratch.listener_value, m.scratch.candidate_stamp
    best_graph = 0.0
    for i in range(n_kept):
        best_graph = max(best_graph, score[kept[i]])
    if best_graph <= 0.0:
        best_graph = 1.0
    for i in range(n_kept):
        other = kept[i]
        if known[other] != scored:
            dot = _listener_dot(user_f, m.artist_factors, other)
            own[other] = dot / best_dot + m.tag_blend * _listener_tags(m, other, user_stamp)
        score[other] = own[other] + m.graph_weight * (score[other] / best_graph)


@njit(cache=True, _nrt=False)
def _at_least(kept, n_kept, own, threshold):  # type: ignore[no-untyped-def]
    """Keep (in order) the candidates of ``kept[:n_kept]`` whose own score reaches
    ``threshold``, the only ones ``_take_discoveries`` takes: the others no longer take
    part in its ordering. Returns their count."""
    n = _int(0)
    for i in range(n_kept):
        if own[kept[i]] >= threshold:
            kept[n] = kept[i]
            n += 1
    return n


@njit(cache=True, inline="always")
def _credits_known(track, rules, anchor_mark, mix_stamp):  # type: ignore[no-untyped-def]
    """Whether ``track`` credits an artist the listener plays or an anchor of the mix: a
    featured appearance of a known artist is no discovery."""
    known = False
    for j in range(rules.t_ptr[track], rules.t_ptr[track + 1]):
        a = rules.t_art[j]
        if rules.played_artist[a] == rules.recent_stamp or anchor_mark[a] == mix_stamp:
            known = True
    return known


@njit(cache=True, _nrt=False)
def _take_discoveries(kept, n_kept, wanted, discovery, m, anchors, rules, threshold):  # type: ignore[no-untyped-def]
    """A mix's discovery pass over the scored neighbours ``kept[:n_kept]``, best
    first: each neighbour's first unheard tracks (at most the discovery cap of them) until
    ``wanted`` are admitted into ``discovery`` as (track, anchor, neighbour). Returns the
    count. A mix takes a handful of hundreds of neighbours, so the first ``_SELECTED`` are
    picked one at a time and only the rest, when needed, sorted. ``m``: the ``Mixing``;
    ``anchors``: the mix's anchors marked (mark, stamp, weight, rank); ``rules``: the mix's;
    a neighbour whose own score (``listener_value``) is under ``threshold`` is passed over
    (-inf: none is)."""
    g_ptr, g_nbr, g_w = m.g
    a_ptr, a_trk, score = m.catalog[3], m.catalog[4], m.scratch.artist_value
    anchor_mark, mix_stamp, anchor_weight, anchor_rank = anchors
    recent, user_stamp, discovery_cap = rules.recent, rules.recent_stamp, rules.discovery_cap
    n_discovery, picked = _int(0), _int(0)
    while n_discovery < wanted and picked < n_kept:
        if picked < _SELECTED:
            best = picked
            for i in range(picked + 1, n_kept):
                if _better(score, kept[i], kept[best]):
                    best = i
            kept[picked], kept[best] = kept[best], kept[picked]
        elif picked == _SELECTED:
            _sort_best_first(kept, score, picked, n_kept)
        neighbour = kept[picked]
        picked += 1
        if m.scratch.listener_value[neighbour] < threshold:
            continue
        via = _strongest(
            g_ptr, g_nbr, g_w, neighbour, anchor_mark, mix_stamp, anchor_weight, anchor_rank
        )
        fresh = 0
        for p in range(a_ptr[neighbour], a_ptr[neighbour + 1]):
            if fresh >= discovery_cap or n_discovery >= wanted:
                break
            track = a_trk[p]
            if recent[track] == user_stamp or _credits_known(track, rules, anchor_mark, mix_stamp):
                continue
            fresh += 1
            if _admit(track, via, True, rules):
                discovery[n_discovery, 0] = track
                discovery[n_discovery, 1] = via
                discovery[n_discovery, 2] = neighbour
                n_discovery += 1
    return n_discovery


@njit(cache=True, _nrt=False)
def _style_first(familiar_order, limit, m, stamp):  # type: ignore[no-untyped-def]
    """Reorder a mix's anchors (``familiar_order``, by (-affinity, id)) in place so that the
    ``limit`` whose tags are closest to the other anchors' come first, in their order, then
    the rest closest first; returns how many come first (all of them when ``limit`` is 0 or
    they are no more). Closeness is the sum of an anchor's tag cosines with the others
    (unit rows of the model's tags: ``sum_t w_t * (S_t - w_t)``, S the anchors' sum, added
    up in anchor order and the anchor's tag order); an anchor without tags has none, and
    equals keep their order. The familiar tracks come from those first (``_take_familiar``):
    a mix of the listener's artists that share a style, not every artist of their scene.

    On hetrec-built validation directories (seeds 1-3) the mixes' tag coherence went from
    0.886x plain ALS's lists' to 1.130x at 8, the new artists' hit rate unchanged
    (tests/benchmarks/bench_discovery.py --validation): a mix's familiar artists, not its
    discoveries, were what made it less coherent than ALS's lists.
    ``stamp``: the mix's, marking ``style_value``; ``m.work``'s last three arrays are the
    scratch (per anchor: closeness, whether first, positions closest first)."""
    n = len(familiar_order)
    if limit <= 0 or n <= limit:
        return n
    at_ptr, at_tag, at_w = m.artist_tags
    value, marked = m.scratch.style_value, m.scratch.style_stamp
    closeness, first, held = m.work[11], m.work[12], m.work[13]
    for k in range(n):
        a = familiar_order[k]
        for j in range(at_ptr[a], at_ptr[a + 1]):
            t = at_tag[j]
            if marked[t] != stamp:
                marked[t] = stamp
                value[t] = 0.0
            value[t] += float(at_w[j])
    for k in range(n):
        a = familiar_order[k]
        total = 0.0
        for j in range(at_ptr[a], at_ptr[a + 1]):
            w = float(at_w[j])
            total += w * (value[at_tag[j]] - w)
        closeness[k] = total
    # Closest first, ties by position: an insertion sort of the positions (a mix has tens
    # of anchors). The first ``limit`` go back to their own order.
    for i in range(n):
        k = i
        while k > 0 and closeness[held[k - 1]] < closeness[i]:
            held[k] = held[k - 1]
            k -= 1
        held[k] = i
    for i in range(limit):
        first[held[i]] = True
    for i in range(limit, n):
        held[i] = familiar_order[held[i]]
    n_front = _int(0)
    for k in range(n):
        if first[k]:
            familiar_order[n_front] = familiar_order[k]
            n_front += 1
            first[k] = False
    for i in range(limit, n):
        familiar_order[i] = held[i]
    return limit


@njit(cache=True, inline="always")
def _bisect(values, value, right):  # type: ignore[no-untyped-def]
    """``np.searchsorted(values, value, side="right" if right else "left")``, allocating
    nothing (so callable where reference counting is off)."""
    lo, hi = 0, len(values)
    while lo < hi:
        mid = (lo + hi) // 2
        if values[mid] < value or (right and values[mid] == value):
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def mix_workspace(top_n, target, artists):  # type: ignore[no-untyped-def]
    """The arrays ``_fill_mix`` works in (made once per chunk, not per mix): per anchor its
    queue and whether it has tracks left, the draw's turn, the familiar and discovery picks,
    the scored neighbours, and the mix's rows with what ordering them needs."""
    rows = max(target, 1)
    return (
        np.empty((top_n, 3), np.int64),  # per anchor: own position, own end, popular position
        np.empty(top_n, np.bool_),  # anchor with tracks left
        np.empty(4, np.int64),  # the draw's turn: next anchor, alive, the round's bounds
        np.empty((rows, 2), np.int64),  # familiar (track, anchor)
        np.empty((rows, 3), np.int64),  # discovery (track, anchor, neighbour)
        np.empty(artists, np.int64),  # scored neighbours
        np.empty((rows, 4), np.int64),  # rows before spreading
        np.empty(rows, np.bool_),  # discovery slot
        np.empty(rows, np.int64),  # positions in play order
        np.empty(rows, np.bool_),  # placed or dropped
        np.empty(rows, np.int64),  # the rows' tracks
        np.empty(top_n, np.float64),  # per anchor: its tags' closeness to the others'
        np.zeros(top_n, np.bool_),  # per anchor: among the first drawn from (kept clear)
        np.empty(top_n, np.int64),  # the anchors closest first, while reordering
    )


@njit(cache=True, _nrt=False)
def _neighbours(anchors, weights, m, stamps, kept):  # type: ignore[no-untyped-def]
    """Mark the mix's ``anchors`` (with ``weights``) under the mix stamp, and gather into
    ``kept`` every graph neighbour of theirs the listener has not played or excluded, that is
    no anchor and is blocked with none, each once, with its graph score (the anchors' weights
    x their edges) in ``artist_value``. Returns the count."""
    g_ptr, g_nbr, g_w = m.g
    scratch = m.scratch
    score, score_stamp = scratch.artist_value, scratch.value_stamp
    anchor_mark, anchor_weight, anchor_rank = (
        scratch.anchor_mark,
        scratch.anchor_weight,
        scratch.anchor_rank,
    )
    user_stamp, mix_stamp = stamps
    for k in range(len(anchors)):
        anchor_mark[anchors[k]] = mix_stamp
        anchor_weight[anchors[k]] = weights[k]
        anchor_rank[anchors[k]] = k
    # Every neighbour of an anchor, scored (each artist once: at most all of them).
    n_touched = 0
    for k in range(len(anchors)):
        a = anchors[k]
        if k + 1 < len(anchors):
            prefetch_item(g_nbr, g_ptr[anchors[k + 1]])
        stop = g_ptr[a + 1]
        for j in range(g_ptr[a], stop):
            if j + _AHEAD < stop:
                prefetch_item(score_stamp, g_nbr[j + _AHEAD])  # the artist's hot marks
            other = g_nbr[j]
            if score_stamp[other] != mix_stamp:
                score_stamp[other] = mix_stamp
                score[other] = 0.0
                kept[n_touched] = other
                n_touched += 1
            score[other] += weights[k] * g_w[j]
    n_kept = _int(0)
    for i in range(n_touched):
        other = kept[i]
        if (
            scratch.played_artist[other] == user_stamp
            or scratch.excluded_artist[other] == user_stamp
            or anchor_mark[other] == mix_stamp
        ):
            continue
        if not _blocked_with_marked(m.blocked, other, anchor_mark, mix_stamp):
            kept[n_kept] = other
            n_kept += 1
    return n_kept


@njit(cache=True, _nrt=False)
def _fill_mix(anchors, weights, familiar, own, ranking, m, stamps, out, out_start):  # type: ignore[no-untyped-def]
    """One mix around ``anchors`` (iteration order, with ``weights``);
    ``familiar`` is (the anchors by (-affinity, id) as ``_style_first`` reorders them, how
    many of them come first: the familiar tracks' draw); ``own`` the listener's own tracks
    (artists, tracks: ``_own_tracks``); ``ranking`` is (their factors when the discovery
    slots are ranked by their own scores, empty when by the graph's proximity to the anchors;
    the best dot and the threshold of ``_discovery_threshold``); ``m`` the
    ``Mixing``; ``stamps`` the listener's and
    the mix's. Writes the mix's rows (track, via, neighbour, slot) in play order into ``out``
    from ``out_start``; returns their count.

    Compiled without reference counting and allocating nothing (``work`` is
    ``mix_workspace``'s): a listener's mixes otherwise cost hundreds of atomic reference
    count updates, for the arrays in the tuples passed down."""
    t_ptr, t_art, _, a_ptr, a_trk = m.catalog
    target, familiar_target, cap, discovery_cap, max_tracks = m.sizes
    scratch, work, min_share = m.scratch, m.work, m.min_share
    own_art, own_trk = own
    user_f, best_dot, threshold, scored = ranking
    played_track, score = scratch.played_track, scratch.artist_value
    anchor_mark, anchor_weight, anchor_rank = (
        scratch.anchor_mark,
        scratch.anchor_weight,
        scratch.anchor_rank,
    )
    queues, alive, turn, picks, discovery, kept, rows, is_slot, placed, used, column = work[:11]
    familiar_order, n_first = familiar
    user_stamp, mix_stamp = stamps
    # Familiar: round-robin over the anchors' own tracks, then their popular ones.
    n = len(familiar_order)
    for k in range(n):
        queues[k, 0] = _bisect(own_art, familiar_order[k], False)
        queues[k, 1] = _bisect(own_art, familiar_order[k], True)
        queues[k, 2] = a_ptr[familiar_order[k]]
        alive[k] = True
    turn[0], turn[1], turn[2], turn[3] = 0, n_first, 0, n_first
    rules = _rules(m, cap, discovery_cap, mix_stamp, user_stamp)
    draw = (familiar_order, queues, alive, turn, own_trk, a_ptr, a_trk, played_track, user_stamp)
    n_familiar = _take_familiar(familiar_target, picks, _int(0), draw, rules)
    # Discovery: graph neighbours of the anchors the listener has not played, best first.
    wanted = _discovery_count(target, familiar_target, min_share, n_familiar)
    n_discovery = 0
    if wanted > 0:
        n_kept = _neighbours(anchors, weights, m, stamps, kept)
        if len(user_f) > 0:
            listener = (user_f, best_dot, scored)
            _score_by_listener(kept, n_kept, listener, m, score, user_stamp)
            n_kept = _at_least(kept, n_kept, scratch.listener_value, threshold)
        marked = (anchor_mark, mix_stamp, anchor_weight, anchor_rank)
        n_discovery = _take_discoveries(
            kept, n_kept, wanted, discovery, m, marked, rules, threshold
        )
    # Too few discoveries: more familiar tracks fill the mix up to its target length (so a
    # mix never holds more than ``target`` rows: the workspace's size).
    shortfall = target - n_familiar - n_discovery
    if shortfall > 0:
        n_familiar = _take_familiar(n_familiar + shortfall, picks, n_familiar, draw, rules)
    # Interleave (discoveries each in the middle of their share), then spread the artists.
    count = n_familiar + n_discovery
    for position in range(count):
        is_slot[position] = False
        used[position] = False
    for i in range(n_discovery):
        is_slot[int((i + 0.5) * count / n_discovery)] = True
    next_f, next_d = 0, 0
    for position in range(count):
        if is_slot[position]:
            rows[position, 0] = discovery[next_d, 0]
            rows[position, 1] = discovery[next_d, 1]
            rows[position, 2] = discovery[next_d, 2]
            rows[position, 3] = 1
            next_d += 1
        else:
            rows[position, 0] = picks[next_f, 0]
            rows[position, 1] = picks[next_f, 1]
            rows[position, 2] = -1
            rows[position, 3] = 0
            next_f += 1
        column[position] = rows[position, 0]
    n_placed, _ = _spread_into(t_ptr, t_art, column, count, max_tracks, used, placed)
    for i in range(n_placed):
        for c in range(4):
            out[out_start + i, c] = rows[placed[i], c]
    return n_placed


@njit(cache=True)
def radar_workspace(artists, releases, per_release, max_tracks):  # type: ignore[no-untyped-def]
    """The arrays ``_fill_radar`` works in (made once per chunk, not per listener), at their
    largest: a circle of every artist, every artist's releases, ``per_release`` tracks of each
    release, and the placed rows."""
    ar_rel = releases[3]
    found = max((len(releases[0]) - 1) * per_release, 1)
    return (
        np.empty(max(artists, 1), np.int64),  # the circle's artists
        np.empty(max(len(ar_rel), 1), np.int64),  # their releases
        np.empty((found, 3), np.int64),  # closeness, track, artist
        np.empty(found, np.int64),  # found tracks, closest first
        np.empty((3, found), np.int64),  # admitted tracks: their tracks, artists, closeness
        np.empty(found, np.bool_),  # placed or dropped
        np.empty(max(max_tracks, 1), np.int64),  # positions in play order
        np.empty(found, np.float64),  # found tracks' scores by the listener
        np.empty((max(max_tracks, 1), 4), np.int64),  # the rows
    )


@njit(cache=True, _nrt=False)
def _fill_radar(top, top_w, follows, user_f, m, releases, radar_sizes, stamps, work):  # type: ignore[no-untyped-def]
    """One listener's Release Radar (its neighbours' releases ranked by the listener's own
    score when ``user_f`` holds their factors). Writes rows (track, closest
    artist, closeness, via) in play order into ``work``'s last array and returns their
    count; via names the anchor of a neighbour's reason (-1 for the listener's own artists).
    Like ``_fill_mix``: no reference counting, nothing allocated (``radar_workspace``).
    ``stamps``: (the listener's, the radar's, whether the listener excludes any track, and
    any artist)."""
    g, scratch = m.g, m.scratch
    t_ptr, t_art = m.catalog[0], m.catalog[1]
    ar_ptr, ar_rel, er_ptr, er_nbr = releases[2], releases[3], releases[4], releases[5]
    cap, per_release, max_tracks = radar_sizes
    # The closeness of each circle's artist.
    level, level_stamp = scratch.artist_value, scratch.value_stamp
    anchor_mark, anchor_weight, anchor_rank = (
        scratch.anchor_mark,
        scratch.anchor_weight,
        scratch.anchor_rank,
    )
    excluded_track, excluded_artist = scratch.excluded_track, scratch.excluded_artist
    circle, orders, found, ranked, kept, used, placed, found_score, out = work
    user_stamp, stamp, any_track, any_artist = stamps
    marks = (level, level_stamp, anchor_mark, anchor_weight, anchor_rank, stamp)
    n_circle = _circles(top, top_w, follows, ar_ptr, er_ptr, er_nbr, m.blocked, marks, circle)
    # Their releases, newest first (release numbers count from the newest).
    n_orders = _int(0)
    for k in range(n_circle):
        a = circle[k]
        for j in range(ar_ptr[a], ar_ptr[a + 1]):
            orders[n_orders] = ar_rel[j]
            n_orders += 1
    n_orders = _distinct(orders, 0, n_orders)
    exclusions = (excluded_track, excluded_artist, user_stamp, any_track, any_artist)
    n_found = _release_tracks(orders, n_orders, per_release, releases, marks, exclusions, found)
    _by_closeness(found, n_found, ranked)
    if len(user_f) > 0:
        _neighbours_by_listener(found, n_found, ranked, user_f, m, found_score, user_stamp)
    rules = _rules(m, cap, cap, stamp, user_stamp)
    anchors = (anchor_mark, stamp, anchor_weight, anchor_rank)
    # Admitted in order and spread: the first tracks admitted decide the radar when the spread
    # places all it keeps from them without dropping one (a later track could only have
    # filled a place that a drop left open); otherwise the rest are admitted too.
    for i in range(n_found):
        used[i] = False
    n_kept, admitted = _admit_releases(
        found, ranked, n_found, _int(0), max_tracks + _SPARE, kept, _int(0), g, anchors, rules
    )
    n_placed, dropped = _spread_into(t_ptr, t_art, kept[0], n_kept, max_tracks, used, placed)
    if admitted < n_found and (n_placed < max_tracks or dropped > 0):
        n_kept, admitted = _admit_releases(
            found, ranked, n_found, admitted, n_found, kept, n_kept, g, anchors, rules
        )
        for i in range(n_found):
            used[i] = False
        n_placed, _ = _spread_into(t_ptr, t_art, kept[0], n_kept, max_tracks, used, placed)
    _radar_rows(out, kept, placed, n_placed, g, anchors)
    return n_placed


@njit(cache=True, _nrt=False)
def _circles(top, top_w, follows, ar_ptr, er_ptr, er_nbr, blocked, marks, circle):  # type: ignore[no-untyped-def]
    """The radar's circles, marked with their level: followed 0, played 1, graph neighbours
    with a release 2 (never one blocked with an anchor), into ``circle``; and its anchors
    marked: the top artists, then followed ones not among them (in id order), a followed
    artist weighing as the strongest top one. Returns the circle's size."""
    level, level_stamp, anchor_mark, anchor_weight, anchor_rank, stamp = marks
    n = 0
    for a in follows:
        if ar_ptr[a + 1] > ar_ptr[a]:
            level_stamp[a] = stamp
            level[a] = 0.0
            circle[n] = a
            n += 1
    for a in top:
        if ar_ptr[a + 1] > ar_ptr[a] and level_stamp[a] != stamp:
            level_stamp[a] = stamp
            level[a] = 1.0
            circle[n] = a
            n += 1
    strongest = top_w[0] if len(top_w) > 0 else 1.0
    for a in follows:
        anchor_mark[a] = stamp
        anchor_weight[a] = strongest
    rank = 0
    for k in range(len(top)):
        a = top[k]
        if anchor_mark[a] != stamp:
            anchor_mark[a] = stamp
            anchor_weight[a] = top_w[k]
        anchor_rank[a] = rank
        rank += 1
    for a in follows:
        is_top = False
        for b in top:
            if b == a:
                is_top = True
                break
        if not is_top:
            anchor_rank[a] = rank
            rank += 1
    for group in range(2):
        anchors = top if group == 0 else follows
        for a in anchors:
            for j in range(er_ptr[a], er_ptr[a + 1]):
                other = er_nbr[j]
                if level_stamp[other] == stamp or anchor_mark[other] == stamp:
                    continue
                if not _blocked_with_marked(blocked, other, anchor_mark, stamp):
                    level_stamp[other] = stamp
                    level[other] = 2.0
                    circle[n] = other
                    n += 1
    return n


@njit(cache=True, _nrt=False)
def _release_tracks(orders, n_orders, per_release, releases, marks, exclusions, found):  # type: ignore[no-untyped-def]
    """Per release (newest first) its first ``per_release`` tracks the listener has not
    excluded, each with its closest artist, into ``found`` as (closeness, track, artist).
    Returns the count. The credits are the releases' own copy (``rc_ptr``, ``rc_art``): read
    from the catalogue's, each track's were a wait on main memory; and the exclusions are
    looked up only for a listener who has some."""
    rel_ptr, rel_trk, rc_ptr, rc_art = releases[0], releases[1], releases[6], releases[7]
    level, level_stamp, stamp = marks[0], marks[1], marks[5]
    excluded_track, excluded_artist, user_stamp, any_track, any_artist = exclusions
    n_found = 0
    for k in range(n_orders):
        order = orders[k]
        taken = 0
        for p in range(rel_ptr[order], rel_ptr[order + 1]):
            closest, artist = 3.0, -1
            for j in range(rc_ptr[p], rc_ptr[p + 1]):
                a = rc_art[j]
                if level_stamp[a] == stamp and level[a] < closest:
                    closest, artist = level[a], a
            track = rel_trk[p]
            if artist < 0 or (any_track and excluded_track[track] == user_stamp):
                continue
            allowed = True
            if any_artist:
                for j in range(rc_ptr[p], rc_ptr[p + 1]):
                    if excluded_artist[rc_art[j]] == user_stamp:
                        allowed = False
                        break
            if not allowed:
                continue
            found[n_found, 0] = int(closest)
            found[n_found, 1] = track
            found[n_found, 2] = artist
            n_found += 1
            taken += 1
            if taken >= per_release:
                break
    return n_found


@njit(cache=True, _nrt=False)
def _by_closeness(found, n_found, ranked):  # type: ignore[no-untyped-def]
    """Positions of ``found`` closest circle first, in the order found within a circle (a
    stable sort on three values)."""
    n = 0
    for closeness in range(3):
        for i in range(n_found):
            if found[i, 0] == closeness:
                ranked[n] = i
                n += 1


@njit(cache=True, _nrt=False)
def _neighbours_by_listener(found, n_found, ranked, user_f, m, score, user_stamp):  # type: ignore[no-untyped-def]
    """The neighbours' releases (the last circle in ``ranked``) reordered by the listener's
    own score of their artist, blended as in ``_score_by_listener`` (over the best of these
    artists), best first (ties: the order found, newest release first)."""
    first = _int(0)
    while first < n_found and found[ranked[first], 0] < 2:
        first += 1
    # A release's tracks mostly share their artist, found one after the other: the score of
    # the one before is reused (the same artist's, the same figure).
    best = 0.0
    for k in range(first, n_found):
        i = ranked[k]
        if k > first and found[ranked[k - 1], 2] == found[i, 2]:
            score[i] = score[ranked[k - 1]]
        else:
            score[i] = _listener_dot(user_f, m.artist_factors, found[i, 2])
        best = max(best, score[i])
    if best <= 0.0:
        best = 1.0
    for k in range(first, n_found):
        i = ranked[k]
        if k > first and found[ranked[k - 1], 2] == found[i, 2]:
            score[i] = score[ranked[k - 1]]
        else:
            score[i] = score[i] / best + m.tag_blend * _listener_tags(m, found[i, 2], user_stamp)
    _sort_best_first(ranked, score, first, _int(n_found))


@njit(cache=True, _nrt=False)
def _admit_releases(found, ranked, n_ranked, start, goal, kept, n_kept, g, anchors, rules):  # type: ignore[no-untyped-def]
    """The repetition rules over the radar's tracks found, in ``ranked[:n_ranked]`` order
    from ``start`` until ``goal`` are kept; the admitted go to ``kept``'s columns as (track,
    closest artist, closeness) after the ``n_kept`` there. Returns the new count kept and
    where it stopped in ``ranked``. A neighbour's track is checked against curator blocks
    with the anchor its reason will name."""
    g_ptr, g_nbr, g_w = g
    anchor_mark, stamp, anchor_weight, anchor_rank = anchors
    t_ptr, t_art, bl_ptr = rules.t_ptr, rules.t_art, rules.bl_ptr
    position = start
    while position < n_ranked and n_kept < goal:
        i = ranked[position]
        position += 1
        closeness, track, artist = found[i, 0], found[i, 1], found[i, 2]
        via = artist
        if closeness == 2:
            for j in range(t_ptr[track], t_ptr[track + 1]):
                if bl_ptr[t_art[j] + 1] > bl_ptr[t_art[j]]:
                    via = _strongest(
                        g_ptr, g_nbr, g_w, artist, anchor_mark, stamp, anchor_weight, anchor_rank
                    )
                    break
        if _admit(track, via, False, rules):
            kept[0, n_kept] = track
            kept[1, n_kept] = artist
            kept[2, n_kept] = closeness
            n_kept += 1
    return n_kept, position


@njit(cache=True, _nrt=False)
def _radar_rows(out, kept, placed, n_placed, g, anchors):  # type: ignore[no-untyped-def]
    """The placed radar tracks as rows (track, closest artist, closeness, via)."""
    g_ptr, g_nbr, g_w = g
    anchor_mark, stamp, anchor_weight, anchor_rank = anchors
    for i in range(n_placed):
        r = placed[i]
        out[i, 0] = kept[0, r]
        out[i, 1] = kept[1, r]
        out[i, 2] = kept[2, r]
        out[i, 3] = -1
        if kept[2, r] == 2:
            out[i, 3] = _strongest(
                g_ptr, g_nbr, g_w, kept[1, r], anchor_mark, stamp, anchor_weight, anchor_rank
            )


class Listeners(NamedTuple):
    """A chunk's listeners as ``generate_chunk`` reads them, one row each (CSR arrays:
    ``x_ptr[u]:x_ptr[u + 1]`` is listener u's slice of ``x``)."""

    h_ptr: Any  # history: per listener, where their plays start
    h_trk: Any  # per play row: the pool track (-1: not in the pool)
    h_plays: Any  # per play row: the play count
    h_heard: Any  # per play row: the share of the track heard, 0-1
    h_last: Any  # per play row: the day (since 1970) last played
    f_ptr: Any  # follows: per listener, where their followed artists start
    f_art: Any  # followed artists, each row sorted
    xa_ptr: Any  # "don't play this" artists: per listener, where they start
    xa_art: Any  # excluded artists, each row sorted
    xt_ptr: Any  # "don't play this" tracks: per listener, where they start
    xt_trk: Any  # excluded tracks, each row sorted
    personalised: Any  # per listener: False for opt-outs, strangers and the erased
    factors: Any  # per listener: their factors, ranking their discovery slots (0 columns: off)
    factored: Any  # per listener: whether they have factors (a row in the model)
    ut_ptr: Any  # tag profiles (with factors only): per listener, where their tags start
    ut_tag: Any  # the tags the listener plays (the model's tag columns)
    ut_w: Any  # their weights (a unit row)


class Mixing(NamedTuple):
    """What every listener's mixes read besides the listener: the catalogue, graph, scenes,
    blocks, sizes and limits, and the scratch and work arrays (see ``generate_chunk``)."""

    catalog: Any  # (t_ptr, t_art, t_isrc, a_ptr, a_trk)
    g: Any  # the graph: (g_ptr, g_nbr, g_w)
    scenes: Any  # (scene_of, sl_ptr, sl_nbr, sl_w)
    blocked: Any  # (bl_ptr, bl_art, has_blocks: per artist, whether it has any)
    sizes: Any  # (target, familiar target, cap, discovery cap, max tracks)
    min_share: float  # the least share of familiar tracks in a topped-up mix
    artist_factors: Any  # per artist: its factors (zeros: not in the model), for the ranking
    artist_tags: Any  # per artist: (at_ptr, at_tag, at_w) its tags in the model, a unit row
    tag_blend: float  # the tags' share in the listener's own score (``[als] tag_blend``)
    graph_weight: float  # the graph's share in that ranking (``discovery_graph_weight``)
    competition: float  # ``discovery_candidates_per_slot`` (0: each mix takes its own best)
    limits: Any  # (top artists, least cluster size, max mixes, min tracks, familiar artists)
    scratch: Any  # ``batch.Scratch``
    work: Any  # ``mix_workspace``


@njit(cache=True)
def _popular_top(popular, popular_w, excluded_artist, user_stamp, top_n):  # type: ignore[no-untyped-def]
    """The anchors of non-personalised mixes: the pool's most listened artists the listener
    has not excluded, at most ``top_n``, with their weights (listeners + 1)."""
    allowed = np.empty(len(popular), np.bool_)
    for k in range(len(popular)):
        allowed[k] = excluded_artist[popular[k]] != user_stamp
    mine = np.nonzero(allowed)[0][:top_n]
    return popular[mine], popular_w[mine]


@njit(cache=True)
def _cluster_anchors(top, top_w, cluster_of, c):  # type: ignore[no-untyped-def]
    """Cluster ``c``'s members (positions in ``top``, by (-affinity, id)), and its anchors
    with their weights by id (the order a mix iterates them in)."""
    members = np.nonzero(cluster_of == c)[0]
    by_id = members[_argsort(top[members])]
    return members, top[by_id], top_w[by_id]


@njit(cache=True)
def _fits(members, top, m):  # type: ignore[no-untyped-def]
    """Whether a mix around ``top[members]`` could reach the least length: every anchor's
    tracks up to the cap, and the most discoveries any familiar count up to those allows (a
    cheap bound, so that a region too small for a mix is not built only to be dropped)."""
    a_ptr = m.catalog[3]
    target, familiar_target, cap, _, _ = m.sizes
    every = 0
    for k in members:
        a = top[k]
        every += min(cap, a_ptr[a + 1] - a_ptr[a])
    discoveries = 0
    for f in range(min(every, familiar_target) + 1):
        discoveries = max(discoveries, _discovery_count(target, familiar_target, m.min_share, f))
    return min(target, every + discoveries) >= m.limits[3]


@njit(cache=True, _nrt=False)
def _gather(kept, n_kept, mark, stamp, union, n_union):  # type: ignore[no-untyped-def]
    """Append to ``union[:n_union]`` each of ``kept[:n_kept]`` not yet marked with
    ``stamp`` in ``mark``, marking it; returns the new count."""
    for j in range(n_kept):
        a = kept[j]
        if mark[a] != stamp:
            mark[a] = stamp
            union[n_union] = a
            n_union += 1
    return n_union


@njit(cache=True, _nrt=False)
def _own_scores(union, n_union, user_f, m, user_stamp, own):  # type: ignore[no-untyped-def]
    """Each candidate's own score (``_score_by_listener``'s blend) into ``own`` and into
    ``listener_value``, for the mixes to reuse: its factors are read once per listener, not
    once per mix. Returns the best dot product (1 when none is positive), which scales
    them. The rows of the candidates ``_AHEAD`` places on are prefetched: on a catalogue
    far larger than the cache, each row is otherwise a wait on main memory."""
    artist_factors, listener_value = m.artist_factors, m.scratch.listener_value
    at_ptr, at_tag, at_w = m.artist_tags
    columns = artist_factors.shape[1]
    best = 0.0
    for j in range(n_union):
        if j + _AHEAD < n_union:
            ahead = union[j + _AHEAD]
            for c in range(0, columns, _LINE_FLOATS):
                prefetch(artist_factors, ahead, c)
            if columns > 0:
                prefetch(artist_factors, ahead, columns - 1)
            prefetch_item(at_ptr, ahead)
        own[j] = _listener_dot(user_f, artist_factors, union[j])
        best = max(best, own[j])
    if best <= 0.0:
        best = 1.0
    for j in range(n_union):
        if j + _AHEAD < n_union:
            ahead = union[j + _AHEAD]
            prefetch_item(at_tag, at_ptr[ahead])
            prefetch_item(at_w, at_ptr[ahead])
            prefetch_item(listener_value, ahead)
        own[j] = own[j] / best + m.tag_blend * _listener_tags(m, union[j], user_stamp)
        listener_value[union[j]] = own[j]
    return best


@njit(cache=True)
def _discovery_threshold(top, top_w, clusters, user_f, m, user_stamp, state):  # type: ignore[no-untyped-def]
    """A listener's discovery slots go to their best candidates across all their mixes, not
    to each mix's best however weak: returns (the best dot product of the listener's factors
    with any candidate's, which scales every candidate's own score; the threshold, the own
    score of their N-th best candidate, -inf when they have no more than N; the stamp that
    marks the candidates in ``candidate_stamp``, whose own scores it leaves in
    ``listener_value``), where N is the
    planned mixes' discovery slots (``target - familiar target`` each) times
    ``discovery_candidates_per_slot`` (the ``competition``), and the candidates
    are every planned mix's (``_neighbours``), each artist once. The planned mixes are the
    clusters ``_user_mixes`` would try (those that ``_fits``, at most ``max_mixes``), or all
    of ``top`` when none fits and there are several clusters.

    A mix's own share of slots is kept: a weak region's unfilled slots take familiar tracks
    (hetrec-built validation directories, seeds 1-3: new artists held out at 0.975x plain
    ALS's rate at the same count with each mix's best, 1.001x with the listener's best across
    mixes; tests/benchmarks/bench_discovery.py --validation)."""
    cluster_of, n_clusters = clusters
    target, familiar_target = m.sizes[0], m.sizes[1]
    max_mixes = m.limits[2]
    scratch, kept = m.scratch, m.work[5]
    planned = np.empty(n_clusters + 1, np.int64)
    n_planned = 0
    for c in range(n_clusters):
        if n_planned >= max_mixes:
            break
        members, _, _ = _cluster_anchors(top, top_w, cluster_of, c)
        if _fits(members, top, m):
            planned[n_planned] = c
            n_planned += 1
    if n_planned == 0 and n_clusters > 1:
        planned[0] = -1  # the one mix around all of ``top``
        n_planned = 1
    state[1] += 1
    listener_mark = state[1]
    union = scratch.candidates  # reused: a listener's own array would cost an allocation each
    n_union = 0
    for i in range(n_planned):
        if planned[i] < 0:
            anchors, weights = top, top_w
        else:
            _, anchors, weights = _cluster_anchors(top, top_w, cluster_of, planned[i])
        state[1] += 1
        n_kept = _neighbours(anchors, weights, m, (user_stamp, state[1]), kept)
        n_union = _gather(kept, n_kept, scratch.candidate_stamp, listener_mark, union, n_union)
    own = np.empty(n_union, np.float64)
    best = _own_scores(union, n_union, user_f, m, user_stamp, own)
    wanted = int(m.competition * n_planned * (target - familiar_target))
    if wanted <= 0 or n_union <= wanted:
        return best, -np.inf, listener_mark
    return best, np.partition(own, n_union - wanted)[n_union - wanted], listener_mark


@njit(cache=True)
def _user_mixes(u, top, top_w, own, user_f, popular, user_stamp, m, state, notes, out):  # type: ignore[no-untyped-def]
    """The mixes of listener ``u`` around ``top`` (by (-weight, id)),
    their own tracks ``own`` (artists, tracks): one mix per cluster of ``top`` while fewer
    than ``max_mixes``, or one around all of ``top`` when no cluster made one. Appends rows
    to ``out`` (mixes, tracks, and their counts); ``popular`` marks the mixes as built
    around the pool's popular artists. Returns the count of mixes made."""
    mixes, tracks, counts = out
    _, min_size, max_mixes, min_tracks, familiar_artists = m.limits
    cluster_of, n_clusters = _clusters(top, top_w, m.scenes, min_size)
    best_dot, threshold, scored = 1.0, -np.inf, _int(-1)
    if len(user_f) > 0:
        best_dot, threshold, scored = _discovery_threshold(
            top, top_w, (cluster_of, n_clusters), user_f, m, user_stamp, state
        )
    ranking = (user_f, best_dot, threshold, scored)
    user_mixes = 0
    for c in range(n_clusters + 1):
        fallback = c == n_clusters
        if fallback:
            if user_mixes > 0 or n_clusters <= 1:
                break
            members = np.arange(len(top))
            anchors = top.copy()
            weights = top_w.copy()
        else:
            if user_mixes >= max_mixes:
                break
            members, anchors, weights = _cluster_anchors(top, top_w, cluster_of, c)
            if not _fits(members, top, m):
                notes[u] += 1
                continue
        familiar_order = top[members]
        state[1] += 1
        n_first = _style_first(familiar_order, familiar_artists, m, state[1])
        # Written where the mix goes; a failed one is overwritten by the next (never past
        # the end: a listener tries a mix only while they have fewer than ``max_mixes``).
        n_tracks = counts[1]
        stamps = (user_stamp, state[1])
        familiar = (familiar_order, n_first)
        count = _fill_mix(anchors, weights, familiar, own, ranking, m, stamps, tracks, n_tracks)
        if count < min_tracks:
            notes[u] += int(not fallback)  # a failed fallback makes no note of its own
            continue
        if fallback:
            notes[u] += 1
        row = mixes[counts[0]]
        row[MIX_USER] = u
        row[MIX_START] = n_tracks
        row[MIX_STOP] = n_tracks + count
        row[MIX_ANCHOR1] = familiar_order[0]
        row[MIX_ANCHOR2] = familiar_order[1] if len(familiar_order) > 1 else -1
        row[MIX_ANCHORS] = len(familiar_order)
        row[MIX_POPULAR] = popular
        counts[0] += 1
        counts[1] += count
        user_mixes += 1
    if user_mixes == 0 and notes[u] == 0:
        notes[u] += 1  # "no artists to build a mix around"
    return user_mixes


@njit(cache=True)
def _mark_listener(listeners, u, stamp, personalised, cutoff, scratch):  # type: ignore[no-untyped-def]
    """Mark listener ``u``'s exclusions and tag profile under ``stamp``, and (when
    ``personalised``) their played and recently played tracks."""
    ls = listeners
    if personalised:
        for i in range(ls.h_ptr[u], ls.h_ptr[u + 1]):
            track = ls.h_trk[i]
            if track >= 0:
                scratch.played_track[track] = stamp
                if ls.h_last[i] >= cutoff:
                    scratch.recent_track[track] = stamp
    for i in range(ls.ut_ptr[u], ls.ut_ptr[u + 1]):
        scratch.tag_value[ls.ut_tag[i]] = float(ls.ut_w[i])
        scratch.tag_stamp[ls.ut_tag[i]] = stamp
    for i in range(ls.xa_ptr[u], ls.xa_ptr[u + 1]):
        scratch.excluded_artist[ls.xa_art[i]] = stamp
    for i in range(ls.xt_ptr[u], ls.xt_ptr[u + 1]):
        scratch.excluded_track[ls.xt_trk[i]] = stamp


@njit(cache=True)
def generate_chunk(listeners, cutoff, m, popular, releases, radar_sizes, state):  # type: ignore[no-untyped-def]
    """Personal mixes and Release Radar of each listener of a chunk (``Listeners``).

    ``m`` is the ``Mixing`` (with the scratch arrays, stamped: see the module docstring);
    ``popular`` the pool's most listened artists and their weights, the anchors of anyone
    without personalisation and of a history too thin for a mix of its own; ``cutoff`` the
    first day of "played recently"; ``state`` the stamps between calls. Returns (mixes, mix
    tracks, notes per user, radar rows)."""
    ls, scratch = listeners, m.scratch
    t_ptr, t_art = m.catalog[0], m.catalog[1]
    top_n, _, max_mixes, _, _ = m.limits
    max_tracks = m.sizes[4]
    n_users = len(ls.h_ptr) - 1
    mixes = np.empty((n_users * max_mixes, 7), np.int64)
    tracks = np.empty((n_users * max_mixes * max_tracks, 4), np.int64)
    radar = np.empty((n_users * radar_sizes[2], 5), np.int64)
    notes = np.zeros(n_users, np.int64)
    counts = np.zeros(2, np.int64)  # mixes and mix tracks written
    touched = np.empty(len(scratch.artist_value), np.int64)  # a listener's played artists
    radar_work = radar_workspace(
        len(scratch.artist_value), releases, radar_sizes[1], radar_sizes[2]
    )
    ones = np.ones(len(popular[0]), np.float64)
    no_own = np.zeros(0, np.int64)
    no_factors = np.zeros(0, ls.factors.dtype)
    n_radar = _int(0)
    for u in range(n_users):
        personalised = ls.personalised[u]
        state[0] += 1
        stamp = state[0]
        _mark_listener(ls, u, stamp, personalised, cutoff, scratch)
        if personalised:
            # affinity shares the score array; its own stamp keeps the user's played artists.
            state[1] += 1
            top, top_w, radar_top, radar_top_w = _top_artists(ls, u, m, stamp, touched)
            own = _own_tracks(ls, u, t_ptr, t_art)
        else:
            top, top_w = _popular_top(popular[0], popular[1], scratch.excluded_artist, stamp, top_n)
            radar_top, radar_top_w = popular[0], ones
            own = (no_own, no_own)
        out = (mixes, tracks, counts)
        user_f = ls.factors[u] if personalised and ls.factored[u] else no_factors
        made = _user_mixes(
            u, top, top_w, own, user_f, _int(not personalised), stamp, m, state, notes, out
        )
        if made == 0 and personalised:
            # A history too thin for a mix: mixes around the pool's popular artists, with
            # what the listener plays still kept out of their discovery slots.
            notes[u] += 1
            top, top_w = _popular_top(popular[0], popular[1], scratch.excluded_artist, stamp, top_n)
            _user_mixes(u, top, top_w, own, user_f, _int(1), stamp, m, state, notes, out)
        state[1] += 1
        follows = ls.f_art[ls.f_ptr[u] : ls.f_ptr[u + 1]] if personalised else no_own
        any_track, any_artist = ls.xt_ptr[u + 1] > ls.xt_ptr[u], ls.xa_ptr[u + 1] > ls.xa_ptr[u]
        stamps = (stamp, state[1], any_track, any_artist)
        count = _fill_radar(
            radar_top, radar_top_w, follows, user_f, m, releases, radar_sizes, stamps, radar_work
        )
        rows = radar_work[-1]
        for i in range(count):
            radar[n_radar, RADAR_USER] = u
            radar[n_radar, RADAR_TRACK] = rows[i, 0]
            radar[n_radar, RADAR_ARTIST] = rows[i, 1]
            radar[n_radar, RADAR_CLOSENESS] = rows[i, 2]
            radar[n_radar, RADAR_VIA] = rows[i, 3]
            n_radar += 1
    return mixes[: counts[0]], tracks[: counts[1]], notes, radar[:n_radar]


@njit(cache=True)
def admit_in_order(listeners, tracks, vias, seed, cap, limit, m, state):  # type: ignore[no-untyped-def]
    """The repetition rules (``_admit``, the one statement of them) over ``tracks`` in
    order, as one mix of the one listener of ``listeners`` (their exclusions), each track's
    reason naming artist ``vias[i]`` (-1: none) and no track crediting an artist blocked with
    ``seed`` (-1: none); then spread so that no artist plays twice in a row, the first
    ``limit``. Returns the positions in ``tracks`` kept, in play order: how a radio, drawn in
    Python, is held to the same rules as the mixes."""
    scratch = m.scratch
    t_ptr, t_art = m.catalog[0], m.catalog[1]
    bl_ptr, bl_art, _ = m.blocked
    state[0] += 1
    user_stamp = state[0]
    # Exclusions only (a radio's rules never read the history); variables, not literals,
    # so that ``_mark_listener`` is not compiled a second time for literal arguments.
    first, history = _int(0), listeners.personalised[:0].any()
    _mark_listener(listeners, first, user_stamp, history, first, scratch)
    state[1] += 1
    rules = _rules(m, cap, cap, state[1], user_stamp)
    kept = np.empty(len(tracks), np.int64)
    n = _int(0)
    for i in range(len(tracks)):
        if _blocked_with(bl_ptr, bl_art, t_ptr, t_art, seed, tracks[i]):
            continue
        if _admit(tracks[i], vias[i], False, rules):
            kept[n] = i
            n += 1
    used = np.zeros(n, np.bool_)
    placed = np.empty(max(limit, 1), np.int64)
    n_placed, _ = _spread_into(t_ptr, t_art, tracks[kept[:n]], n, limit, used, placed)
    return kept[placed[:n_placed]]


@njit(cache=True, inline="always")
def _distinct(values, start, stop):  # type: ignore[no-untyped-def]
    """Sort values[start:stop] in place and keep each value once; returns the new stop."""
    _sort(values[start:stop])
    end = _int(start)
    for i in range(start, stop):
        if i == start or values[i] != values[end - 1]:
            values[end] = values[i]
            end += 1
    return end


@njit(cache=True)
def part_members(mixes, tracks, radar, n_users, t_ptr, t_art):  # type: ignore[no-untyped-def]
    """For each user, the distinct tracks and artists of their mixes and of their radar,
    sorted (numbers sort as ids do): what a stored payload's header names. Returns four
    (indptr, values) pairs: mix tracks, mix artists, radar tracks, radar artists."""
    every = np.arange(n_users + 1)
    parts = []
    for kind in range(2):
        if kind == 0:
            rows_ptr = np.searchsorted(mixes[:, MIX_USER], every)
            chosen = tracks[:, TRACK]
            track_of_row = np.empty(len(chosen), np.int64)
            row_ptr = np.zeros(n_users + 1, np.int64)
            for u in range(n_users):
                n = row_ptr[u]
                for m in range(rows_ptr[u], rows_ptr[u + 1]):
                    for i in range(mixes[m, MIX_START], mixes[m, MIX_STOP]):
                        track_of_row[n] = chosen[i]
                        n += 1
                row_ptr[u + 1] = n
        else:
            row_ptr = np.searchsorted(radar[:, RADAR_USER], every)
            track_of_row = radar[:, RADAR_TRACK].copy()
        credits = 0
        for t in track_of_row:
            credits += t_ptr[t + 1] - t_ptr[t]
        track_ptr = np.zeros(n_users + 1, np.int64)
        artist_ptr = np.zeros(n_users + 1, np.int64)
        track_values = np.empty(len(track_of_row), np.int64)
        artist_values = np.empty(credits, np.int64)
        n_tracks, n_artists = 0, 0
        for u in range(n_users):
            start = n_tracks
            for r in range(row_ptr[u], row_ptr[u + 1]):
                track_values[n_tracks] = track_of_row[r]
                n_tracks += 1
            n_tracks = _distinct(track_values, start, n_tracks)
            track_ptr[u + 1] = n_tracks
            first = n_artists
            for k in range(start, n_tracks):
                t = track_values[k]
                for j in range(t_ptr[t], t_ptr[t + 1]):
                    artist_values[n_artists] = t_art[j]
                    n_artists += 1
            n_artists = _distinct(artist_values, first, n_artists)
            artist_ptr[u + 1] = n_artists
        parts.append((track_ptr, track_values[:n_tracks]))
        parts.append((artist_ptr, artist_values[:n_artists]))
    return parts[0], parts[1], parts[2], parts[3]


@njit(cache=True)
def users_excluding(members, listeners):  # type: ignore[no-untyped-def]
    """Per user, whether their mixes or radar hold a track they excluded or credit an artist
    they excluded (``members``: ``part_members``'; ``listeners``: the chunk's ``Listeners``)."""
    xa_ptr, xa_art = listeners.xa_ptr, listeners.xa_art
    xt_ptr, xt_trk = listeners.xt_ptr, listeners.xt_trk
    n_users = len(xa_ptr) - 1
    found = np.zeros(n_users, np.bool_)
    for part in range(4):
        ptr, values = members[part]
        is_track = part % 2 == 0
        for u in range(n_users):
            if is_track:
                lo, hi, excluded = xt_ptr[u], xt_ptr[u + 1], xt_trk
            else:
                lo, hi, excluded = xa_ptr[u], xa_ptr[u + 1], xa_art
            if lo == hi:
                continue
            for i in range(ptr[u], ptr[u + 1]):
                if _in_sorted(excluded, lo, hi, values[i]):
                    found[u] = True
                    break
    return found
