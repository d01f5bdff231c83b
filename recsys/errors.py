"""Errors raised by the engine on purpose; the CLI turns each into a message and exit status.

::

    RecsysError              base class; str(e) is a message fit for the person at the terminal
    ├── ConfigError          a configuration file, key or environment variable is wrong (exit 2)
    ├── UsageError           a command was given arguments it cannot act on (exit 2)
    ├── NotFoundError        an artist, track or mix the request names does not exist (HTTP 404)
    ├── UserErasedError      a write keyed by a user who was erased (HTTP 410): nothing is stored
    ├── CorruptFileError     a state, store, pool or model file cannot be read; the message names
    │   │                    the file and what to do (restore it, or rebuild) (HTTP 503)
    │   └── ModelError       (recsys.embeddings.artist_model) a model folder is missing, damaged
    │                        or not the version its name says
    ├── StoreUnavailableError  (recsys.store.base) the mix store did not answer in time
    │                        (HTTP 503; retrying later may work)
    ├── StoreIntegrityError  (recsys.store.base) a new store version failed its checks and was
    │                        not made current
    ├── RebuildLockedError   (recsys.jobs.rebuild) another rebuild holds the state's lock
    ├── RebuildFailedError   (recsys.cli.rebuild_commands) the cron job stopped before its
    │                        switch; the previous mixes stay served
    ├── StoreBusyError       (recsys.cli.store_commands) `store gc` while a rebuild runs
    ├── ClusterRebuildError  (recsys.jobs.cluster) no Dask scheduler answers, or a chunk of
    │                        listeners failed on the cluster after its retries: nothing switched
    ├── ListenError          (recsys.cli.serve_commands) `serve` cannot listen: the port is
    │                        taken, or the host is not this machine's
    ├── NothingBuiltError    a read found no state, pool or model where it looked; the message
    │                        names the folder and the command that fills it
    └── LinkChangedError     (recsys.curation.store) a curator's edit of a pair another
                             curator changed since they read it: refused, nothing written

Errors of the pool (``pool.errors.PoolError``) are reported the same way by the CLI.
"""

from __future__ import annotations


class RecsysError(Exception):
    """Base class for every error the engine raises on purpose."""


class ConfigError(RecsysError):
    """The configuration cannot be loaded into typed settings."""


class UsageError(RecsysError):
    """A command's arguments are valid syntax but cannot be acted on."""


class NotFoundError(RecsysError):
    """The request names an artist or track that is not in the current pool."""


class UserErasedError(RecsysError):
    """A write names a user who was erased: refused, and nothing is stored under the id."""


class CorruptFileError(RecsysError):
    """A file of the state, the store, a pool snapshot or a model is damaged or truncated."""


class NothingBuiltError(RecsysError):
    """A read found nothing built where it looked (no state folder, no pool yet): the message
    names the folder and the command that fills it. Reads never create state to find out."""
