"""The ``recsys`` command line: the entry point (``main``) and one module per verb group."""

__all__ = [
    "audit_commands",
    "command_context",
    "demo",
    "evaluate_commands",
    "flag_commands",
    "link_commands",
    "listener_commands",
    "logging_setup",
    "main",
    "pool_commands",
    "rebuild_commands",
    "serve_commands",
    "store_commands",
    "train_commands",
    "trust_commands",
    "world_commands",
]
