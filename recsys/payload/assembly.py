# Compiled functions take their arrays positionally (numba has no keyword-only arguments).
# ruff: noqa: PLR0917
"""Compiled assembly of stored payloads from the compiled generators' rows.

A rebuild writes every listener's mixes as the API renders them (``payload.codec``'s payload
format). Joining a hundred pre-rendered track and reason strings per listener in Python cost
more than generating the mixes; here the tracks, the mix heads and titles, and the payload's
header are byte copies out of text tables (``TextTable``), for a whole chunk of listeners in
one call. What cannot be copied (the JSON of a reason, an id, a title or a name) is rendered
once per process by ``payload.encoder`` with ``orjson``; mix ids, a hash, are made in Python.
A first pass measures every payload, a second writes them; both run without numba's
reference counting (``_nrt=False``), which would otherwise cost more than the copies.
``tests/recsys/test_rebuild_payloads.py`` holds the result to the ``Mix`` way byte for byte.

Constant text comes in ``pieces`` (``payload.encoder.payload_pieces``): the parts of a mix
head, a title and a header between the values that vary, in the order below.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from recsys.domain.mix import BASES
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

# Pieces, by number: a mix head is MIX_OPEN id MIX_TITLE title, then its rest; a title is
# TITLE_MIX index TITLE_COLON name [TITLE_COMMA name] TITLE_MORE; a radar head is RADAR_OPEN
# id, then its rest; a header is HEADER_0 bytes HEADER_1 tracks HEADER_2 artists HEADER_3 bytes
# HEADER_4 tracks HEADER_5 artists HEADER_6 (the mixes' part, then the radar's); a track's
# head is TRACK_OPEN id TRACK_ARTISTS artists TRACK_NAMES names TRACK_TITLE title
# TRACK_REASON, then its reason follows. A head's rest (its versions, whether it is
# personalised and its basis, up to its tracks) depends on the listener's basis, number b of
# ``domain.mix.BASES``: piece RESTS + 2 b for a mix, RESTS + 2 b + 1 for a radar.
MIX_OPEN, MIX_TITLE = 0, 1
TITLE_MIX, TITLE_COLON, TITLE_COMMA, TITLE_MORE = 2, 3, 4, 5
RADAR_OPEN = 6
HEADER_0 = 7  # to HEADER_6 = 13
TRACK_OPEN, TRACK_ARTISTS, TRACK_NAMES, TRACK_TITLE, TRACK_REASON = 14, 15, 16, 17, 18
RESTS = 19
PIECES = RESTS + 2 * len(BASES)
DIGEST = MIX_DIGEST_LENGTH
_COMMA, _OPEN_LIST, _CLOSE_LIST, _CLOSE_OBJECT = 44, 91, 93, 125
_OPEN_OBJECT, _QUOTE, _BACKSLASH = 123, 34, 92


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
def _put(buf, n, table, k):  # type: ignore[no-untyped-def]
    """Copy string ``k`` of ``table`` (text, start, stop) to buf at n (the caller measured
    the room); returns the new end."""
    text, start, stop = table
    _copy_bytes(buf, n, text, start[k], stop[k] - start[k])
    return n + stop[k] - start[k]


@njit(cache=True, inline="always")
def _len(table, k):  # type: ignore[no-untyped-def]
    return table[2][k] - table[1][k]


@njit(cache=True, inline="always")
def _list_size(table, values, start, stop):  # type: ignore[no-untyped-def]
    """Bytes of ``values[start:stop]``'s strings joined by commas."""
    size = max(stop - start - 1, 0)
    for i in range(start, stop):
        size += _len(table, values[i])
    return size


@njit(cache=True, inline="always")
def _put_list(buf, n, table, values, start, stop):  # type: ignore[no-untyped-def]
    for i in range(start, stop):
        if i > start:
            buf[n] = _COMMA
            n += 1
        n = _put(buf, n, table, values[i])
    return n


@njit(cache=True, inline="always")
def _tracks_size(text, rows, column, reasons, start, stop):  # type: ignore[no-untyped-def]
    """Bytes of rows start:stop's track objects joined by commas, and the mix's ``]}``."""
    size = 2 + max(stop - start - 1, 0)
    for i in range(start, stop):
        size += _len(text[0], rows[i, column]) + _len(text[1], reasons[i])
    return size


@njit(cache=True, inline="always")
def _put_tracks(buf, n, text, rows, column, reasons, start, stop):  # type: ignore[no-untyped-def]
    """Rows start:stop's track objects (head, then reason) joined by commas, then ``]}``."""
    for i in range(start, stop):
        if i > start:
            buf[n] = _COMMA
            n += 1
        n = _put(buf, n, text[0], rows[i, column])
        n = _put(buf, n, text[1], reasons[i])
    buf[n] = _CLOSE_LIST
    buf[n + 1] = _CLOSE_OBJECT
    return n + 2


@njit(cache=True, _nrt=False)
def _measure_heads(numbers, text, credits, sizes):  # type: ignore[no-untyped-def]
    track_ids, titles, artist_ids, artist_names, pieces = text
    t_ptr, t_art = credits
    for k in range(len(numbers)):
        track = numbers[k]
        size = _len(pieces, TRACK_OPEN) + _len(track_ids, track) + _len(pieces, TRACK_ARTISTS)
        size += _list_size(artist_ids, t_art, t_ptr[track], t_ptr[track + 1])
        size += _len(pieces, TRACK_NAMES)
        size += _list_size(artist_names, t_art, t_ptr[track], t_ptr[track + 1])
        sizes[k] = size + _len(pieces, TRACK_TITLE) + _len(titles, track)
        sizes[k] += _len(pieces, TRACK_REASON)


@njit(cache=True, _nrt=False)
def _write_heads(buf, numbers, text, credits):  # type: ignore[no-untyped-def]
    track_ids, titles, artist_ids, artist_names, pieces = text
    t_ptr, t_art = credits
    n = 0
    for k in range(len(numbers)):
        track = numbers[k]
        n = _put(buf, n, pieces, TRACK_OPEN)
        n = _put(buf, n, track_ids, track)
        n = _put(buf, n, pieces, TRACK_ARTISTS)
        n = _put_list(buf, n, artist_ids, t_art, t_ptr[track], t_ptr[track + 1])
        n = _put(buf, n, pieces, TRACK_NAMES)
        n = _put_list(buf, n, artist_names, t_art, t_ptr[track], t_ptr[track + 1])
        n = _put(buf, n, pieces, TRACK_TITLE)
        n = _put(buf, n, titles, track)
        n = _put(buf, n, pieces, TRACK_REASON)
    return n


@njit(cache=True)
def track_heads(numbers, text, credits):  # type: ignore[no-untyped-def]
    """The JSON objects of tracks ``numbers`` up to their reason (``payload.render.track_head``),
    end to end, and each one's length. ``text`` holds the tables of track ids, titles,
    artist ids and artist names (JSON, quoted), and the pieces; ``credits`` the tracks'
    artists (indptr, artists)."""
    sizes = np.empty(len(numbers), np.int64)
    _measure_heads(numbers, text, credits, sizes)
    buf = np.empty(sizes.sum(), np.uint8)
    if _write_heads(buf, numbers, text, credits) != len(buf):
        raise AssertionError("a track's size was miscounted")
    return buf, sizes


@njit(cache=True, inline="always")
def _title_size(text, index, first, second):  # type: ignore[no-untyped-def]
    names, pieces = text[4], text[5]
    size = _len(pieces, TITLE_MIX) + _digits(index) + _len(pieces, TITLE_COLON)
    size += _len(names, first) + _len(pieces, TITLE_MORE)
    if second >= 0:
        size += _len(pieces, TITLE_COMMA) + _len(names, second)
    return size


@njit(cache=True, _nrt=False)
def _measure(users, rows, text, members, bases, sizes):  # type: ignore[no-untyped-def]
    """Per listener of ``users``, the bytes of their header, mixes and radar into ``sizes``."""
    mix_ptr, radar_ptr, mixes, tracks, radar, track_reasons, radar_reasons = rows
    pieces, track_ids, artist_ids = text[5], text[2], text[3]
    (mt_ptr, mt), (ma_ptr, ma), (rt_ptr, rt), (ra_ptr, ra) = members
    for k in range(len(users)):
        u = users[k]
        rest = RESTS + 2 * bases[u]
        mixes_size = 2 + max(mix_ptr[u + 1] - mix_ptr[u] - 1, 0)
        for m in range(mix_ptr[u], mix_ptr[u + 1]):
            second = mixes[m, MIX_ANCHOR2] if mixes[m, MIX_ANCHORS] > 1 else -1
            title = _title_size(text, m - mix_ptr[u] + 1, mixes[m, MIX_ANCHOR1], second)
            head = _len(pieces, MIX_OPEN) + DIGEST + _len(pieces, MIX_TITLE) + title
            mixes_size += head + _len(pieces, rest)
            mixes_size += _tracks_size(
                text, tracks, TRACK, track_reasons, mixes[m, MIX_START], mixes[m, MIX_STOP]
            )
        radar_size = _len(pieces, RADAR_OPEN) + DIGEST + _len(pieces, rest + 1)
        radar_size += _tracks_size(
            text, radar, RADAR_TRACK, radar_reasons, radar_ptr[u], radar_ptr[u + 1]
        )
        header_size = _digits(radar_size)
        for piece in range(HEADER_0 + 4, HEADER_0 + 7):
            header_size += _len(pieces, piece)
        header_size += _digits(mixes_size)
        for piece in range(HEADER_0, HEADER_0 + 4):
            header_size += _len(pieces, piece)
        header_size += _list_size(track_ids, mt, mt_ptr[u], mt_ptr[u + 1])
        header_size += _list_size(artist_ids, ma, ma_ptr[u], ma_ptr[u + 1])
        header_size += _list_size(track_ids, rt, rt_ptr[u], rt_ptr[u + 1])
        header_size += _list_size(artist_ids, ra, ra_ptr[u], ra_ptr[u + 1])
        sizes[k, 0] = header_size
        sizes[k, 1] = mixes_size
        sizes[k, 2] = radar_size


@njit(cache=True, inline="always")
def _put_mixes(buf, n, u, rows, text, mix_digests, rest):  # type: ignore[no-untyped-def]
    """A listener's own mixes: a list of mix objects (``rest``: their heads' rest piece)."""
    mix_ptr, mixes, tracks, track_reasons = rows[0], rows[2], rows[3], rows[5]
    names, pieces = text[4], text[5]
    buf[n] = _OPEN_LIST
    n += 1
    for m in range(mix_ptr[u], mix_ptr[u + 1]):
        if m > mix_ptr[u]:
            buf[n] = _COMMA
            n += 1
        n = _put(buf, n, pieces, MIX_OPEN)
        for i in range(DIGEST):
            buf[n + i] = mix_digests[m, i]
        n += DIGEST
        n = _put(buf, n, pieces, MIX_TITLE)
        n = _put(buf, n, pieces, TITLE_MIX)
        n = _put_int(buf, n, m - mix_ptr[u] + 1)
        n = _put(buf, n, pieces, TITLE_COLON)
        n = _put(buf, n, names, mixes[m, MIX_ANCHOR1])
        if mixes[m, MIX_ANCHORS] > 1:
            n = _put(buf, n, pieces, TITLE_COMMA)
            n = _put(buf, n, names, mixes[m, MIX_ANCHOR2])
        n = _put(buf, n, pieces, TITLE_MORE)
        n = _put(buf, n, pieces, rest)
        n = _put_tracks(
            buf, n, text, tracks, TRACK, track_reasons, mixes[m, MIX_START], mixes[m, MIX_STOP]
        )
    buf[n] = _CLOSE_LIST
    n += 1
    return n


@njit(cache=True, _nrt=False)
def _write(buf, offsets, users, rows, text, members, digests, bases, sizes):  # type: ignore[no-untyped-def]
    """The payloads of ``users`` end to end into ``buf`` (measured by ``_measure``); where
    each starts into ``offsets``. Returns the first miscounted listener's place, or -1."""
    radar_ptr, radar, radar_reasons = rows[1], rows[4], rows[6]
    pieces, track_ids, artist_ids = text[5], text[2], text[3]
    (mt_ptr, mt), (ma_ptr, ma), (rt_ptr, rt), (ra_ptr, ra) = members
    mix_digests, radar_digests = digests
    n = 0
    for k in range(len(users)):
        u = users[k]
        rest = RESTS + 2 * bases[u]
        start = n
        offsets[k] = n
        header_size, mixes_size, radar_size = sizes[k, 0], sizes[k, 1], sizes[k, 2]
        # The header's length (4 bytes, big-endian), then the header.
        for shift in range(4):
            buf[n + shift] = (header_size >> (8 * (3 - shift))) & 255
        n += 4
        n = _put(buf, n, pieces, HEADER_0)
        n = _put_int(buf, n, mixes_size)
        n = _put(buf, n, pieces, HEADER_0 + 1)
        n = _put_list(buf, n, track_ids, mt, mt_ptr[u], mt_ptr[u + 1])
        n = _put(buf, n, pieces, HEADER_0 + 2)
        n = _put_list(buf, n, artist_ids, ma, ma_ptr[u], ma_ptr[u + 1])
        n = _put(buf, n, pieces, HEADER_0 + 3)
        n = _put_int(buf, n, radar_size)
        n = _put(buf, n, pieces, HEADER_0 + 4)
        n = _put_list(buf, n, track_ids, rt, rt_ptr[u], rt_ptr[u + 1])
        n = _put(buf, n, pieces, HEADER_0 + 5)
        n = _put_list(buf, n, artist_ids, ra, ra_ptr[u], ra_ptr[u + 1])
        n = _put(buf, n, pieces, HEADER_0 + 6)
        n = _put_mixes(buf, n, u, rows, text, mix_digests, rest)  # a list of mix objects
        # The Release Radar: one mix object.
        n = _put(buf, n, pieces, RADAR_OPEN)
        for i in range(DIGEST):
            buf[n + i] = radar_digests[u, i]
        n += DIGEST
        n = _put(buf, n, pieces, rest + 1)
        n = _put_tracks(
            buf, n, text, radar, RADAR_TRACK, radar_reasons, radar_ptr[u], radar_ptr[u + 1]
        )
        if n - start != 4 + header_size + mixes_size + radar_size:
            return k
    offsets[len(users)] = n
    return -1


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
    text,
    mix_digests,
    radar_digests,
    bases,
):
    """The uncompressed payloads of the chunk's listeners at positions ``users`` (sorted),
    end to end in ``buf`` (a larger copy when it is too small; the caller keeps it for the
    next chunk, as fresh megabytes cost page faults): returns (buf, offsets), listener
    ``users[k]``'s payload being buf[offsets[k]:offsets[k + 1]].

    ``members`` are ``batch_kernel.part_members``'s four (indptr, numbers); ``text`` the
    tables (text, start, stop) of track heads (``track_heads``), reasons, track ids, artist
    ids and artist names (JSON; names without their quotes), then the constant pieces;
    ``mix_digests`` the id digits of each mix row, and ``radar_digests`` of each listener's
    radar; ``bases`` each listener's basis (its number in ``domain.mix.BASES``)."""
    every = np.arange(len(radar_digests) + 1)
    mix_ptr = np.searchsorted(mixes[:, MIX_USER], every)
    radar_ptr = np.searchsorted(radar[:, RADAR_USER], every)
    rows = (mix_ptr, radar_ptr, mixes, tracks, radar, track_reasons, radar_reasons)
    sizes = np.empty((len(users), 3), np.int64)
    _measure(users, rows, text, members, bases, sizes)
    total = 4 * len(users) + sizes.sum()
    if total > len(buf):
        buf = np.empty(max(2 * len(buf), total), np.uint8)
    offsets = np.empty(len(users) + 1, np.int64)
    digests = (mix_digests, radar_digests)
    miscounted = _write(buf, offsets, users, rows, text, members, digests, bases, sizes)
    if miscounted >= 0:
        raise AssertionError("a payload's size was miscounted")
    return buf, offsets


@njit(cache=True)
def json_items(text):  # type: ignore[no-untyped-def]
    """Where each item of a JSON array written without spaces (``orjson``) starts and stops
    in ``text``: one ``orjson.dumps`` of a list then renders many strings at once."""
    starts = np.empty(len(text) // 2 + 1, np.int64)
    stops = np.empty(len(text) // 2 + 1, np.int64)
    n, depth, start = 0, 0, 0
    in_string, escaped = False, False
    for i in range(len(text)):
        c = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif c == _BACKSLASH:
                escaped = True
            elif c == _QUOTE:
                in_string = False
        elif c == _QUOTE:
            in_string = True
        elif c in (_OPEN_LIST, _OPEN_OBJECT):
            depth += 1
            if depth == 1:
                start = i + 1
        elif c in (_CLOSE_LIST, _CLOSE_OBJECT):
            if depth == 1 and i > start:
                starts[n], stops[n] = start, i
                n += 1
            depth -= 1
        elif c == _COMMA and depth == 1:
            starts[n], stops[n] = start, i
            n += 1
            start = i + 1
    return starts[:n], stops[:n]
