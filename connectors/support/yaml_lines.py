"""YAML loading that remembers where every key came from.

Config and registry files are edited by hand; an error must name the file,
the line and the key. ``load`` returns plain Python data plus a map from key
paths (``("profiles", "prod", "metrics", "kind")``) to 1-based line numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

KeyPath = tuple[str | int, ...]


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


def _build(node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int], loader: Any) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int):
                key = str(key)
            lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _build(value_node, (*path, key), lines, loader)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(n, (*path, i), lines, loader) for i, n in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def loads(text: str, file: Path | str = "<string>") -> Located:
    """Parse YAML text. Raises YamlFileError naming the line of a syntax error."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[KeyPath, int] = {}
        data = None if node is None else _build(node, (), lines, loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise YamlFileError(file, line, "", f"invalid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise YamlFileError(file, None, "", f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    return Located(Path(file), data, lines)


def load(path: Path) -> Located:
    """Read and parse a YAML file. Raises YamlFileError (unreadable or invalid)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlFileError(path, None, "", f"cannot read: {exc}") from None
    return loads(text, path)
