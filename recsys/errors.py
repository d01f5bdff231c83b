"""Errors raised by the engine on purpose; the CLI turns each into a message and exit status.

::

    RecsysError          base class; str(e) is a message fit for the person at the terminal
    ├── ConfigError      a configuration file, key or environment variable is wrong
    ├── UsageError       a command was given arguments it cannot act on
    └── NotFoundError    an artist, track or mix the request names does not exist (HTTP 404)

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
