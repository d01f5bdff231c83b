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


def write_hetrec_folder(
    folder: Path,
    users: int = 48,
    seed: int = 0,
    *,
    artists_per_scene: int = ARTISTS_PER_SCENE,
    own: int = 7,
    other: int = 3,
    plays: tuple[float, float] = (5.0, 1.2),
    tag_share: float = 0.6,
    heavy_plays: int | None = HEAVY_PLAYS,
) -> Path:
    """Write ``artists.dat``, ``tags.dat``, ``user_artists.dat`` and
    ``user_taggedartists.dat`` (tab-separated, with headers) into ``folder``: each listener
    plays ``own`` artists of their home scene and ``other`` anywhere, with lognormal(``plays``)
    plays, tagging a ``tag_share`` of them; ``HEAVY_USER``'s first artist gets ``heavy_plays``
    (None: no heavy listener)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    scenes = list(SCENES)
    tag_ids = {tag: i + 1 for i, tag in enumerate(t for s in scenes for t in SCENES[s])}
    n_artists = len(scenes) * artists_per_scene
    scene_of = [scenes[a // artists_per_scene] for a in range(n_artists)]
    artists = ["id\tname\turl\tpictureURL"] + [
        f"{100 + a}\t{scene_of[a].title()} Artist {a}\thttp://x/{a}\thttp://p/{a}"
        for a in range(n_artists)
    ]
    tags = ["tagID\ttagValue"] + [f"{i}\t{tag}" for tag, i in tag_ids.items()]
    rows = ["userID\tartistID\tweight"]
    tagged = ["userID\tartistID\ttagID\tday\tmonth\tyear"]
    for user in range(1, users + 1):
        home = user % len(scenes)
        mine = rng.choice(artists_per_scene, size=own, replace=False) + home * artists_per_scene
        elsewhere = rng.choice(n_artists, size=other, replace=False)
        for rank, artist in enumerate(sorted(set(mine.tolist()) | set(elsewhere.tolist()))):
            heavy = heavy_plays is not None and user == HEAVY_USER and rank == 0
            weight = heavy_plays if heavy else rng.lognormal(*plays)
            rows.append(f"{user}\t{100 + artist}\t{int(weight) + 1}")
            if rng.random() < tag_share:
                tag = SCENES[scene_of[artist]][int(rng.integers(3))]
                tagged.append(f"{user}\t{100 + artist}\t{tag_ids[tag]}\t1\t1\t2010")
    for name, lines in {
        "artists.dat": artists,
        "tags.dat": tags,
        "user_artists.dat": rows,
        "user_taggedartists.dat": tagged,
    }.items():
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder
