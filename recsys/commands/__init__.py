"""CLI command handlers: thin edges that parse arguments, call the core and print results."""
