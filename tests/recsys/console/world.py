"""The console tests' world: the API tests' small world with one artist named like markup.

An artist whose name holds ``<script>`` comes from a partner's catalogue feed as any other:
the console must show it as text, never run it.
"""

from __future__ import annotations

import json
from pathlib import Path

from recsys.world import WorldConfig, generate_world
from tests.recsys.api.world import TODAY, RebuiltWorld, rebuild_world

MARKUP_ARTIST = "ar000005"
MARKUP_NAME = '<script>document.title="pwned"</script><b>Bold</b> Collective'


def rebuild_console_world(root: Path) -> RebuiltWorld:
    data = root / "data"
    generate_world(data, WorldConfig(users=300, artists=60, seed=3, today=TODAY))
    artists = data / "catalog" / "artists.jsonl"
    rows = [json.loads(line) for line in artists.read_text().splitlines()]
    for row in rows:
        if row["artist_id"] == MARKUP_ARTIST:
            row["name"] = MARKUP_NAME
    artists.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return rebuild_world(root)
