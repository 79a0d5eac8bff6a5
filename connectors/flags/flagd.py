"""Flags in a flagd flag-definition JSON file.

The file is one environment (named by the profile). A flag's ``state``
(``ENABLED``/``DISABLED``) is its enabled state; variant weights live in a
``fractional`` targeting rule. ``metadata.type`` carries the flag type
(``kill-switch`` and so on), as flagd keeps no type of its own.

Writes are compare-and-swap on the file content the change was planned from
(``Flag.revision`` is the SHA-256 of the file), under an exclusive lock, and
atomic: a temporary file in the same directory, fsync, rename. Unknown keys
and the file's indentation are kept; a change that would leave the file
invalid is refused before anything is written.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from connectors.base import FlagStore
from connectors.errors import BackendUnavailable, Conflict, InvalidChange, NotFound
from connectors.options import Option
from connectors.records import BackendStatus, Flag, FlagEnvironment, Variant
from connectors.support.atomic import locked, write_atomic


def _fractional(targeting: Any) -> list[list[Any]] | None:
    """The ``[variant, weight]`` pairs of a top-level fractional rule, if any."""
    if isinstance(targeting, Mapping) and isinstance(targeting.get("fractional"), list):
        return [p for p in targeting["fractional"] if isinstance(p, list) and len(p) == 2]
    return None


def _weight_ok(w: Any) -> bool:
    # bool is an int to Python but not a weight; NaN and inf compare false to
    # everything, so "w < 0" alone would let them through.
    return isinstance(w, int | float) and not isinstance(w, bool) and math.isfinite(w) and w >= 0


def _name(value: Any) -> str:
    """A key or value for a message: short, and never a whole nested structure."""
    text = repr(value) if isinstance(value, str) else f"a {type(value).__name__}"
    return text if len(text) <= 60 else text[:59] + "…"


def validate(doc: Any) -> list[str]:
    """Problems that would make ``doc`` an invalid flagd definition (empty if none).

    Each problem names the flag key and the field. Only shapes llmdeck reads
    are checked; unknown keys are left alone.
    """
    if not isinstance(doc, Mapping) or not isinstance(doc.get("flags"), Mapping):
        return ["the file has no 'flags' object"]
    problems = []
    for raw_key, flag in doc["flags"].items():
        # A key with a newline or a huge one would break the one-line message.
        key = (
            raw_key
            if isinstance(raw_key, str) and raw_key.isprintable() and len(raw_key) <= 60
            else _name(raw_key)
        )
        if not isinstance(flag, Mapping):
            problems.append(f"{key}: not an object")
            continue
        if flag.get("state") not in ("ENABLED", "DISABLED"):
            problems.append(f"{key}: state must be ENABLED or DISABLED")
        if not isinstance(flag.get("metadata", {}), Mapping):
            problems.append(f"{key}: metadata must be an object")
        variants = flag.get("variants")
        if not isinstance(variants, Mapping) or not variants:
            problems.append(f"{key}: needs at least one variant")
            continue
        default = flag.get("defaultVariant")
        if default is not None and not isinstance(default, str):
            problems.append(f"{key}: defaultVariant must be a string, not {_name(default)}")
        elif default is not None and default not in variants:
            problems.append(f"{key}: defaultVariant {_name(default)} is not a variant")
        pairs = _fractional(flag.get("targeting"))
        numbers = [p[1] for p in pairs or () if _weight_ok(p[1])]
        if pairs and numbers and sum(numbers) <= 0:
            problems.append(f"{key}: fractional weights add up to 0")
        for pair in pairs or ():
            if not isinstance(pair[0], str):
                problems.append(f"{key}: fractional variant must be a string, not {_name(pair[0])}")
                continue
            if pair[0] not in variants:
                problems.append(f"{key}: fractional names unknown variant {_name(pair[0])}")
            if not _weight_ok(pair[1]):
                problems.append(f"{key}: weight of {_name(pair[0])} must be a finite number >= 0")
    return problems


def _no_constant(name: str) -> Any:
    # Python's json reads NaN and Infinity, which are not JSON: flagd itself
    # would refuse the file, and a weight of NaN must never be shown or kept.
    raise ValueError(f"{name} is not valid JSON")


def loads(raw: bytes) -> Any:
    """Parse a flag file strictly. Raises ValueError with a one-line reason:
    naming the flag and field when a NaN or Infinity sits in a weight."""
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("nested too deep") from None
    except ValueError as exc:
        if "is not valid JSON" not in str(exc):
            raise
        try:
            problems = validate(json.loads(raw))  # parsed again, only to name the key
        except (ValueError, RecursionError):
            problems = []
        raise ValueError(problems[0] if problems else str(exc)) from None


class FlagdFile(FlagStore):
    """A flagd flag-definition file as a flag store."""

    kind = "flagd"
    capabilities: ClassVar[frozenset[str]] = frozenset({"read", "write", "variants"})
    OPTIONS: ClassVar[tuple[Option, ...]] = (
        Option("path", Path, doc="flagd flag-definition JSON file"),
        Option("environment", str, None, "environment name shown (default: the profile's)"),
    )

    def __init__(
        self,
        *,
        path: str | Path,
        environment: str = "default",
        read_only: bool = False,
    ) -> None:
        super().__init__(read_only=read_only)
        self.path = Path(path)
        self.environment = environment

    def _read(self) -> tuple[bytes, dict[str, Any]]:
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            raise BackendUnavailable(f"{self.path}: {exc.strerror or exc}") from None
        try:
            doc = loads(raw)
        except ValueError as exc:  # UnicodeDecodeError too
            raise BackendUnavailable(f"{self.path}: not valid JSON ({exc})") from None
        problems = validate(doc)
        if problems:
            raise BackendUnavailable(f"{self.path}: invalid flagd file: {problems[0]}")
        return raw, doc

    def ping(self) -> BackendStatus:
        try:
            _, doc = self._read()
        except BackendUnavailable as exc:
            return BackendStatus(ok=False, detail=str(exc))
        return BackendStatus(
            ok=True, version="flagd schema v0", detail=f"{len(doc['flags'])} flags"
        )

    def flags(self) -> list[Flag]:
        raw, doc = self._read()
        revision = hashlib.sha256(raw).hexdigest()
        return [self._flag(k, v, revision) for k, v in doc["flags"].items()]

    def _flag(self, key: str, spec: Mapping[str, Any], revision: str) -> Flag:
        pairs = _fractional(spec.get("targeting"))
        names = list(spec["variants"])
        if pairs:
            total = sum(p[1] for p in pairs) or 1
            weights = {p[0]: 100.0 * p[1] / total for p in pairs}
        else:
            default = spec.get("defaultVariant")
            weights = {n: (100.0 if n == default else 0.0) for n in names}
        variants = tuple(Variant(n, weights.get(n, 0.0), spec["variants"][n]) for n in names)
        meta = spec.get("metadata") or {}
        env = FlagEnvironment(
            environment=self.environment,
            enabled=spec.get("state") == "ENABLED",
            variants=variants,
            default_variant=spec.get("defaultVariant"),
            strategies=("fractional",) if pairs else (),
        )
        return Flag(
            key=key,
            kind=str(meta.get("type", "release")),
            environments=(env,),
            description=str(meta.get("description", "")),
            revision=revision,
            metadata={str(k): str(v) for k, v in meta.items() if isinstance(v, str | int | float)},
        )

    def _remove_leftovers(self) -> None:
        """Delete temporary files of writers killed mid-write. Every writer holds
        the lock while its temporary file exists, so under the lock any such
        file belongs to a dead writer."""
        for tmp in self.path.parent.glob(f".{self.path.name}-*"):
            with contextlib.suppress(OSError):
                tmp.unlink()

    def set_enabled(self, key: str, environment: str, enabled: bool, *, expected: Flag) -> None:
        def change(flag: dict[str, Any]) -> None:
            flag["state"] = "ENABLED" if enabled else "DISABLED"

        self._write(key, environment, expected, change)

    def set_weights(
        self, key: str, environment: str, weights: Mapping[str, float], *, expected: Flag
    ) -> None:
        for name, w in weights.items():
            if not _weight_ok(w):
                raise InvalidChange(f"{key}: weight of {_name(name)} must be a finite number >= 0")
        if abs(sum(weights.values()) - 100.0) > 0.01:
            raise InvalidChange(f"weights add up to {sum(weights.values()):g}, not 100")

        def change(flag: dict[str, Any]) -> None:
            unknown = set(weights) - set(flag["variants"])
            if unknown:
                raise InvalidChange(f"{key}: unknown variant {sorted(unknown)[0]!r}")
            pairs = [[name, _number(w)] for name, w in weights.items()]
            targeting = flag.get("targeting")
            if isinstance(targeting, dict) and isinstance(targeting.get("fractional"), list):
                # Keep a leading bucketing expression, replace the weight pairs.
                head = [p for p in targeting["fractional"] if not isinstance(p, list)]
                targeting["fractional"] = head + pairs
            else:
                flag["targeting"] = {"fractional": pairs}

        self._write(key, environment, expected, change)

    def _write(self, key: str, environment: str, expected: Flag, change: Any) -> None:
        self.check_writable()
        if environment != self.environment:
            raise NotFound(
                f"{self.path} holds environment {self.environment!r}, not {environment!r}"
            )
        try:
            with locked(self.path):
                self._remove_leftovers()
                raw, doc = self._read()
                if hashlib.sha256(raw).hexdigest() != expected.revision:
                    raise Conflict(f"{self.path} changed since the plan was made; nothing written")
                if key not in doc["flags"]:
                    raise NotFound(f"flag {key!r} does not exist in {self.path}")
                change(doc["flags"][key])
                problems = validate(doc)
                if problems:
                    raise InvalidChange(f"refused, the file would be invalid: {problems[0]}")
                try:
                    text = _dump(doc, raw)
                except (ValueError, RecursionError) as exc:
                    raise InvalidChange(f"refused, {self.path} cannot be written: {exc}") from None
                write_atomic(self.path, text)
        except OSError as exc:  # lock file or temporary file: permissions, disk full
            raise BackendUnavailable(f"{self.path}: cannot write: {exc.strerror or exc}") from None


def _number(w: float) -> int | float:
    return int(w) if float(w).is_integer() else float(w)


def _dump(doc: Any, raw: bytes) -> str:
    """``doc`` serialised in the layout of ``raw``: its indentation (spaces or a
    tab), compact or spaced separators, and its trailing newline or lack of one.
    Key order is kept because JSON objects load into ordered dicts."""
    text = raw.decode("utf-8", "replace")
    indent = _indent(text)
    if indent is None and '":' in text and '": ' not in text:
        out = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    else:
        out = json.dumps(doc, indent=indent, ensure_ascii=False, allow_nan=False)
    return out + ("\n" if text.endswith("\n") else "")


def _indent(text: str) -> int | str | None:
    """The indentation the file uses, so a rewrite keeps its layout."""
    for line in text.splitlines()[1:]:
        if line.startswith("\t"):
            return "\t"
        stripped = line.lstrip(" ")
        if stripped and len(stripped) != len(line):
            return len(line) - len(stripped)
    return None
