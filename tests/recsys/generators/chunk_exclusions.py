"""A compiled chunk told that one listener excluded a track and another an artist, each one
the chunk gives them: how tests reach the paths the generators never take by themselves."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from recsys.generators.batch import CompiledChunk


def told_to_exclude(
    chunk: CompiledChunk, track_user: int, track: int, artist_user: int, artist: int
) -> CompiledChunk:
    """``chunk`` with listener ``track_user`` excluding track number ``track`` and listener
    ``artist_user`` excluding artist number ``artist`` (nobody else excluding anything)."""
    n = len(chunk.users)
    xa_ptr = np.zeros(n + 1, np.int64)
    xa_ptr[artist_user + 1 :] = 1
    xt_ptr = np.zeros(n + 1, np.int64)
    xt_ptr[track_user + 1 :] = 1
    listeners = chunk.listeners._replace(
        xa_ptr=xa_ptr,
        xa_art=np.array([artist], np.int64),
        xt_ptr=xt_ptr,
        xt_trk=np.array([track], np.int64),
    )
    return replace(chunk, listeners=listeners)
