"""Loading one consistent release (pool, model, graph, per-user state) as an immutable
``Engine`` value for the generators and the read paths (``loading``).
"""

__all__ = ["loading"]
