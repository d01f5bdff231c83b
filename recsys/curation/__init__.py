"""Curator-maintained similar-artist links: the human half of the similar-artist graph."""

__all__ = ["links", "pool_names", "store"]
