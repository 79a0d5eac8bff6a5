"""One module per ``llmdeck`` subcommand, each with ``register(subparsers)``."""
