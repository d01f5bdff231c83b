"""The generator registry and runner: generators found by name, the final filter applied.

A generator is a function ``(engine, request) -> GenerationResult``: personal mixes and
Release Radar come from the engine's compiled generators (``Engine.generate``, the same code
as a rebuild's), radios from ``radio``. The runner, not the generator, applies the final
filter, so no generator can forget it (STYLE.md, point 4).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from recsys.domain.exclusions import NO_EXCLUSIONS
from recsys.engine.loading import Engine
from recsys.generators import radio
from recsys.generators.context import UserProfile
from recsys.generators.result import GenerationResult
from recsys.serving.final_filter import final_filter


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    user: UserProfile | None = None
    seed_artist: str | None = None
    seed_track: str | None = None


Generator = Callable[[Engine, GenerationRequest], GenerationResult]


def _needs_user(request: GenerationRequest) -> UserProfile:
    if request.user is None:
        raise ValueError("this generator needs a user")
    return request.user


def _personal_mixes(engine: Engine, request: GenerationRequest) -> GenerationResult:
    (output,) = engine.generate([_needs_user(request)])
    return GenerationResult(output.mixes)


def _release_radar(engine: Engine, request: GenerationRequest) -> GenerationResult:
    (output,) = engine.generate([_needs_user(request)])
    return GenerationResult((output.release_radar,))


def _artist_radio(engine: Engine, request: GenerationRequest) -> GenerationResult:
    if request.seed_artist is None:
        raise ValueError("an artist radio needs a seed artist")
    return radio.artist_radio(
        engine.context, request.seed_artist, request.user, engine.admit_in_order
    )


def _track_radio(engine: Engine, request: GenerationRequest) -> GenerationResult:
    if request.seed_track is None:
        raise ValueError("a track radio needs a seed track")
    return radio.track_radio(
        engine.context, request.seed_track, request.user, engine.admit_in_order
    )


GENERATORS: dict[str, Generator] = {
    "personal_mixes": _personal_mixes,
    "release_radar": _release_radar,
    "artist_radio": _artist_radio,
    "track_radio": _track_radio,
}


def run_generator(
    name: str, engine: Engine, request: GenerationRequest
) -> tuple[GenerationResult, Counter[str]]:
    """Generate, then pass every mix through the final filter; counts of what it removed."""
    result = GENERATORS[name](engine, request)
    gate = engine.gate
    exclusions = request.user.exclusions if request.user is not None else NO_EXCLUSIONS
    dropped: Counter[str] = Counter()
    mixes = []
    for mix in result.mixes:
        filtered, removed = final_filter(mix, gate, exclusions)
        mixes.append(filtered)
        dropped.update(removed)
    return GenerationResult(tuple(mixes), result.notes), dropped
