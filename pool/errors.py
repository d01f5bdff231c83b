"""Errors raised by the pool package.

Expected outcomes (a feed row that does not parse, a track that is not eligible) are *results*
with a reason, not exceptions. Exceptions are for things the caller must stop on::

    PoolError                    base class; str(e) is a message fit for an operator
    ├── DataDirectoryError       the data directory is missing, empty or unreadable
    ├── StateError               the SQLite state cannot be opened or is inconsistent
    │   ├── UnknownSubjectError  a trust or flag command names an id the state cannot accept
    │   └── ReviewRefusedError   a curator's decision the rules do not allow (a clear against
    │                            the rights holder's own flag, or the same curator approving
    │                            twice)
    ├── PoolShrinkError          a new pool would drop more than the allowed share of tracks
    └── SnapshotError            a stored pool snapshot is missing or corrupt
"""

from __future__ import annotations


class PoolError(Exception):
    """Base class for every error the pool package raises on purpose."""


class DataDirectoryError(PoolError):
    """The data directory cannot be imported at all (missing, empty, unreadable)."""


class StateError(PoolError):
    """The embedded state cannot be read or written."""


class UnknownSubjectError(StateError):
    """A staff command names an id that is malformed or not known to the catalog."""


class ReviewRefusedError(StateError):
    """A review decision the four-eyes and rights-holder rules refuse (HTTP 409)."""


class PoolShrinkError(PoolError):
    """A pool build would drop more of the current pool than allowed (``--allow-shrink``)."""


class SnapshotError(PoolError):
    """A pool snapshot on disk is missing or does not match its content address."""
