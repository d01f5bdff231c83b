"""A reason in words is for a listener: no score from the model in it, whatever the reason
(the score stays in ``via``, for the app)."""

from __future__ import annotations

import re
from pathlib import Path

from recsys.domain.mix import Reason, describe_reason
from recsys.serving import answers
from tests.recsys.trained_world import train_world

NUMBER = re.compile(r"\d")


def test_an_als_reason_keeps_its_score_out_of_the_words() -> None:
    reason = Reason("als_neighbour", {"artist_id": "a1", "score": 0.7057}).as_dict()
    text = describe_reason(reason, {"a1": "Dev Zielinski"}.__getitem__)
    assert text == "listeners of Dev Zielinski also play this"
    assert reason["via"]["score"] == 0.7057  # still there for the app
    curated = Reason("curated_link", {"artist_id": "a1", "curator": "ana", "weight": 0.8})
    assert not NUMBER.search(describe_reason(curated.as_dict(), {"a1": "Dev"}.__getitem__))


def test_no_reason_of_any_answer_puts_a_number_in_words(tmp_path: Path) -> None:
    world = train_world(tmp_path, users=200, artists=40, seed=3)
    engine = world.engine

    # Names without digits, so a digit in the words can only come from the reason's numbers.
    def name(artist_id: str) -> str:
        return "Artist " + "".join(chr(ord("a") + int(c)) if c.isdigit() else c for c in artist_id)

    users = [*engine.known_users()[:40], "never-seen"]
    artist = next(iter(engine.context.graph))
    found = [
        mix
        for user in users
        for mix in (*answers.user_mixes(engine, user)["mixes"], answers.release_radar(engine, user))
    ]
    found.append(answers.artist_radio(engine, artist, users[0], None))
    reasons = [track["reason"] for mix in found for track in mix["tracks"]]
    kinds = {reason["type"] for reason in reasons}
    assert {"history", "als_neighbour", "seed"} <= kinds  # the model's reasons among them
    assert any("score" in reason["via"] for reason in reasons)
    for reason in reasons:
        text = describe_reason(reason, name)
        assert text and not NUMBER.search(text), (reason, text)
