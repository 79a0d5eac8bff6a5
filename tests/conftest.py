"""Shared fixtures: a demo workspace at a fixed time, an in-memory keyring,
a frozen clock, and SVG snapshots written to the repository's snapshots/."""

from __future__ import annotations

import os
from collections.abc import Iterator
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


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo workspace whose week of history ends at FIXED_NOW (made once).

    Tests must not write to it; use ``demo_copy`` for that.
    """
    from console.demo.workspace import create

    path = tmp_path_factory.mktemp("demo") / "ws"
    create(path, now=FIXED_NOW)
    return path


@pytest.fixture
def demo_copy(demo_dir: Path, tmp_path: Path) -> Iterator[Path]:
    """A private, writable copy of the demo workspace (about 450 MB, removed after
    the test whatever its outcome: dozens of kept copies once filled the disk)."""
    import shutil
    import sqlite3

    dest = tmp_path / "ws"
    shutil.copytree(demo_dir, dest, ignore=shutil.ignore_patterns("store.db*"))
    src = sqlite3.connect(demo_dir / "store.db")
    dst = sqlite3.connect(dest / "store.db")
    src.backup(dst)
    src.close()
    dst.close()
    yield dest
    shutil.rmtree(dest, ignore_errors=True)


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
        priority = 1  # type: ignore[assignment]

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
