"""Shared fixtures: a demo workspace at a fixed time, an in-memory keyring,
a frozen clock, and SVG snapshots written to the repository's snapshots/."""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_textual_snapshot

from console.core import clock
from console.core.config import Profile, load_config
from console.core.session import Session

ROOT = Path(__file__).resolve().parent.parent
# The fixed "now" of every deterministic test: the demo's history ends here.
FIXED_NOW = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)

os.environ.pop("LLMDECK_CONFIG", None)  # never pick up a developer's config


class RootSnapshots(pytest_textual_snapshot.SVGImageExtension):
    """Write SVG snapshots into snapshots/<test file>/ at the repository root."""

    @classmethod
    def dirname(cls, *, test_location):  # type: ignore[no-untyped-def]
        return str(ROOT / "snapshots" / test_location.basename)


pytest_textual_snapshot.SVGImageExtension = RootSnapshots  # read at call time


@contextmanager
def removed_afterwards(path: Path) -> Iterator[Path]:
    """Yield ``path`` and remove it however the block ends, setup failures included.

    pytest keeps the whole temp root of a failed run (tmp_path_retention_policy
    "failed" only prunes after a green run), and a demo workspace is about 450 MB:
    one red run once left a 457 MB copy behind, dozens filled the disk.
    """
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A demo workspace whose week of history ends at FIXED_NOW (made once,
    removed at the end of the session whatever its outcome).

    Tests must not write to it; use ``demo_copy`` for that.
    """
    from console.demo import workspace

    with removed_afterwards(tmp_path_factory.mktemp("demo") / "ws") as path:
        workspace.create(path, now=FIXED_NOW)
        yield path


@pytest.fixture
def demo_copy(demo_dir: Path, tmp_path: Path) -> Iterator[Path]:
    """A private, writable copy of the demo workspace, removed after the test
    whatever its outcome (a copy interrupted half-way included)."""
    with removed_afterwards(tmp_path / "ws") as dest:
        shutil.copytree(demo_dir, dest, ignore=shutil.ignore_patterns("store.db*"))
        src = sqlite3.connect(demo_dir / "store.db")
        dst = sqlite3.connect(dest / "store.db")
        try:
            src.backup(dst)
        finally:
            src.close()
            dst.close()
        yield dest


def demo_profile(path: Path, name: str = "demo") -> Profile:
    return load_config(path / "llmdeck.yaml").profile(name)


@pytest.fixture
def frozen_clock() -> Iterator[datetime]:
    clock.freeze(FIXED_NOW)
    yield FIXED_NOW
    clock.freeze(None)


@pytest.fixture
def demo_session(demo_dir: Path, frozen_clock: datetime) -> Iterator[Session]:
    """A session on the shared demo workspace, clock frozen at FIXED_NOW."""
    session = Session(demo_profile(demo_dir))
    yield session
    session.close()


@pytest.fixture
def memory_keyring() -> Iterator[dict[tuple[str, str], str]]:
    """An in-memory keyring backend for the duration of a test."""
    import keyring
    from keyring.backend import KeyringBackend

    store: dict[tuple[str, str], str] = {}

    class MemoryKeyring(KeyringBackend):
        priority = 1

        def get_password(self, service: str, username: str) -> str | None:
            return store.get((service, username))

        def set_password(self, service: str, username: str, password: str) -> None:
            store[(service, username)] = password

        def delete_password(self, service: str, username: str) -> None:
            store.pop((service, username))

    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    yield store
    keyring.set_keyring(previous)
