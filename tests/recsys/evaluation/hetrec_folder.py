"""A tiny hetrec2011-lastfm-2k-format folder written by the tests (never the real data set).

Four scenes of artists, each with its own tags; listeners stay mostly in one scene and tag
what they play, so a model can learn something and coherence means something. One heavy
listener plays one artist 200,000 times, as hetrec's fans do, so the play cap is exercised.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SCENES = {
    "metal": ("metal", "heavy", "guitar"),
    "techno": ("techno", "electronic", "dance"),
    "jazz": ("jazz", "swing", "saxophone"),
    "folk": ("folk", "acoustic", "songwriter"),
}
ARTISTS_PER_SCENE = 10
HEAVY_USER = 1
HEAVY_PLAYS = 200_000


def write_hetrec_folder(folder: Path, users: int = 48, seed: int = 0) -> Path:
    """Write ``artists.dat``, ``tags.dat``, ``user_artists.dat`` and
    ``user_taggedartists.dat`` (tab-separated, with headers) into ``folder``."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    scenes = list(SCENES)
    tag_ids = {tag: i + 1 for i, tag in enumerate(t for s in scenes for t in SCENES[s])}
    n_artists = len(scenes) * ARTISTS_PER_SCENE
    scene_of = [scenes[a // ARTISTS_PER_SCENE] for a in range(n_artists)]
    artists = ["id\tname\turl\tpictureURL"] + [
        f"{100 + a}\t{scene_of[a].title()} Artist {a}\thttp://x/{a}\thttp://p/{a}"
        for a in range(n_artists)
    ]
    tags = ["tagID\ttagValue"] + [f"{i}\t{tag}" for tag, i in tag_ids.items()]
    plays = ["userID\tartistID\tweight"]
    tagged = ["userID\tartistID\ttagID\tday\tmonth\tyear"]
    for user in range(1, users + 1):
        home = user % len(scenes)
        own = rng.choice(ARTISTS_PER_SCENE, size=7, replace=False) + home * ARTISTS_PER_SCENE
        other = rng.choice(n_artists, size=3, replace=False)
        for rank, artist in enumerate(sorted(set(own.tolist()) | set(other.tolist()))):
            weight = HEAVY_PLAYS if user == HEAVY_USER and rank == 0 else rng.lognormal(5, 1.2)
            plays.append(f"{user}\t{100 + artist}\t{int(weight) + 1}")
            if rng.random() < 0.6:
                tag = SCENES[scene_of[artist]][int(rng.integers(3))]
                tagged.append(f"{user}\t{100 + artist}\t{tag_ids[tag]}\t1\t1\t2010")
    for name, lines in {
        "artists.dat": artists,
        "tags.dat": tags,
        "user_artists.dat": plays,
        "user_taggedartists.dat": tagged,
    }.items():
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder
