"""Reading log files line by line: plain or gzip, resumable at a byte offset,
with a follow mode that survives rotation.

Lines are read in binary so that garbage bytes become a reported problem
instead of a decoding crash. A line longer than ``MAX_LINE`` bytes is skipped
(its bytes consumed in chunks, never held in memory) and reported.
"""

from __future__ import annotations

import gzip
import os
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

MAX_LINE = 10 * 1024 * 1024  # bytes
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Line:
    """One line: 1-based ``number``, the byte ``end`` offset after it (in the
    decompressed stream for ``.gz``), its bytes without the newline, or the
    ``problem`` that stopped it being read."""

    number: int
    end: int
    data: bytes | None
    problem: str | None = None


def is_gzip(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(2) == b"\x1f\x8b"
    except OSError:
        return path.suffix == ".gz"


def open_binary(path: Path) -> BinaryIO:
    """The file's (decompressed) bytes. Raises OSError."""
    if is_gzip(path):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def head(path: Path, size: int = 65536) -> bytes:
    """The first ``size`` decompressed bytes ("" when unreadable or truncated)."""
    try:
        with open_binary(path) as fh:
            return fh.read(size)
    except (OSError, EOFError, zlib.error):
        return b""


def _skip_to(fh: BinaryIO, offset: int) -> int:
    """Move to ``offset``, counting the lines before it. Returns that count."""
    if not isinstance(fh, gzip.GzipFile):  # a gzip stream is read from its start as opened
        fh.seek(0)
    lines = 0
    left = offset
    while left > 0:
        chunk = fh.read(min(_CHUNK, left))
        if not chunk:
            break
        lines += chunk.count(b"\n")
        left -= len(chunk)
    return lines


def read_lines(
    path: Path,
    offset: int = 0,
    *,
    follow: bool = False,
    stop: Callable[[], bool] = lambda: False,
    poll_s: float = 0.5,
) -> Iterator[Line]:
    """Lines of ``path`` from byte ``offset`` on.

    Without ``follow`` a last line without a newline is returned as it is.
    With ``follow`` such a partial line waits for its newline, and when the
    file is rotated (the path now names another file, or it shrank) the rest
    of the old file is read and reading goes on from the start of the new
    one; it stops when ``stop()`` says so. A truncated gzip ends with a
    ``problem`` line. Raises OSError when the file cannot be opened at first.
    """
    fh = open_binary(path)
    gz = isinstance(fh, gzip.GzipFile)
    try:
        number = _skip_to(fh, offset) if offset else 0
        state = [number, offset]
        while True:
            try:
                yield from _read_available(fh, state, follow and not gz)
            except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
                yield Line(state[0] + 1, -1, None, gzip_reason(exc))
                return
            if not follow or gz or stop():
                return
            if not _rotated(path, fh, state[1]):
                time.sleep(poll_s)
                continue
            # Rotated: what the writer added to the old file before moving on
            # is read first, then the new file from its start.
            yield from _read_available(fh, state, False)
            try:
                new = open_binary(path)
            except OSError:
                time.sleep(poll_s)  # between rename and re-create: look again
                continue
            fh.close()
            fh = new
            state[:] = [0, 0]
    finally:
        fh.close()


def gzip_reason(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return "truncated gzip: the file ends before the end of its compressed stream"
    return "corrupt gzip data"


def _rotated(path: Path, fh: BinaryIO, pos: int) -> bool:
    try:
        now = path.stat()
    except OSError:
        return False  # renamed away and not yet re-created
    try:
        mine = os.fstat(fh.fileno())
    except (OSError, ValueError):
        return True
    return (now.st_ino, now.st_dev) != (mine.st_ino, mine.st_dev) or now.st_size < pos


def _read_available(fh: BinaryIO, state: list[int], wait_partial: bool) -> Iterator[Line]:
    """Yield the complete lines available now; ``state`` is [line number, offset]."""
    while True:
        data = fh.readline(MAX_LINE + 1)
        if not data:
            return
        if not data.endswith(b"\n"):
            if len(data) > MAX_LINE:
                state[0] += 1
                state[1] += len(data) + _skip_rest(fh)
                yield Line(state[0], state[1], None, f"line longer than {MAX_LINE >> 20} MB")
                continue
            if wait_partial:
                fh.seek(state[1])  # not complete yet: read it again once the writer ends it
                return
        state[0] += 1
        state[1] += len(data)
        yield Line(state[0], state[1], data.rstrip(b"\r\n"))


def _skip_rest(fh: BinaryIO) -> int:
    """Consume up to and including the next newline; returns the bytes skipped."""
    skipped = 0
    while True:
        chunk = fh.readline(_CHUNK)
        if not chunk:
            return skipped
        skipped += len(chunk)
        if chunk.endswith(b"\n"):
            return skipped
