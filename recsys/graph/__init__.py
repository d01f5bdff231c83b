"""The similar-artist graph: curators' links joined with ALS neighbours."""

__all__ = ["similar_artists"]
