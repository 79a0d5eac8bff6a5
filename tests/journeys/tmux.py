"""Drive the real ``llmdeck`` program in a real terminal: a tmux pane.

Headless Pilot tests run the app in-process with a fake driver; they missed
every defect of issue 17 that a person saw in a terminal (a screen not
painted until a resize, keys that the real terminal sends differently, a
layout cut at 80x24). These tests start the program as a user would, in a
tmux pane of a fixed size, send keys with ``send-keys`` and read the screen
with ``capture-pane``.

Rules the harness keeps:
- one private tmux server per test run (``-L``), one session per pane with a
  unique name, so tests never see each other or a developer's tmux;
- no fixed sleeps: ``wait_for`` polls the pane until a condition holds or a
  timeout expires, and its error shows the last screen seen;
- the pane stays after the program exits (``remain-on-exit``) so a crash's
  traceback is on screen for the failure message;
- ``close`` always kills the session (the fixture calls it whatever the outcome).
"""

from __future__ import annotations

import itertools
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# One server per pytest process: parallel runs (and a developer's own tmux) stay apart.
SOCKET = f"llmdeck-test-{os.getpid()}"
_names = itertools.count()
# Polling interval of the waits: short enough to answer quickly, long enough
# not to steal a core from the program under test on a 2-core machine.
POLL_S = 0.1
# The default wait. The first frame takes about 1 s on an idle machine; under
# the load of a full test run on 2 cores it has taken 20 s.
TIMEOUT_S = 45.0

Check = Callable[[str], bool]


class PaneTimeout(AssertionError):
    """A condition did not hold in time; the message holds the last screen."""


def tmux_available() -> bool:
    return shutil.which("tmux") is not None


def _tmux(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["tmux", "-L", SOCKET, "-f", os.devnull, *args],
        capture_output=True,
        text=True,
        check=check,
        timeout=30,
    )


def _as_check(what: str | re.Pattern[str] | Check) -> tuple[Check, str]:
    if isinstance(what, str):
        return (lambda screen: what in screen), repr(what)
    if isinstance(what, re.Pattern):
        pattern = what
        return (lambda screen: pattern.search(screen) is not None), f"/{pattern.pattern}/"
    return what, getattr(what, "__name__", "condition")


class Pane:
    """One tmux session running one command in a pane of ``width`` x ``height``."""

    def __init__(self, width: int = 160, height: int = 48) -> None:
        self.name = f"deck{os.getpid()}-{next(_names)}"
        self.width = width
        self.height = height
        self.started = False

    def start(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> Pane:
        """Run ``argv`` in a new detached session (environment: ours plus ``env``)."""
        # tmux passes a command string to /bin/sh; `env` sets the variables for
        # the program alone, whatever the server's own environment holds.
        assignments = [f"{k}={v}" for k, v in (env or {}).items()]
        # COLUMNS/LINES reach the pane from the test process under pytest (80x24)
        # and override the pty's real size for Python's shutil.get_terminal_size,
        # which Textual uses: drop them so the program sees the pane's size.
        command = shlex.join(["env", "-u", "COLUMNS", "-u", "LINES", *assignments, *argv])
        _tmux(
            "new-session",
            "-d",
            "-s",
            self.name,
            "-x",
            str(self.width),
            "-y",
            str(self.height),
            command,
        )
        self.started = True
        # Keep the pane after the program ends so a traceback can be read, and
        # never let the window follow another client's size.
        _tmux("set-option", "-t", self.name, "remain-on-exit", "on")
        _tmux("set-option", "-t", self.name, "window-size", "manual")
        return self

    # -- reading ---------------------------------------------------------------------

    def text(self) -> str:
        """The visible screen, one line per row, trailing blanks removed."""
        result = _tmux("capture-pane", "-p", "-t", self.name, check=False)
        return result.stdout

    def dead(self) -> bool:
        """True when the program has exited (the pane remains, see ``start``)."""
        result = _tmux("display-message", "-p", "-t", self.name, "#{pane_dead}", check=False)
        return result.stdout.strip() == "1"

    def exit_status(self) -> int | None:
        result = _tmux("display-message", "-p", "-t", self.name, "#{pane_dead_status}", check=False)
        value = result.stdout.strip()
        return int(value) if value.isdigit() else None

    def _exit_recorded(self, check: Check) -> bool:
        """tmux marks a pane dead a moment before it records the exit status: give
        it that moment, then look again (a condition may be about the exit itself)."""
        deadline = time.monotonic() + 2.0
        while self.exit_status() is None and time.monotonic() < deadline:
            time.sleep(POLL_S)
        return check(self.text())

    def wait_for(self, what: str | re.Pattern[str] | Check, timeout: float = TIMEOUT_S) -> str:
        """Poll the screen until ``what`` (text, regex or predicate) is on it; return it.

        Raises PaneTimeout with the last screen when it does not appear in time,
        or at once when the program exited (it will not appear then).
        """
        check, label = _as_check(what)
        deadline = time.monotonic() + timeout
        while True:
            screen = self.text()
            if check(screen):
                return screen
            if self.dead() and not self._exit_recorded(check):  # a condition may be about the exit
                raise PaneTimeout(
                    f"llmdeck exited (status {self.exit_status()}) before {label} appeared:\n"
                    f"{self.text()}"
                )
            if time.monotonic() > deadline:
                raise PaneTimeout(f"{label} not on screen after {timeout:.0f} s:\n{screen}")
            time.sleep(POLL_S)

    def quit_and_wait(self, timeout: float = 30.0) -> int | None:
        """Press q and wait for the program to end; its exit status, or None.

        tmux marks the pane dead first and records the status a moment later;
        now and then it never records one although the process is gone (both
        ``pane_dead_status`` and ``pane_dead_signal`` empty): then None, and only
        the absence of a traceback can be checked.
        """
        self.send("q")
        started = time.monotonic()
        while not self.dead():
            if time.monotonic() - started > timeout:
                raise PaneTimeout(f"no exit in {timeout:.0f} s:\n{self.text()}")
            time.sleep(POLL_S)
        while self.exit_status() is None and time.monotonic() - started < timeout + 5:
            time.sleep(POLL_S)
        return self.exit_status()

    def wait_gone(self, what: str | re.Pattern[str], timeout: float = TIMEOUT_S) -> str:
        """Poll until ``what`` is no longer on the screen."""
        check, label = _as_check(what)

        def gone(screen: str) -> bool:
            return not check(screen)

        gone.__name__ = f"{label} gone"
        return self.wait_for(gone, timeout)

    # -- acting ----------------------------------------------------------------------

    def send(self, *keys: str) -> None:
        """Send keys by tmux name (``Escape``, ``C-p``, ``Enter``, ``1``, ``:``)."""
        for key in keys:
            # One send-keys per key: tmux reads a multi-character argument like
            # "Escape" as a key name, and a lone ";" as a command separator.
            _tmux("send-keys", "-t", self.name, key.replace(";", "\\;"))

    def type(self, text: str) -> None:
        """Send ``text`` literally (no key-name lookup)."""
        _tmux("send-keys", "-t", self.name, "-l", text)

    def open_selected(self, expect: str, timeout: float = TIMEOUT_S) -> str:
        """Press Enter on a table and wait for ``expect``; press it once more if
        the table is still there after a while. Seen in CI under load (once in
        three runs): an Enter right after a filtered reload opened nothing, while
        the table was shown and loaded. A product issue to find (issue 17 note);
        the journey still fails if the second Enter opens nothing either."""
        self.send("Enter")
        try:
            return self.wait_for(expect, timeout=timeout / 3)
        except PaneTimeout:
            self.send("Enter")
            return self.wait_for(expect, timeout=timeout)

    def resize(self, width: int, height: int) -> None:
        """Resize the window, as a terminal emulator's resize does (SIGWINCH)."""
        self.width, self.height = width, height
        _tmux("resize-window", "-t", self.name, "-x", str(width), "-y", str(height))

    def close(self) -> None:
        """Kill the session and with it the program (idempotent)."""
        if self.started:
            _tmux("kill-session", "-t", self.name, check=False)
            self.started = False


def llmdeck_argv(*args: str) -> list[str]:
    """The program as a user runs it: this checkout's ``llmdeck`` on our Python."""
    return [sys.executable, "-m", "console", *args]


def deck_env(frozen_at: str | None) -> dict[str, str]:
    """Environment of the program: this checkout first, a fixed clock, no stray config."""
    env = {
        "PYTHONPATH": str(ROOT),
        "TERM": "tmux-256color",
        "COLORTERM": "truecolor",
        # Never pick up a developer's config or demo directory.
        "LLMDECK_CONFIG": "",
        # No cursor blink or animations: the screen only changes when data does.
        "TEXTUAL_ANIMATIONS": "none",
    }
    if frozen_at is not None:
        env["LLMDECK_FROZEN_TIME"] = frozen_at
    return env


def kill_server() -> None:
    """Stop this process's private tmux server (end of the test session)."""
    _tmux("kill-server", check=False)


@pytest.fixture
def deck(demo_copy: Path) -> Iterator[Callable[..., Pane]]:
    """Start llmdeck in a tmux pane on a private copy of the demo workspace.

    ``deck(*args, size=(w, h), frozen=True)`` returns the started Pane; ``args``
    follow ``llmdeck`` (``--read-only``, ``--profile x``). The clock is frozen
    at the demo's end (tests/conftest.py FIXED_NOW) unless ``frozen=False``.
    Every pane is killed after the test, whatever its outcome.
    """
    from tests.conftest import FIXED_NOW

    if not tmux_available():
        pytest.skip("tmux is not installed (bash scripts/backends.sh install tmux)")
    started: list[Pane] = []

    def start(*args: str, size: tuple[int, int] = (160, 48), frozen: bool = True) -> Pane:
        pane = Pane(*size)
        started.append(pane)
        config = str(demo_copy / "llmdeck.yaml")
        env = deck_env(FIXED_NOW.isoformat() if frozen else None)
        return pane.start(llmdeck_argv("--config", config, *args), env)

    try:
        yield start
    finally:
        for pane in started:
            pane.close()
