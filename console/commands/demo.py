"""``llmdeck demo``: create (or reuse) the demo workspace and open it live."""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from console.commands.common import view_at
from console.core.config import Profile, load_config
from console.core.errors import WorkspaceError
from console.core.session import Session


def default_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "llmdeck" / "demo"


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="open a demo workspace with a week of traffic and an incident")
    p.add_argument(
        "--dir", type=Path, default=None, help=f"workspace directory (default: {default_dir()})"
    )
    p.add_argument("--no-ui", action="store_true", help="create the workspace and exit")
    p.add_argument("--no-live", action="store_true", help="do not append live traffic")
    p.add_argument(
        "--no-model",
        action="store_true",
        help="do not build or start the local model replays go to (llama.cpp + SmolLM2)",
    )
    p.add_argument(
        "--rate",
        type=float,
        default=1.0,
        help="live traffic volume relative to the history (default 1.0)",
    )
    p.set_defaults(func=run, at_kind="reads")


class _Progress:
    """Creation progress on stderr: a bar on a terminal, a line per quarter and
    per step otherwise (CI logs, `make demo | tee`), elapsed seconds on each."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.started = time.monotonic()
        self.quarter = 0

    def _elapsed(self) -> str:
        return f"{time.monotonic() - self.started:5.1f} s"

    def requests(self, done: int, total: int) -> None:
        if self.tty:
            _bar(done, total)
            return
        quarter = 4 * done // max(total, 1)
        if quarter > self.quarter:
            self.quarter = quarter
            print(f"  {self._elapsed()}  generated {done:,}/{total:,} requests", file=sys.stderr)

    def stage(self, text: str) -> None:
        print(f"  {self._elapsed()}  {text}", file=sys.stderr, flush=True)


def _bar(done: int, total: int) -> None:
    width = 30
    filled = int(width * done / max(total, 1))
    sys.stderr.write(
        f"\r  generating traffic [{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,}"
    )
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    from console.demo.workspace import CONFIG_NAME, create

    path: Path = (args.dir or default_dir()).expanduser().resolve()
    if path.exists() and not os.access(path, os.W_OK):
        raise WorkspaceError(f"{path}: workspace directory is not writable")
    if not (path / CONFIG_NAME).exists():
        print(
            f"llmdeck: creating the demo workspace in {path} "
            "(about 240,000 requests, once: half a minute on 2 idle cores, minutes under load)",
            file=sys.stderr,
        )
    shown = _Progress()
    result = create(path, progress=shown.requests, stage=shown.stage)
    if result.created:
        print(
            f"llmdeck: {result.records:,} requests over 7 days in {result.seconds:.1f} s",
            file=sys.stderr,
        )
    if args.no_ui:
        print(path)
        return 0
    profile = load_config(path / CONFIG_NAME).profile(args.profile or "demo")
    live = None
    if not args.no_live:
        from console.demo.live import LiveTraffic

        live = LiveTraffic(path, rate_scale=args.rate).start()
    model = None
    if not args.no_model:
        # Returns at once: the one-time build runs in the background (console/demo/local_model.py).
        from console.demo.local_model import LocalModel

        model = LocalModel()
        model.start()
        profile = _aim_local_target(profile, model.url)
    session = Session(profile, read_only=True if args.read_only else None, at=view_at(args))
    from console.commands.ui import run_app

    try:
        return run_app(session, live=live, local_model=model)
    finally:
        if live:
            live.stop()
        if model:
            # The build or server outlives this console: the next one adopts it.
            model.detach()


def _aim_local_target(profile: Profile, url: str) -> Profile:
    """The profile with its ``local`` replay target at the model's real address
    (the model may have had to take another port than the profile's)."""
    spec = profile.replay_targets.get("local")
    if spec is None or spec.options.get("url") == url:
        return profile
    targets = {
        **profile.replay_targets,
        "local": replace(spec, options={**spec.options, "url": url}),
    }
    return replace(profile, replay_targets=targets)
