"""The read path: the final filter every output passes (``final_filter``) and the answers of
the listener endpoints, shared by the CLI and the HTTP API (``answers``).
"""

__all__ = ["answers", "final_filter"]
