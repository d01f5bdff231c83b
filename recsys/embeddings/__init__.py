"""Artist embeddings from listening data, trained with `implicit` ALS behind one module."""
