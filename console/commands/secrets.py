"""``llmdeck secrets set|delete NAME``: secrets live in the OS keyring, never in files."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from console.core import secrets


def register(sub: Any) -> None:
    p = sub.add_parser("secrets", help="store or delete a secret in the OS keyring")
    ssub = p.add_subparsers(dest="secrets_command", required=True, metavar="ACTION")
    s = ssub.add_parser("set", help="store a secret (read from the terminal or stdin)")
    s.add_argument("name", help="the name profiles use: {keyring: NAME}")
    s.set_defaults(func=run_set, at_kind="writes")
    d = ssub.add_parser("delete", help="remove a secret")
    d.add_argument("name")
    d.set_defaults(func=run_delete, at_kind="writes")


def run_set(args: argparse.Namespace) -> int:
    if sys.stdin.isatty():
        value = getpass.getpass(f"value for {args.name} (not echoed): ")
    else:
        value = sys.stdin.readline().strip()
    secrets.store(args.name, value)
    print(f"stored {args.name} in the keyring")
    return 0


def run_delete(args: argparse.Namespace) -> int:
    secrets.delete(args.name)
    print(f"deleted {args.name} from the keyring")
    return 0
