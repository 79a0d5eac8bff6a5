"""Atomic file replacement: a reader sees the old file or the new one, never
a torn one, even if the writer is killed mid-write. And private files:
exports and the store hold full prompts and outputs, so they are created
readable by their owner only (0600), whatever the umask."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

PRIVATE = 0o600


def private_opener(path: str, flags: int) -> int:
    """An ``open(..., opener=)`` that creates the file 0600 and makes an
    existing one 0600 too (an export rewritten in place stays private)."""
    fd = os.open(path, flags, PRIVATE)
    try:
        os.fchmod(fd, PRIVATE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _keep_owner_and_mode(fd: int, path: Path, mode: int | None) -> None:
    """Give the temporary file the mode (and, where allowed, the owner) the
    replaced file had: mkstemp makes it 0600, and a rename would otherwise
    lock out a reader running as another user (a flagd daemon)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        os.fchmod(fd, PRIVATE if mode is None else mode)
        return
    os.fchmod(fd, st.st_mode & 0o7777 if mode is None else mode)
    if (st.st_uid, st.st_gid) != (os.getuid(), os.getgid()):
        # Only root may give a file away; otherwise the new file is ours.
        with contextlib.suppress(PermissionError):
            os.fchown(fd, st.st_uid, st.st_gid)


def write_atomic(path: Path, text: str, mode: int | None = None) -> None:
    """Write ``text`` to ``path`` through a temporary file, fsync and rename.

    The new file keeps the mode and owner of the file it replaces; a new
    file is 0600. ``mode`` forces a mode instead (exports: always 0600).
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        _keep_owner_and_mode(fd, path, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        Path(tmp).replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp).unlink()
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path``'s sidecar ``.lock`` file.

    Writers that read, compare and replace a file hold it so that two of them
    never interleave (the replaced file itself cannot carry the lock).
    """
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
