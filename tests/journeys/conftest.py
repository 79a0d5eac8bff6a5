"""Fixtures of the journey tests: the tmux pane (tests/journeys/tmux.py) and
the local model server (tests/backends.py)."""

from tests.backends import llama_url  # noqa: F401  (pytest fixture)
from tests.journeys.tmux import deck  # noqa: F401  (pytest fixture)
