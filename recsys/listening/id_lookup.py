"""The catalogue's track ids as a hash table over their UTF-8 bytes, looked up from Arrow.

The listens reader asks, for every block of a file, where each of the block's distinct track
ids stands in the catalogue. Looked up in a Python dict, each id is first made into a Python
string and hashed there: about a microsecond an id, a hundred thousand ids a block, and 27 s
of a 1M-listener rebuild's listens stage (py-spy), all of it on the one thread that has to
keep the blocks in file order. Here the catalogue's ids are hashed once into an
open-addressing table over their bytes, and a block's distinct ids (an Arrow string array)
are looked up in compiled code straight from Arrow's buffers, without the GIL, on the thread
that parsed the block. Two UTF-8 strings are equal exactly when their bytes are, so the
answer is the dict's.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from numba import njit

from pool.fields import is_utf8_encodable

_FNV_OFFSET = np.uint64(14695981039346656037)
_FNV_PRIME = np.uint64(1099511628211)


@njit(cache=True, nogil=True, inline="always")
def _hash(data, start, stop):  # type: ignore[no-untyped-def]
    """FNV-1a of ``data[start:stop]``."""
    value = _FNV_OFFSET
    for i in range(start, stop):
        value = (value ^ np.uint64(data[i])) * _FNV_PRIME
    return value


@njit(cache=True, nogil=True, inline="always")
def _same(data, start, stop, strings, position):  # type: ignore[no-untyped-def]
    """Whether ``data[start:stop]`` holds the bytes of ``strings``' (offsets, bytes) one at
    ``position``."""
    offsets, other = strings
    other_start = offsets[position]
    if stop - start != offsets[position + 1] - other_start:
        return False
    for i in range(stop - start):  # noqa: SIM110 - numba compiles no generator expression
        if data[start + i] != other[other_start + i]:
            return False
    return True


@njit(cache=True, nogil=True)
def _build(offsets, data, slots):  # type: ignore[no-untyped-def]
    """Each id's position into ``slots`` (a power of two, at least twice the ids, all -1)."""
    mask = np.uint64(len(slots) - 1)
    for position in range(len(offsets) - 1):
        slot = _hash(data, offsets[position], offsets[position + 1]) & mask
        while slots[slot] >= 0:
            slot = (slot + np.uint64(1)) & mask
        slots[slot] = position


@njit(cache=True, nogil=True)
def _lookup(slots, strings, query, out):  # type: ignore[no-untyped-def]
    """Each of ``query``'s (offsets, bytes) strings' position among the (offsets, bytes)
    ``strings`` that ``_build`` put into ``slots``, -1 for one not there, into ``out``."""
    mask = np.uint64(len(slots) - 1)
    query_offsets, query_data = query
    for q in range(len(query_offsets) - 1):
        start, stop = query_offsets[q], query_offsets[q + 1]
        slot = _hash(query_data, start, stop) & mask
        out[q] = -1
        while slots[slot] >= 0:
            if _same(query_data, start, stop, strings, slots[slot]):
                out[q] = slots[slot]
                break
            slot = (slot + np.uint64(1)) & mask


def _string_buffers(
    array: pa.Array,
) -> tuple[npt.NDArray[np.int32] | npt.NDArray[np.int64], npt.NDArray[np.uint8]]:
    """The offsets (one per value, plus the end) and bytes of a string array without nulls."""
    if array.null_count:
        raise ValueError("string ids must not be null")
    offset_type = np.int64 if pa.types.is_large_string(array.type) else np.int32
    _, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=offset_type)[
        array.offset : array.offset + len(array) + 1
    ]
    data = (
        np.frombuffer(data_buffer, dtype=np.uint8)
        if data_buffer is not None
        else np.zeros(0, np.uint8)
    )
    return offsets, data


class CatalogIds:
    """Where each of a set of ids stands (its position in ``ids``), for Arrow string arrays."""

    def __init__(self, ids: Iterable[str]) -> None:
        listed = list(ids)
        try:
            self.ids = pa.array(listed, type=pa.large_string())
        except (UnicodeEncodeError, pa.ArrowException):
            # An id UTF-8 cannot encode (a lone surrogate) is never read from a listens file.
            kept = [i for i in listed if is_utf8_encodable(i)]
            self.ids = pa.array(kept, type=pa.large_string())
        self._offsets, self._data = _string_buffers(self.ids)
        self._slots = np.full(max(2, 1 << (2 * len(self.ids)).bit_length()), -1, np.int64)
        _build(self._offsets, self._data, self._slots)

    def __len__(self) -> int:
        return len(self.ids)

    def positions(self, query: pa.Array) -> npt.NDArray[np.int64]:
        """Each string of ``query``'s position among the ids, -1 for one not there."""
        if not (pa.types.is_string(query.type) or pa.types.is_large_string(query.type)):
            raise TypeError(f"ids must be Arrow strings, not {query.type}")
        out = np.empty(len(query), np.int64)
        if len(query):
            _lookup(self._slots, (self._offsets, self._data), _string_buffers(query), out)
        return out
