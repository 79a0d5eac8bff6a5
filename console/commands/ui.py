"""``llmdeck ui`` (the default): open the console on a profile."""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from console.commands.common import open_session


def register(sub: Any) -> None:
    p = sub.add_parser("ui", help="open the console (the default command)")
    p.set_defaults(func=run, at_kind="reads")


def run(args: argparse.Namespace) -> int:
    session = open_session(args)
    return run_app(session)


def run_app(session: Any, **kwargs: Any) -> int:
    """Run the Textual app on ``session`` until the user quits.

    The app lives in ``screens`` (the layer above this one), so it is looked up
    by name at run time: ``console`` never imports ``screens``, and commands
    that draw nothing never pay for importing Textual.
    """
    app_module = importlib.import_module("screens.app")
    try:
        return int(app_module.run(session, **kwargs) or 0)
    finally:
        session.close()
