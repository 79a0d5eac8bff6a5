"""The ``llmdeck`` command line.

Each subcommand lives in ``console/commands/<name>.py`` with a ``register``
function; this module only wires them up and turns every LlmdeckError (the
one base, connector errors included) into one line on stderr and exit code 2
(never a traceback).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import os
import pkgutil
import sys
from collections.abc import Sequence
from datetime import datetime

from connectors.errors import ConnectorError
from console.core.errors import LlmdeckError
from console.core.viewtime import parse_at


def command_modules() -> list[str]:
    """Every subcommand module in ``console/commands`` (a new command is just its
    file), ``ui`` first: it is the default. Listed without importing them."""
    from console import commands

    names = [m.name for m in pkgutil.iter_modules(commands.__path__) if m.name != "common"]
    return sorted(names, key=lambda name: (name != "ui", name))


def _global_options(p: argparse.ArgumentParser, default: object) -> None:
    p.add_argument(
        "--config",
        default=default,
        help="config file (default: $LLMDECK_CONFIG, ./llmdeck.yaml, "
        "then the user config directory)",
    )
    p.add_argument(
        "--profile", default=default, help="profile to open (default: the file's default_profile)"
    )
    p.add_argument(
        "--read-only",
        action="store_true",
        default=None if default is None else default,
        help="refuse every write, whatever the profile says",
    )
    p.add_argument(
        "--at",
        metavar="TIME",
        default=default,
        help="read as of a past moment: 2026-12-01T03:10 (UTC unless it has Z or an "
        "offset), 03:10 (today UTC), -2h or '2h ago'; writes refuse it",
    )


def _subparsers(p: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every (nested) subcommand parser below ``p``."""
    found = []
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):  # aliases share a parser
                found += [child, *_subparsers(child)]
    return found


def version() -> str:
    try:
        return importlib.metadata.version("llmdeck")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout, not installed
        return "0.1.0"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="llmdeck",
        description="A terminal operator console for AI systems in production.",
    )
    p.add_argument("--version", action="version", version=f"llmdeck {version()}")
    _global_options(p, None)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name in command_modules():
        importlib.import_module(f"console.commands.{name}").register(sub)
    # kubectl and git habits: `llmdeck flags list --profile prod` works too. SUPPRESS
    # keeps a subcommand from resetting what was given before it.
    for child in _subparsers(p):
        _global_options(child, argparse.SUPPRESS)
    return p


def _glue_at(argv: Sequence[str]) -> list[str]:
    """``--at -2h`` as ``--at=-2h``: argparse takes a value that starts with a dash
    for an option, and "-2h" is the natural way to write two hours ago."""
    out = list(argv)
    for i, arg in enumerate(out[:-1]):
        if arg == "--":
            break
        if arg == "--at":
            out[i : i + 2] = [f"--at={out[i + 1]}"]
            return _glue_at(out)  # --at may be given before and after the command
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = parser()
    argv = _glue_at(argv if argv is not None else sys.argv[1:])
    args = p.parse_args(argv)
    if args.command is None:
        args = p.parse_args([*argv, "ui"])
    try:
        check_at(args)
        return int(args.func(args) or 0)
    except LlmdeckError as exc:
        # A backend's error names the backend and the cause; a command that sets
        # ``context`` adds what it was doing (``registry: MLflow at ...``).
        context = getattr(args, "context", "")
        prefix = f"{context}: " if context and isinstance(exc, ConnectorError) else ""
        print(f"llmdeck: {prefix}{exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("llmdeck: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `llmdeck requests | head -1`: the reader is gone, which is not an error.
        # Point stdout at /dev/null so the interpreter's final flush cannot raise.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # what a shell reports for SIGPIPE, as git and kubectl do


def check_at(args: argparse.Namespace) -> None:
    """Read ``--at`` into a UTC datetime (``args.at``), for the commands that read.

    A command says what it does with ``set_defaults(at_kind="reads")`` (it honours
    --at) or ``at_kind="writes"``; one that says neither refuses --at too, so a new
    command never shows the present labelled as the past. Raises LlmdeckError.
    """
    text = getattr(args, "at", None)
    if text is None or isinstance(text, datetime):
        return
    kind = getattr(args, "at_kind", None)
    if kind == "writes":
        raise LlmdeckError("--at is for reading; writes happen now")
    if kind != "reads":
        raise LlmdeckError(f"--at does not apply to {_command(args)}")
    args.at = parse_at(text)


def _command(args: argparse.Namespace) -> str:
    words = [args.command, *(getattr(args, k, None) for k in vars(args) if k.endswith("_command"))]
    return " ".join(w for w in words if isinstance(w, str))


if __name__ == "__main__":
    sys.exit(main())
