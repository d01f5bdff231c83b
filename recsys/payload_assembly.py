# Compiled functions take their arrays positionally (numba has no keyword-only arguments).
# ruff: noqa: PLR0917
"""Compiled assembly of stored payloads from the compiled generators' rows.

A rebuild writes every listener's mixes as the API renders them (``store.base``'s payload
format). Joining a hundred pre-rendered track and reason strings per listener in Python cost
more than generating the mixes; here the joins, the mix heads and titles, and the payload's
header are byte copies out of text tables (``TextTable``), for a whole chunk of listeners in
one call. What cannot be copied (the JSON of a track, a reason, an id or a name) is rendered
once per process by ``rebuild_payloads`` with ``orjson``; mix ids, a hash, are made in Python.
``tests/recsys/test_rebuild_payloads.py`` holds the result to the ``Mix`` way byte for byte.

Constant text comes in ``pieces`` (``rebuild_payloads.payload_pieces``): the parts of a mix
head, a title and a header between the values that vary, in the order below.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from recsys.generators.batch_kernel import (
    MIX_ANCHOR1,
    MIX_ANCHOR2,
    MIX_ANCHORS,
    MIX_START,
    MIX_STOP,
    MIX_USER,
    RADAR_TRACK,
    RADAR_USER,
    TRACK,
)
from recsys.generators.result import MIX_DIGEST_LENGTH

# Pieces, by number: a mix head is MIX_OPEN id MIX_TITLE title MIX_REST; a title is
# TITLE_MIX index TITLE_COLON name [TITLE_COMMA name] TITLE_MORE; a radar head is RADAR_OPEN
# id RADAR_REST; a header is HEADER_0 bytes HEADER_1 tracks HEADER_2 artists HEADER_3 bytes
# HEADER_4 tracks HEADER_5 artists HEADER_6 (the mixes' part, then the radar's).
MIX_OPEN, MIX_TITLE, MIX_REST = 0, 1, 2
TITLE_MIX, TITLE_COLON, TITLE_COMMA, TITLE_MORE = 3, 4, 5, 6
RADAR_OPEN, RADAR_REST = 7, 8
HEADER_0 = 9  # to HEADER_6 = 15
PIECES = 16
DIGEST = MIX_DIGEST_LENGTH
_COMMA, _OPEN_LIST, _CLOSE_LIST, _CLOSE_OBJECT = 44, 91, 93, 125


@njit(cache=True, inline="always")
def _digits(value):  # type: ignore[no-untyped-def]
    count = 1
    while value >= 10:
        value //= 10
        count += 1
    return count


@njit(cache=True, inline="always")
def _put_int(buf, n, value):  # type: ignore[no-untyped-def]
    count = _digits(value)
    for i in range(count - 1, -1, -1):
        buf[n + i] = 48 + value % 10
        value //= 10
    return n + count


@intrinsic
def _copy_bytes(typingctx, dst, dst_at, src, src_at, count):  # type: ignore[no-untyped-def]
    """``dst[dst_at:dst_at + count] = src[src_at:src_at + count]`` as one ``memcpy``, unchecked:
    numba's element loop (or slice assignment) costs ten times more on strings this short."""
    signature = types.void(dst, dst_at, src, src_at, count)

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        dst, dst_at, src, src_at, count = args
        dst_data = context.make_array(sig.args[0])(context, builder, dst).data
        src_data = context.make_array(sig.args[2])(context, builder, src).data
        cgutils.raw_memcpy(
            builder, builder.gep(dst_data, [dst_at]), builder.gep(src_data, [src_at]), count, 1
        )
        return context.get_dummy_value()

    return signature, codegen


@njit(cache=True, inline="always")
def _put(buf, n, text, start, stop):  # type: ignore[no-untyped-def]
    """Copy text[start:stop] to buf at n (the caller made room); returns the new end."""
    _copy_bytes(buf, n, text, start, stop - start)
    return n + stop - start


@njit(cache=True, inline="always")
def _size(piece_ptr, piece):  # type: ignore[no-untyped-def]
    return piece_ptr[piece + 1] - piece_ptr[piece]


@njit(cache=True, inline="always")
def _put_piece(buf, n, pieces, piece_ptr, piece):  # type: ignore[no-untyped-def]
    return _put(buf, n, pieces, piece_ptr[piece], piece_ptr[piece + 1])


@njit(cache=True, inline="always")
def _list_size(table_start, table_stop, values, start, stop):  # type: ignore[no-untyped-def]
    """Bytes of ``values[start:stop]``'s strings joined by commas."""
    size = max(stop - start - 1, 0)
    for i in range(start, stop):
        size += table_stop[values[i]] - table_start[values[i]]
    return size


@njit(cache=True, inline="always")
def _put_list(buf, n, text, table_start, table_stop, values, start, stop):  # type: ignore[no-untyped-def]
    for i in range(start, stop):
        if i > start:
            buf[n] = _COMMA
            n += 1
        n = _put(buf, n, text, table_start[values[i]], table_stop[values[i]])
    return n


@njit(cache=True, inline="always")
def _tracks_size(heads, reasons, track_numbers, reason_numbers, start, stop):  # type: ignore[no-untyped-def]
    """Bytes of a mix's tracks (head and reason each), joined by commas."""
    size = max(stop - start - 1, 0)
    for i in range(start, stop):
        track, reason = track_numbers[i], reason_numbers[i]
        size += heads[2][track] - heads[1][track] + reasons[2][reason] - reasons[1][reason]
    return size


@njit(cache=True, inline="always")
def _put_tracks(buf, n, heads, reasons, track_numbers, reason_numbers, start, stop):  # type: ignore[no-untyped-def]
    for i in range(start, stop):
        if i > start:
            buf[n] = _COMMA
            n += 1
        track, reason = track_numbers[i], reason_numbers[i]
        n = _put(buf, n, heads[0], heads[1][track], heads[2][track])
        n = _put(buf, n, reasons[0], reasons[1][reason], reasons[2][reason])
    return n


@njit(cache=True)
def assemble_payloads(  # type: ignore[no-untyped-def]
    buf,
    users,
    mixes,
    tracks,
    radar,
    track_reasons,
    radar_reasons,
    members,
    tables,
    mix_digests,
    radar_digests,
    pieces,
    piece_ptr,
):
    """The uncompressed payloads of the chunk's listeners at positions ``users`` (sorted),
    end to end in ``buf`` (a larger copy when it is too small; the caller keeps it for the
    next chunk, as fresh megabytes cost page faults): returns (buf, offsets), listener
    ``users[k]``'s payload being buf[offsets[k]:offsets[k + 1]].

    ``members`` are ``batch_kernel.part_members``'s four (indptr, numbers); ``tables`` the
    (text, start, stop) of track heads, reasons, track ids, artist ids and artist names (JSON,
    names without their quotes); ``mix_digests`` the id digits of each mix row, and
    ``radar_digests`` of each listener's radar."""
    heads, reasons, track_ids, artist_ids, names = tables
    (mt_ptr, mt), (ma_ptr, ma), (rt_ptr, rt), (ra_ptr, ra) = members
    mix_tracks = tracks[:, TRACK].copy()
    radar_tracks = radar[:, RADAR_TRACK].copy()
    n_users = len(radar_digests)
    mix_ptr = np.searchsorted(mixes[:, MIX_USER], np.arange(n_users + 1))
    radar_ptr = np.searchsorted(radar[:, RADAR_USER], np.arange(n_users + 1))

    offsets = np.zeros(len(users) + 1, np.int64)
    n = 0
    for k in range(len(users)):
        u = users[k]
        # Sizes first: the header names the parts' sizes, and the buffer grows at most once.
        mixes_size = 2 + max(mix_ptr[u + 1] - mix_ptr[u] - 1, 0)
        for m in range(mix_ptr[u], mix_ptr[u + 1]):
            index = m - mix_ptr[u] + 1
            title = _size(piece_ptr, TITLE_MIX) + _digits(index) + _size(piece_ptr, TITLE_COLON)
            title += names[2][mixes[m, MIX_ANCHOR1]] - names[1][mixes[m, MIX_ANCHOR1]]
            if mixes[m, MIX_ANCHORS] > 1:
                second = mixes[m, MIX_ANCHOR2]
                title += _size(piece_ptr, TITLE_COMMA) + names[2][second] - names[1][second]
            title += _size(piece_ptr, TITLE_MORE)
            head = _size(piece_ptr, MIX_OPEN) + DIGEST + _size(piece_ptr, MIX_TITLE) + title
            head += _size(piece_ptr, MIX_REST)
            body = _tracks_size(
                heads, reasons, mix_tracks, track_reasons, mixes[m, MIX_START], mixes[m, MIX_STOP]
            )
            mixes_size += head + body + 2
        radar_size = _size(piece_ptr, RADAR_OPEN) + DIGEST + _size(piece_ptr, RADAR_REST) + 2
        radar_size += _tracks_size(
            heads, reasons, radar_tracks, radar_reasons, radar_ptr[u], radar_ptr[u + 1]
        )
        header_size = _digits(mixes_size) + _digits(radar_size)
        for piece in range(HEADER_0, HEADER_0 + 7):
            header_size += _size(piece_ptr, piece)
        header_size += _list_size(track_ids[1], track_ids[2], mt, mt_ptr[u], mt_ptr[u + 1])
        header_size += _list_size(artist_ids[1], artist_ids[2], ma, ma_ptr[u], ma_ptr[u + 1])
        header_size += _list_size(track_ids[1], track_ids[2], rt, rt_ptr[u], rt_ptr[u + 1])
        header_size += _list_size(artist_ids[1], artist_ids[2], ra, ra_ptr[u], ra_ptr[u + 1])
        size = 4 + header_size + mixes_size + radar_size
        if n + size > len(buf):
            grown = np.empty(max(2 * len(buf), n + size), np.uint8)
            grown[:n] = buf[:n]
            buf = grown
        start = n
        # The header's length (4 bytes, big-endian), then the header.
        for shift in range(4):
            buf[n + shift] = (header_size >> (8 * (3 - shift))) & 255
        n += 4
        n = _put_piece(buf, n, pieces, piece_ptr, HEADER_0)
        n = _put_int(buf, n, mixes_size)
        n = _put_piece(buf, n, pieces, piece_ptr, HEADER_0 + 1)
        n = _put_list(
            buf, n, track_ids[0], track_ids[1], track_ids[2], mt, mt_ptr[u], mt_ptr[u + 1]
        )
        n = _put_piece(buf, n, pieces, piece_ptr, HEADER_0 + 2)
        n = _put_list(
            buf, n, artist_ids[0], artist_ids[1], artist_ids[2], ma, ma_ptr[u], ma_ptr[u + 1]
        )
        n = _put_piece(buf, n, pieces, piece_ptr, HEADER_0 + 3)
        n = _put_int(buf, n, radar_size)
        n = _put_piece(buf, n, pieces, piece_ptr, HEADER_0 + 4)
        n = _put_list(
            buf, n, track_ids[0], track_ids[1], track_ids[2], rt, rt_ptr[u], rt_ptr[u + 1]
        )
        n = _put_piece(buf, n, pieces, piece_ptr, HEADER_0 + 5)
        n = _put_list(
            buf, n, artist_ids[0], artist_ids[1], artist_ids[2], ra, ra_ptr[u], ra_ptr[u + 1]
        )
        n = _put_piece(buf, n, pieces, piece_ptr, HEADER_0 + 6)
        # The mixes: a list of mix objects.
        buf[n] = _OPEN_LIST
        n += 1
        for m in range(mix_ptr[u], mix_ptr[u + 1]):
            if m > mix_ptr[u]:
                buf[n] = _COMMA
                n += 1
            n = _put_piece(buf, n, pieces, piece_ptr, MIX_OPEN)
            for i in range(DIGEST):
                buf[n + i] = mix_digests[m, i]
            n += DIGEST
            n = _put_piece(buf, n, pieces, piece_ptr, MIX_TITLE)
            n = _put_piece(buf, n, pieces, piece_ptr, TITLE_MIX)
            n = _put_int(buf, n, m - mix_ptr[u] + 1)
            n = _put_piece(buf, n, pieces, piece_ptr, TITLE_COLON)
            first = mixes[m, MIX_ANCHOR1]
            n = _put(buf, n, names[0], names[1][first], names[2][first])
            if mixes[m, MIX_ANCHORS] > 1:
                second = mixes[m, MIX_ANCHOR2]
                n = _put_piece(buf, n, pieces, piece_ptr, TITLE_COMMA)
                n = _put(buf, n, names[0], names[1][second], names[2][second])
            n = _put_piece(buf, n, pieces, piece_ptr, TITLE_MORE)
            n = _put_piece(buf, n, pieces, piece_ptr, MIX_REST)
            n = _put_tracks(
                buf,
                n,
                heads,
                reasons,
                mix_tracks,
                track_reasons,
                mixes[m, MIX_START],
                mixes[m, MIX_STOP],
            )
            buf[n] = _CLOSE_LIST
            buf[n + 1] = _CLOSE_OBJECT
            n += 2
        buf[n] = _CLOSE_LIST
        n += 1
        # The Release Radar: one mix object.
        n = _put_piece(buf, n, pieces, piece_ptr, RADAR_OPEN)
        for i in range(DIGEST):
            buf[n + i] = radar_digests[u, i]
        n += DIGEST
        n = _put_piece(buf, n, pieces, piece_ptr, RADAR_REST)
        n = _put_tracks(
            buf, n, heads, reasons, radar_tracks, radar_reasons, radar_ptr[u], radar_ptr[u + 1]
        )
        buf[n] = _CLOSE_LIST
        buf[n + 1] = _CLOSE_OBJECT
        n += 2
        if n - start != size:
            raise AssertionError("a payload's size was miscounted")
        offsets[k + 1] = n
    return buf, offsets
