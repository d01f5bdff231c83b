"""The generators' scratch records: an artist's hot marks on one cache line, fields apart."""

from __future__ import annotations

import numpy as np

from recsys.generators.batch import _ARTIST_COUNTS, _HOT_ARTIST_MARKS, _TRACK_MARKS, _records


def test_hot_marks_fill_one_cache_line_each_and_start_on_one() -> None:
    records = _records(1000, _HOT_ARTIST_MARKS)
    assert records.dtype.itemsize == 64
    assert records.ctypes.data % 64 == 0
    assert len(records) == 1000


def test_fields_are_zeroed_views_that_do_not_overlap() -> None:
    for fields in (_HOT_ARTIST_MARKS, _ARTIST_COUNTS, _TRACK_MARKS):
        records = _records(7, fields)
        names = [name for name, _ in fields]
        for name in names:
            assert not records[name].any()
        for written, (name, dtype) in enumerate(fields, 1):
            records[name][3] = written
            assert records[name].dtype == np.dtype(dtype)
        for written, name in enumerate(names, 1):
            assert records[name].tolist() == [0, 0, 0, written, 0, 0, 0]


def test_no_records() -> None:
    assert len(_records(0, _HOT_ARTIST_MARKS)) == 0
