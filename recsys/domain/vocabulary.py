"""External ids ↔ dense row numbers, at one boundary (as LensKit's ``Vocabulary`` does).

Algorithms below this boundary only see integers; an unknown id gives ``None`` (an empty
result for the caller), never an exception deep inside numpy.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import repeat


class Vocabulary:
    """An append-only, insertion-ordered id ↔ index map."""

    __slots__ = ("_ids", "_index")

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self._ids: list[str] = []
        self._index: dict[str, int] = {}
        for ident in ids:
            self.add(ident)

    def add(self, ident: str) -> int:
        index = self._index.get(ident)
        if index is None:
            index = len(self._ids)
            self._index[ident] = index
            self._ids.append(ident)
        return index

    def add_many(self, idents: Sequence[str]) -> list[int]:
        """Indices of many ids at once, new ones numbered in order of first appearance (the
        hot loop of bulk readers: the known ones are looked up by ``map`` in C, only the new
        ones go through Python)."""
        index, ids = self._index, self._ids
        result: list[int | None] = list(map(index.get, idents))
        for position in [i for i, found in enumerate(result) if found is None]:
            ident = idents[position]
            found = index.get(ident)  # an id given twice is added once
            if found is None:
                found = index[ident] = len(ids)
                ids.append(ident)
            result[position] = found
        return result  # type: ignore[return-value] # every None was replaced

    def indices_or(self, idents: Iterable[str], missing: int) -> Iterator[int]:
        """Each id's index, or ``missing`` for an id not here (looked up by ``map`` in C)."""
        return map(self._index.get, idents, repeat(missing))

    def extend_new(self, idents: Sequence[str]) -> int:
        """Append ids that are all new and distinct (the caller found them missing); returns
        the index of the first. Refuses, changing nothing, if one is not new or repeats."""
        index, ids = self._index, self._ids
        start = len(ids)
        fresh = dict(zip(idents, range(start, start + len(idents)), strict=True))
        # (``fresh.keys().isdisjoint(index)`` would walk all of ``index``, not ``fresh``)
        if len(fresh) != len(idents) or any(map(index.__contains__, fresh)):
            raise ValueError("extend_new: an id is already here or given twice")
        index.update(fresh)
        ids.extend(idents)
        return start

    def index_of(self, ident: str) -> int | None:
        return self._index.get(ident)

    def id_of(self, index: int) -> str:
        return self._ids[index]

    @property
    def ids(self) -> Sequence[str]:
        return self._ids

    def __contains__(self, ident: object) -> bool:
        return ident in self._index

    def __len__(self) -> int:
        return len(self._ids)
