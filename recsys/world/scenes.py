"""Stylistic scenes: which of the fixed scene templates a world uses, and their neighbours."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.world.word_lists import SCENE_TEMPLATES


@dataclass(frozen=True, slots=True)
class Scene:
    """A stylistic scene; `neighbours` are the indices of the two closest scenes."""

    name: str
    tags: tuple[str, ...]
    neighbours: tuple[int, int]
    median_duration_s: int


def choose_scenes(count: int, rng: np.random.Generator) -> tuple[Scene, ...]:
    """Pick `count` scenes keeping the template order, so list neighbours stay stylistic
    neighbours; the list is a ring."""
    if not 1 <= count <= len(SCENE_TEMPLATES):
        raise ValueError(f"scene count must be within 1..{len(SCENE_TEMPLATES)}")
    chosen = np.sort(rng.choice(len(SCENE_TEMPLATES), size=count, replace=False)).tolist()
    scenes = []
    for position, template_index in enumerate(chosen):
        template = SCENE_TEMPLATES[template_index]
        scenes.append(
            Scene(
                name=template.name,
                tags=template.tags,
                neighbours=((position - 1) % count, (position + 1) % count),
                median_duration_s=template.median_duration_s,
            )
        )
    return tuple(scenes)
