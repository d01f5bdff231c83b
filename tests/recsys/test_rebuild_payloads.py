"""Payloads encoded straight from compiled rows are, byte for byte, what the ``Mix`` way
(final filter, then ``encode_user``) stores, for every listener: with mixes of their own
(with exclusions too), with a history too thin for one, and without personalisation (the
popular anchors' mixes under their own ids); a listener whose output holds a withheld track
is left to the ``Mix`` way and its final filter."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from recsys.domain.mix import OPTED_OUT, PERSONAL_BASIS, UNKNOWN_LISTENER
from recsys.engine.loading import Engine
from recsys.generators.batch import BatchGenerator
from recsys.generators.batch_arrays import build_generation_arrays
from recsys.generators.context import UserProfile
from recsys.payload.codec import decompress_payload, encode_user, read_payload
from recsys.payload.encoder import PayloadEncoder
from recsys.serving.basis import listener_basis
from recsys.serving.final_filter import ServingGate, final_filter
from tests.recsys.trained_world import train_world


def _generator(engine: Engine) -> BatchGenerator:
    arrays = build_generation_arrays(engine.context, engine.history)
    return BatchGenerator(engine.context, arrays, engine.history)


def _profiles(engine: Engine) -> list[UserProfile]:
    """Every listener's profile, and two strangers'."""
    return [engine.profile(u) for u in [*engine.known_users(), "never-seen-1", "never-seen-2"]]


def test_encoded_payloads_are_those_of_the_mix_way(tmp_path: Path) -> None:
    world = train_world(tmp_path, users=500, artists=60, seed=17)
    engine = world.engine
    generator = _generator(engine)
    profiles = _profiles(engine)
    chunk = generator.run(profiles)
    # Withhold a track that a few listeners were given: a flag that came after the pool.
    given, times = np.unique(chunk.tracks[:, 0], return_counts=True)
    flagged = str(generator.arrays.track_ids[int(given[np.argmin(times)])])
    exclusions = engine.gate.exclusions
    gate = ServingGate(
        engine.gate.pool_version,
        engine.gate.pool_track_ids,
        replace(exclusions, taken_down=exclusions.taken_down | {flagged}),
    )
    bases = [listener_basis(engine, user) for user in profiles]
    encoded = PayloadEncoder(generator, gate).encode(chunk, bases)
    flagged_users, compared, anonymous_encoded, excluding_encoded = 0, 0, 0, 0
    encoded_bases: set[str] = set()
    for position, (user, found) in enumerate(zip(profiles, encoded.payloads, strict=True)):
        output = generator.output(chunk, position)
        basis = bases[position]
        mixes = [final_filter(m.stamped(basis), gate, user.exclusions)[0] for m in output.mixes]
        radar = final_filter(output.release_radar.stamped(basis), gate, user.exclusions)[0]
        expected = decompress_payload(encode_user(mixes, radar))
        given = [t for m in (*output.mixes, output.release_radar) for t in m.tracks]
        held = {t.track_id for t in given}
        excluding = bool(user.exclusions.artists or user.exclusions.tracks)
        # Left to the Mix way exactly when the final filter would remove something.
        assert (found is None) == (flagged in held), user.user_id
        # The generators left out what the listener excluded.
        assert all(user.exclusions.allows(t.track_id, t.artist_ids) for t in given)
        if found is None:
            flagged_users += flagged in held
            continue
        compared += 1
        excluding_encoded += excluding
        anonymous_encoded += not user.personalised
        encoded_bases.add(basis)
        assert decompress_payload(found) == expected, user.user_id
        stored = read_payload(found)
        assert encoded.mixes[position] == len(mixes)
        assert encoded.tracks[position] == sum(len(m.tracks) for m in mixes) + len(radar.tracks)
        assert encoded.empty_radars[position] == (not radar.tracks)
        assert encoded.notes[position] == output.notes
        assert stored.mixes.track_ids  # the header names the tracks a read checks
    assert flagged_users >= 1
    assert compared > 0.9 * len(profiles)
    assert anonymous_encoded >= 3  # opt-outs and strangers: the popular anchors' mixes
    assert excluding_encoded >= 1  # listeners with exclusions, their own mixes encoded
    # Mix heads of several bases assembled, each byte for byte the Mix way's.
    assert encoded_bases >= {PERSONAL_BASIS, OPTED_OUT, UNKNOWN_LISTENER}


def test_listeners_without_personalisation_get_their_own_mix_ids(tmp_path: Path) -> None:
    """The same mixes around the pool's popular artists for every listener without
    personalisation and without exclusions, each under their own mix ids."""
    world = train_world(tmp_path, users=300, artists=40, seed=9)
    engine = world.engine
    generator = _generator(engine)
    anonymous = [
        p
        for p in _profiles(engine)
        if not p.personalised and not (p.exclusions.artists or p.exclusions.tracks)
    ]
    assert len(anonymous) >= 3  # opt-outs of the world, and listeners never seen
    chunk = generator.run(anonymous)
    bases = [listener_basis(engine, user) for user in anonymous]
    found = PayloadEncoder(generator, engine.gate).encode(chunk, bases).payloads
    assert all(payload is not None for payload in found)
    # Each says it is not personalised, and why (opted out, a stranger, no history yet).
    stored = [read_payload(payload).mixes.parsed() for payload in found if payload is not None]
    assert not any(m["personalised"] for mixes in stored for m in mixes)
    assert {m["basis"] for mixes in stored for m in mixes} >= {OPTED_OUT, UNKNOWN_LISTENER}
    assert len(set(found)) == len(anonymous)  # each under their own mix ids
    outputs = [generator.output(chunk, i) for i in range(len(anonymous))]
    tracks = {tuple(t.track_id for m in o.mixes for t in m.tracks) for o in outputs}
    assert len(tracks) == 1 and next(iter(tracks))  # the same, non-empty mixes
    reasons = {
        t.reason.type for o in outputs for m in o.mixes for t in m.tracks if t.slot == "familiar"
    }
    assert reasons == {"seed"}


def test_an_encoder_warmed_up_before_the_fork_encodes_as_a_fresh_one(tmp_path: Path) -> None:
    """A rebuild warms the encoder up on the generators' chunk of no listener (compiling the
    assembly once, before its workers fork); what it encodes afterwards is unchanged."""
    world = train_world(tmp_path, users=300, artists=40, seed=5)
    engine = world.engine
    generator = _generator(engine)
    profiles = _profiles(engine)
    chunk = generator.run(profiles)
    warmed = PayloadEncoder(generator, engine.gate)
    warmed.warm_up(generator.warm_up())
    warmed.render_catalogue()
    bases = [listener_basis(engine, user) for user in profiles]
    fresh = PayloadEncoder(generator, engine.gate).encode(chunk, bases)
    assert warmed.encode(chunk, bases).payloads == fresh.payloads
    assert sum(p is not None for p in fresh.payloads) > 0.9 * len(profiles)
    with pytest.raises(ValueError, match="no listener"):
        warmed.warm_up(chunk)
