"""Staff grants name ids some delivery named: a typo is told, not recorded.

The pool report keeps every artist, label and partner id of the catalogue delivery it was
built from, admitted or refused, so that staff can trust an artist the build refused for want
of verification (the usual case) while a mistyped id is caught.
"""

from __future__ import annotations

from pathlib import Path

from pool.importer import SNAPSHOT_DIR, current_pool_version
from pool.snapshot import read_report
from recsys.curation.pool_names import unknown_trust_subject
from recsys.state.schema import open_engine_state
from tests.recsys.api.world import RebuiltWorld, copy_state


def test_delivered_ids_are_known_and_typos_are_not(
    console_world: RebuiltWorld, tmp_path: Path
) -> None:
    state = copy_state(console_world, tmp_path / "state")
    conn = open_engine_state(state)
    try:
        version = current_pool_version(conn)
        assert version is not None
        report = read_report(state / SNAPSHOT_DIR, version)
        delivered = report["delivered"]
        registry = {
            (kind, subject)
            for kind, subject in conn.execute("SELECT kind, subject_id FROM trust_registry")
        }
        # An artist of the delivery the registry has never seen (refused for want of
        # verification) may be granted; so may every delivered label and partner.
        fresh = [a for a in delivered["artist"] if ("artist", a) not in registry]
        assert fresh, "the world delivers unverified artists"
        assert unknown_trust_subject(conn, state, "artist", fresh[0]) is None
        for kind in ("label", "partner"):
            assert unknown_trust_subject(conn, state, kind, delivered[kind][0]) is None
        refused = unknown_trust_subject(conn, state, "artist", "ar999999")
        assert refused is not None and refused.startswith("unknown artist: ar999999")
        assert unknown_trust_subject(conn, state, "label", fresh[0]) is not None  # wrong kind
    finally:
        conn.close()
