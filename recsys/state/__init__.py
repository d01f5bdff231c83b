"""The engine's own tables in the SQLite state, beside the pool's (``pool.state``): users'
opt-outs, exclusions and follows, the data directory's user feeds, API tokens, and privacy
(tombstones and erasure). ``schema.open_engine_state`` opens the state with every table.
"""

__all__ = ["privacy", "schema", "tokens", "user_feeds", "users"]
