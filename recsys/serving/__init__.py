"""The read path: the final filter every output passes (``final_filter``) and the answers of
the listener endpoints, shared by the CLI and the HTTP API (``answers``), each stamped with the
basis it was built on (``basis``).
"""

__all__ = ["answers", "basis", "final_filter"]
