"""What every subcommand needs: the session that its global options name."""

from __future__ import annotations

import argparse

from console.core.config import find, load_config
from console.core.session import Session


def open_session(args: argparse.Namespace) -> Session:
    """The session for ``--config``/``--profile``/``--read-only``. Raises LlmdeckError."""
    config = load_config(find(args.config))
    profile = config.profile(args.profile)
    return Session(profile, read_only=True if args.read_only else None)
