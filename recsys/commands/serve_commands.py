"""`recsys serve` and `recsys tokens add`: placeholder module, replaced by the API work."""

from __future__ import annotations

from typing import Any


def add_parsers(commands: Any) -> None:
    """Registers nothing until the HTTP API lands."""
