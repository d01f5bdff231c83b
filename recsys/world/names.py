"""Names, titles and tags: artist, label, release and track names drawn from fixed word lists.

Genuine names follow a handful of real-world patterns ("Nadia Okafor", "The Pale Owls"); spam
farms use search-bait phrases with serial numbers, as real AI spam uploads do.
"""

from __future__ import annotations

import numpy as np

from recsys.world.arrays import IntArray
from recsys.world.codes import RELEASE_EP, RELEASE_SINGLE
from recsys.world.scenes import Scene
from recsys.world.word_lists import (
    ADJECTIVES,
    FARM_NAME_NOUNS,
    FARM_NAME_WORDS,
    FARM_TAGS,
    FARM_TITLE_PHRASES,
    FIRST_NAMES,
    LABEL_SUFFIXES,
    LAST_NAMES,
    NOUNS,
    PLURAL_NOUNS,
    VERBS,
)


def label_names(count: int, rng: np.random.Generator) -> list[str]:
    """Label names such as "Quiet Harbour Records" or "Okafor Tapes"."""
    pattern = rng.integers(0, 3, count).tolist()
    a = rng.integers(0, len(ADJECTIVES), count).tolist()
    n = rng.integers(0, len(NOUNS), count).tolist()
    last = rng.integers(0, len(LAST_NAMES), count).tolist()
    suffix = rng.integers(0, len(LABEL_SUFFIXES), count).tolist()
    names = []
    for i in range(count):
        if pattern[i] == 0:
            stem = f"{ADJECTIVES[a[i]]} {NOUNS[n[i]]}"
        elif pattern[i] == 1:
            stem = LAST_NAMES[last[i]]
        else:
            stem = NOUNS[n[i]]
        names.append(f"{stem} {LABEL_SUFFIXES[suffix[i]]}")
    return names


def artist_names(count: int, rng: np.random.Generator) -> list[str]:
    """Genuine artist names in common real-world shapes; repeats happen, as in real catalogues."""
    pattern = rng.choice(9, size=count, p=[0.25, 0.15, 0.18, 0.1, 0.05, 0.08, 0.04, 0.05, 0.1])
    first = rng.integers(0, len(FIRST_NAMES), count).tolist()
    last = rng.integers(0, len(LAST_NAMES), count).tolist()
    adj = rng.integers(0, len(ADJECTIVES), count).tolist()
    noun = rng.integers(0, len(NOUNS), count).tolist()
    noun2 = rng.integers(0, len(NOUNS), count).tolist()
    plural = rng.integers(0, len(PLURAL_NOUNS), count).tolist()
    names = []
    for i, kind in enumerate(pattern.tolist()):
        if kind == 0:
            name = f"{FIRST_NAMES[first[i]]} {LAST_NAMES[last[i]]}"
        elif kind == 1:
            name = f"The {ADJECTIVES[adj[i]]} {PLURAL_NOUNS[plural[i]]}"
        elif kind == 2:
            name = f"{ADJECTIVES[adj[i]]} {NOUNS[noun[i]]}"
        elif kind == 3:
            name = f"{NOUNS[noun[i]]} {NOUNS[noun2[i]]}"
        elif kind == 4:
            name = FIRST_NAMES[first[i]].upper()
        elif kind == 5:
            name = f"{FIRST_NAMES[first[i]]} & the {PLURAL_NOUNS[plural[i]]}"
        elif kind == 6:
            name = f"DJ {FIRST_NAMES[first[i]]}"
        elif kind == 7:
            name = PLURAL_NOUNS[plural[i]]
        else:
            name = f"{ADJECTIVES[adj[i]]} {PLURAL_NOUNS[plural[i]]}"
        names.append(name)
    return names


def farm_artist_names(count: int, rng: np.random.Generator) -> list[str]:
    """Spam-farm "artist" names: search-bait words plus a serial number."""
    word = rng.integers(0, len(FARM_NAME_WORDS), count).tolist()
    noun = rng.integers(0, len(FARM_NAME_NOUNS), count).tolist()
    number = rng.integers(1, 1000, count).tolist()
    return [
        f"{FARM_NAME_WORDS[w]} {FARM_NAME_NOUNS[n]} {k}"
        for w, n, k in zip(word, noun, number, strict=True)
    ]


def draw_titles(
    release_kind: IntArray,
    release_artist: IntArray,
    artist_farm: IntArray,
    release_sizes: IntArray,
    rng: np.random.Generator,
) -> tuple[list[str], list[str]]:
    """Track and release titles; a single is titled after its lead track. Farms use
    search-bait phrases with serial numbers."""
    tracks = int(release_sizes.sum())
    pattern = rng.integers(0, 7, tracks).tolist()
    adj = rng.integers(0, len(ADJECTIVES), tracks).tolist()
    noun = rng.integers(0, len(NOUNS), tracks).tolist()
    noun2 = rng.integers(0, len(NOUNS), tracks).tolist()
    verb = rng.integers(0, len(VERBS), tracks).tolist()
    plural = rng.integers(0, len(PLURAL_NOUNS), tracks).tolist()
    phrase = rng.integers(0, len(FARM_TITLE_PHRASES), tracks).tolist()
    serial = rng.integers(1, 500, tracks).tolist()
    release_farm = (artist_farm[release_artist] >= 0).tolist()
    release_pattern = rng.integers(0, 4, len(release_kind)).tolist()
    volume = rng.integers(1, 60, len(release_kind)).tolist()
    track_titles: list[str] = []
    release_titles: list[str] = []
    position = 0
    for release, size in enumerate(release_sizes.tolist()):
        farm = release_farm[release]
        for i in range(position, position + size):
            if farm:
                track_titles.append(f"{FARM_TITLE_PHRASES[phrase[i]]} {serial[i]}")
                continue
            kind = pattern[i]
            if kind == 0:
                title = NOUNS[noun[i]]
            elif kind == 1:
                title = f"{ADJECTIVES[adj[i]]} {NOUNS[noun[i]]}"
            elif kind == 2:
                title = VERBS[verb[i]]
            elif kind == 3:
                title = f"{NOUNS[noun[i]]} of {PLURAL_NOUNS[plural[i]]}"
            elif kind == 4:
                title = f"{VERBS[verb[i]]} in the {NOUNS[noun2[i]]}"
            elif kind == 5:
                title = f"The {ADJECTIVES[adj[i]]} {NOUNS[noun2[i]]}"
            else:
                title = f"{ADJECTIVES[adj[i]]} {PLURAL_NOUNS[plural[i]]}"
            track_titles.append(title)
        if release_kind[release] == RELEASE_SINGLE:
            release_titles.append(track_titles[position])
        elif farm:
            release_titles.append(f"{FARM_TITLE_PHRASES[phrase[position]]} Vol. {volume[release]}")
        else:
            i = position
            if release_pattern[release] == 0:
                release_titles.append(f"{ADJECTIVES[adj[i]]} {PLURAL_NOUNS[plural[i]]}")
            elif release_pattern[release] == 1:
                release_titles.append(f"{NOUNS[noun2[i]]}")
            elif release_pattern[release] == 2:
                release_titles.append(f"Songs from the {NOUNS[noun2[i]]}")
            else:
                suffix = " EP" if release_kind[release] == RELEASE_EP else ""
                release_titles.append(f"{ADJECTIVES[adj[i]]} {NOUNS[noun2[i]]}{suffix}")
        position += size
    return release_titles, track_titles


def draw_release_tags(
    scenes: tuple[Scene, ...], release_scene: IntArray, releases: int, rng: np.random.Generator
) -> list[tuple[str, ...]]:
    """Tags mostly from the primary scene, sometimes one borrowed from a neighbouring scene;
    farms pick functional-music words. Tracks inherit their release's tags."""
    keep = rng.random((releases, 4))
    borrow = rng.random(releases) < 0.12
    side = rng.integers(0, 2, releases).tolist()
    farm_tags = rng.integers(0, len(FARM_TAGS), (releases, 3)).tolist()
    out: list[tuple[str, ...]] = []
    cache: dict[tuple[int, int, int], tuple[str, ...]] = {}
    for release, scene_index in enumerate(release_scene.tolist()):
        if scene_index < 0:
            picked = tuple(dict.fromkeys(FARM_TAGS[t] for t in farm_tags[release]))
            out.append(picked)
            continue
        scene = scenes[scene_index]
        mask = 0
        for position in range(len(scene.tags)):
            threshold = 0.9 if position == 0 else 0.5
            if keep[release, position] < threshold:
                mask |= 1 << position
        if mask == 0:
            mask = 1
        neighbour = scene.neighbours[side[release]] if borrow[release] else -1
        key = (scene_index, mask, neighbour)
        tags = cache.get(key)
        if tags is None:
            chosen = [tag for position, tag in enumerate(scene.tags) if mask >> position & 1]
            if neighbour >= 0 and scenes[neighbour].tags[0] not in chosen:
                chosen.append(scenes[neighbour].tags[0])
            tags = tuple(chosen)
            cache[key] = tags
        out.append(tags)
    return out
