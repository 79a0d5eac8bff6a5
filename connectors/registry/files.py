"""Prompts and models as YAML files in a directory (a git repository in practice).

One file per prompt or model, ``<name>.yaml``::

    name: support-answer
    kind: prompt            # or model
    type: text              # or chat (versions then carry ``messages``)
    aliases: {production: "13", canary: "14"}
    versions:
      - version: "13"
        created_at: 2026-11-20T10:00:00Z
        author: alice
        description: tighten tone        # the commit message
        template: "Answer {{question}} using {{context}}"
        model_config: {model: gpt-4o-mini, temperature: 0.2, max_tokens: 400}
        tags: {eval.pass_ratio: "0.93"}

A broken file is reported with its file, line and key and skipped: the other
files keep working. Alias moves rewrite the file atomically.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import yaml

from connectors.base import Registry, RegistryEntry
from connectors.errors import BackendUnavailable, NotFound, ReadOnlyError
from connectors.options import Option
from connectors.records import BackendStatus, PromptVersion
from connectors.support.atomic import locked, write_atomic
from connectors.support.yaml_lines import Located, YamlFileError, load


def _parse(doc: Located) -> list[PromptVersion]:
    data = doc.data
    if not isinstance(data, dict):
        raise doc.error((), "expected a mapping with name, kind and versions")
    name = data.get("name") or doc.file.stem
    kind = data.get("kind", "prompt")
    if kind not in ("prompt", "model"):
        raise doc.error(("kind",), f"must be prompt or model, not {kind!r}")
    aliases = data.get("aliases") or {}
    if not isinstance(aliases, dict):
        raise doc.error(("aliases",), "must map alias names to versions")
    versions = data.get("versions")
    if not isinstance(versions, list) or not versions:
        raise doc.error(("versions",), "must be a non-empty list")
    out = []
    seen: set[str] = set()
    for i, v in enumerate(versions):
        if not isinstance(v, dict) or "version" not in v:
            raise doc.error(("versions", i), "each version needs a 'version' key")
        version = str(v["version"])
        if version in seen:
            raise doc.error(("versions", i, "version"), f"version {version!r} is listed twice")
        seen.add(version)
        messages = v.get("messages") or ()
        if not isinstance(messages, list | tuple) or not all(
            isinstance(m, dict) and "role" in m for m in messages
        ):
            raise doc.error(("versions", i, "messages"), "must be a list of {role, content}")
        for key in ("model_config", "tags"):
            if not isinstance(v.get(key) or {}, dict):
                raise doc.error(("versions", i, key), "must be a mapping")
        created = v.get("created_at")
        if isinstance(created, str):
            try:
                created = datetime.fromisoformat(created.replace("Z", "+00:00"))
            except ValueError:
                raise doc.error(("versions", i, "created_at"), "not an ISO 8601 time") from None
        if isinstance(created, datetime) and created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        out.append(
            PromptVersion(
                name=str(name),
                version=version,
                kind=kind,
                template=v.get("template"),
                messages=tuple({str(k): str(x) for k, x in m.items()} for m in messages),
                model_config=v.get("model_config") or {},
                tags={str(k): str(x) for k, x in (v.get("tags") or {}).items()},
                aliases=tuple(sorted(a for a, target in aliases.items() if str(target) == version)),
                description=str(v.get("description", "")),
                author=str(v.get("author", "")),
                created_at=created if isinstance(created, datetime) else None,
                source=str(doc.file),
            )
        )
    for alias, target in aliases.items():
        if str(target) not in seen:
            raise doc.error(
                ("aliases", alias), f"points at version {target!r}, which is not listed"
            )
    return out


class FilesRegistry(Registry):
    """A directory of prompt and model YAML files."""

    kind = "files"
    capabilities: ClassVar[frozenset[str]] = frozenset({"read", "write", "aliases"})
    OPTIONS: ClassVar[tuple[Option, ...]] = (
        Option("path", Path, doc="directory of prompt and model YAML files"),
    )

    def __init__(self, *, path: str | Path, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self.errors: list[str] = []

    def _load_all(self) -> dict[str, list[PromptVersion]]:
        if not self.path.is_dir():
            raise BackendUnavailable(f"{self.path}: registry directory does not exist")
        out: dict[str, list[PromptVersion]] = {}
        errors = []
        for file in sorted(self.path.glob("*.yaml")):
            try:
                versions = _parse(load(file))
            except YamlFileError as exc:
                errors.append(str(exc))
                continue
            name = versions[0].name
            if name in out:
                errors.append(f"{file}: name {name!r} is already defined in {out[name][0].source}")
                continue
            out[name] = versions
        self.errors = errors
        return out

    def ping(self) -> BackendStatus:
        try:
            n = len(self._load_all())
        except BackendUnavailable as exc:
            return BackendStatus(ok=False, detail=str(exc))
        bad = f", {len(self.errors)} broken files" if self.errors else ""
        return BackendStatus(ok=True, version="yaml files", detail=f"{n} entries{bad}")

    def entries(self, kind: str = "prompt") -> list[RegistryEntry]:
        """Every prompt or model, reading the directory once."""
        out = []
        for name, versions in sorted(self._load_all().items()):
            if versions[0].kind != kind:
                continue
            newest = versions[-1]
            aliases = {a: v.version for v in versions for a in v.aliases}
            out.append(
                RegistryEntry(
                    name, kind, newest.version, aliases, newest.created_at, newest.description
                )
            )
        return out

    def names(self, kind: str = "prompt") -> list[str]:
        return sorted(n for n, vs in self._load_all().items() if vs[0].kind == kind)

    def versions(self, name: str) -> list[PromptVersion]:
        found = self._load_all().get(name)
        if found is None:
            raise NotFound(f"{name!r} is not in the registry at {self.path}")
        return found

    def set_alias(self, name: str, alias: str, version: str) -> None:
        if self.read_only:
            raise ReadOnlyError("files registry opened read-only")
        file = self._file_of(name)
        with locked(file):
            doc = load(file)
            if not any(str(v.get("version")) == version for v in doc.data.get("versions", [])):
                raise NotFound(f"{name}@{version}: no such version")
            aliases = doc.data.setdefault("aliases", {})
            aliases[alias] = version
            write_atomic(file, yaml.safe_dump(doc.data, sort_keys=False, allow_unicode=True))

    def _file_of(self, name: str) -> Path:
        return Path(self.versions(name)[0].source)
