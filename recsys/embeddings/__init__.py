"""Artist embeddings from listening data, trained with `implicit` ALS behind one module."""

__all__ = ["als", "artist_model", "tag_space"]
