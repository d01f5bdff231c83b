"""A curated music recommendation engine that only recommends from a trust-gated pool."""

__version__ = "0.1.0"

__all__ = ["__version__", "errors", "settings"]
