"""Declared connector options: what a profile may set on each connector kind.

Every connector class lists its options in ``OPTIONS`` (name, type, default,
one-line doc), next to the constructor that takes them, so the profile
loader, ``llmdeck doctor --options`` and the README all read one declaration.
A profile key that is not declared, a value of the wrong type or a missing
required option is refused when the config is loaded, naming the key, instead
of surfacing later as a ``TypeError`` from the constructor.

Constructor parameters that are not declared (``read_only``, ``transport``)
are set by the session or by tests, never by a profile.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final


class _Required:
    """The default of an option the profile must set."""

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Final = _Required()

# The value types an option may have; ``Path`` is written as a string in the
# file and resolved relative to it by the loader, ``dict`` is a mapping of
# strings to strings (for example per-panel PromQL overrides).
OptionType = type[str] | type[int] | type[float] | type[bool] | type[Path] | type[dict[str, str]]

_TYPE_NAMES: dict[type, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "true or false",
    Path: "path",
    dict: "mapping of strings",
}

_EXPECTED: dict[type, str] = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    Path: "a path",
    dict: "a mapping of strings to strings",
}


@dataclass(frozen=True, slots=True)
class Option:
    """One option of a connector kind.

    ``secret`` options must be written ``{keyring: NAME}`` or ``{env: VAR}``
    in the file (the loader refuses a plain value); no other option may be.
    """

    name: str
    type: OptionType
    default: Any = REQUIRED
    doc: str = ""
    secret: bool = False

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def type_name(self) -> str:
        return _TYPE_NAMES[self.type]

    def describe_default(self) -> str:
        """The default as the README and doctor show it."""
        if self.required:
            return "required"
        if self.default is None or self.default == "":
            return "-"
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        return str(self.default)


class OptionError(ValueError):
    """A profile's option does not match its declaration; ``key`` names it."""

    def __init__(self, key: str, message: str) -> None:
        self.key, self.message = key, message
        super().__init__(f"{key}: {message}" if key else message)


def declared(cls: type) -> tuple[Option, ...] | None:
    """The options ``cls`` declares, or None when it declares none (not checked)."""
    options = getattr(cls, "OPTIONS", None)
    return None if options is None else tuple(options)


def check(
    values: Mapping[str, Any],
    options: Iterable[Option],
    *,
    is_secret: Callable[[Any], bool] = lambda _: False,
) -> None:
    """Check profile ``values`` against ``options``.

    ``is_secret`` says whether a value is a secret reference (the loader's
    type, which this layer does not know). Raises OptionError naming the first
    unknown, missing or mistyped key. Returns nothing: values are not coerced,
    so what the constructor gets is what the file says.
    """
    by_name = {o.name: o for o in options}
    for key, value in values.items():
        option = by_name.get(str(key))
        if option is None:
            known = ", ".join(sorted(by_name)) or "none"
            raise OptionError(str(key), f"unknown option (known: {known})")
        _check_value(option, value, is_secret(value))
    for option in by_name.values():
        if option.required and option.name not in values:
            raise OptionError(option.name, f"required option missing ({option.doc})")


def _check_value(option: Option, value: Any, secret_ref: bool) -> None:
    if option.secret:
        if not secret_ref:
            raise OptionError(
                option.name,
                "secrets are never stored in the file; write "
                "{keyring: NAME} (see `llmdeck secrets set`) or {env: VAR}",
            )
        return
    if secret_ref:
        raise OptionError(option.name, "is not a secret; write the value itself")
    if isinstance(value, str | Path) and "\x00" in str(value):
        raise OptionError(option.name, "contains a NUL character")
    if not _matches(option.type, value):
        raise OptionError(
            option.name, f"expected {_EXPECTED[option.type]}, got {_shown(value)} ({option.doc})"
        )


def _matches(kind: OptionType, value: Any) -> bool:
    # bool is an int to Python but never a count or a timeout to a reader.
    if kind is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind is int:
        return isinstance(value, int)
    if kind is float:
        return isinstance(value, int | float) and math.isfinite(value)
    if kind is str:
        return isinstance(value, str) and "\x00" not in value
    if kind is Path:
        # the loader has already resolved a valid string to a Path
        return isinstance(value, Path | str) and bool(str(value)) and "\x00" not in str(value)
    if kind is dict:
        return isinstance(value, dict) and all(
            isinstance(k, str) and isinstance(v, str) and "\x00" not in k + v
            for k, v in value.items()
        )
    return False


def _shown(value: Any) -> str:
    """A short description of a bad value (its type, and a short repr)."""
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{type(value).__name__} {text}"
