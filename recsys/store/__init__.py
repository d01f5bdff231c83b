"""Where generated mixes are kept for the app to read: embedded SQLite or Redis.

Both keep each rebuild under its own version and make it current with one atomic switch, so a
reader never sees half of a rebuild. The store is a rebuildable cache, never the system of
record: links, trust, flags and audit stay in the state.
"""

__all__ = ["base", "embedded", "factory", "redis_store"]
