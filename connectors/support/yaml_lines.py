"""YAML loading that remembers where every key came from.

Config and registry files are edited by hand; an error must name the file,
the line and the key. ``load`` returns plain Python data plus a map from key
paths (``("profiles", "prod", "metrics", "kind")``) to 1-based line numbers.

Loading is bounded (``Limits``): these files are small by nature, and an
unbounded YAML loader can be made to take gigabytes and never end by a few
lines ("billion laughs" aliases), or to overflow the stack by deep nesting.
Past a bound the file is refused with a YamlFileError, never a MemoryError or
RecursionError.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Limits:
    """Bounds on one file. ``max_nodes`` counts nodes after alias expansion,
    so it is what stops an alias bomb; ``max_depth`` stops deep nesting
    before PyYAML's recursive composer would overflow the stack."""

    max_bytes: int = 1 << 20  # 1 MiB: a hand-edited profile is a few KiB
    max_depth: int = 64
    max_nodes: int = 100_000


DEFAULT_LIMITS = Limits()


class YamlFileError(Exception):
    """A YAML file is broken or holds a bad value: ``file:line: key: message``."""

    def __init__(self, file: Path | str, line: int | None, key: str, message: str) -> None:
        self.file, self.line, self.key, self.message = str(file), line, key, message
        where = f"{self.file}:{line}" if line else self.file
        super().__init__(f"{where}: {key + ': ' if key else ''}{message}")


@dataclass(frozen=True)
class Located:
    """Data loaded from a file, and where each key path stands in it."""

    file: Path
    data: Any
    lines: dict[KeyPath, int]

    def line(self, path: KeyPath) -> int | None:
        """The line of ``path``, or of its nearest parent that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())  # the document itself

    def error(self, path: KeyPath, message: str) -> YamlFileError:
        return YamlFileError(self.file, self.line(path), dotted(path), message)


def dotted(path: KeyPath) -> str:
    return ".".join(str(p) for p in path)


class _Budget:
    """Nodes left to build: every alias use counts again, so expansion is bounded."""

    def __init__(self, limits: Limits, file: Path | str) -> None:
        self.limits, self.file, self.left = limits, file, limits.max_nodes

    def spend(self, node: yaml.Node, path: KeyPath) -> None:
        self.left -= 1
        line = node.start_mark.line + 1
        if self.left < 0:
            raise YamlFileError(
                self.file,
                line,
                dotted(path),
                f"more than {self.limits.max_nodes} values (after alias expansion); "
                "refusing the file",
            )
        if len(path) > self.limits.max_depth:
            raise YamlFileError(
                self.file,
                line,
                dotted(path[:8]) + "...",
                f"nested deeper than {self.limits.max_depth}",
            )


def _build(
    node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int], loader: Any, budget: _Budget
) -> Any:
    budget.spend(node, path)
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                # A list or mapping as a key is never meant, and turning an
                # aliased one into a string could be unbounded.
                raise YamlFileError(
                    budget.file,
                    key_node.start_mark.line + 1,
                    dotted(path),
                    "a key must be a plain value, not a list or mapping",
                )
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int):
                key = str(key)
            lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _build(value_node, (*path, key), lines, loader, budget)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(n, (*path, i), lines, loader, budget) for i, n in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def _check_depth(text: str, file: Path | str, limits: Limits) -> None:
    """Refuse deep nesting from the event stream (the parser is iterative; the
    composer that builds nodes is recursive and would overflow first)."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > limits.max_depth:
                line = event.start_mark.line + 1 if event.start_mark else None
                raise YamlFileError(file, line, "", f"nested deeper than {limits.max_depth}")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def loads(text: str, file: Path | str = "<string>", limits: Limits = DEFAULT_LIMITS) -> Located:
    """Parse YAML text within ``limits``.

    Raises YamlFileError naming the line of a syntax error, or the bound that
    the text exceeds.
    """
    if len(text) > limits.max_bytes:
        raise YamlFileError(file, None, "", f"larger than {limits.max_bytes} bytes")
    loader: yaml.SafeLoader | None = None
    try:
        _check_depth(text, file, limits)
        loader = yaml.SafeLoader(text)  # its reader refuses a NUL: inside the try
        node = loader.get_single_node()
        lines: dict[KeyPath, int] = {}
        budget = _Budget(limits, file)
        data = None if node is None else _build(node, (), lines, loader, budget)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise YamlFileError(file, line, "", f"invalid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise YamlFileError(file, None, "", f"invalid YAML: {exc}") from None
    except (ValueError, TypeError, OverflowError) as exc:
        # Constructors of tagged scalars (!!timestamp, !!int) can raise these.
        raise YamlFileError(file, None, "", f"invalid value: {exc}") from None
    finally:
        if loader is not None:
            loader.dispose()
    return Located(Path(file), data, lines)


def load(path: Path, limits: Limits = DEFAULT_LIMITS) -> Located:
    """Read and parse a YAML file within ``limits``. Raises YamlFileError
    (unreadable, too large or invalid)."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(limits.max_bytes + 1)  # never read a huge file whole
        if len(raw) > limits.max_bytes:
            raise YamlFileError(path, None, "", f"larger than {limits.max_bytes} bytes")
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlFileError(path, None, "", f"cannot read: {exc}") from None
    return loads(text, path, limits)
