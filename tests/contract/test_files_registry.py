"""The YAML files registry: reading, broken files (file, line, key), alias moves."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.errors import NotFound, ReadOnlyError
from connectors.registry.files import FilesRegistry

GOOD = """\
name: greet
kind: prompt
type: text
aliases: {production: "1", canary: "2"}
versions:
  - version: "1"
    created_at: 2026-11-20T10:00:00Z
    author: alice
    description: first
    template: "Hello {{name}}"
    model_config: {model: gpt-4o-mini, temperature: 0.2}
    tags: {eval.pass_ratio: "0.9"}
  - version: 2
    description: louder
    template: "HELLO {{name}}"
"""


@pytest.fixture
def reg_dir(tmp_path: Path) -> Path:
    (tmp_path / "greet.yaml").write_text(GOOD)
    (tmp_path / "chat.yaml").write_text(
        "name: chat\ntype: chat\nversions:\n  - version: '1'\n    messages:\n"
        "      - {role: system, content: Be nice}\n      - {role: user, content: '{{q}}'}\n"
    )
    return tmp_path


def test_reads_versions_aliases_and_chat(reg_dir: Path) -> None:
    reg = FilesRegistry(path=reg_dir)
    assert reg.names() == ["chat", "greet"]
    v1, v2 = reg.versions("greet")
    assert (v1.version, v2.version) == ("1", "2")  # numbers are read as strings
    assert v1.aliases == ("production",) and v2.aliases == ("canary",)
    assert v1.author == "alice" and v1.description == "first"
    assert v1.created_at is not None and v1.created_at.tzinfo is not None
    assert v1.model_config == {"model": "gpt-4o-mini", "temperature": 0.2}
    assert reg.get("greet", "canary").template == "HELLO {{name}}"
    assert [m["role"] for m in reg.get("chat", "1").messages] == ["system", "user"]
    (entry,) = [e for e in reg.entries("prompt") if e.name == "greet"]
    assert entry.latest == "2" and dict(entry.aliases) == {"production": "1", "canary": "2"}
    with pytest.raises(NotFound, match="no such version or alias"):
        reg.get("greet", "staging")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: b\nversions: [\n", "b.yaml:3: invalid YAML"),
        ("name: b\nkind: prompt\nversions:\n  - version: '1'\n    tags: [a, b]\n",
         "b.yaml:5: versions.0.tags: must be a mapping"),
        ("name: b\naliases: {canary: '7'}\nversions:\n  - version: '1'\n",
         "b.yaml:2: aliases.canary: points at version '7', which is not listed"),
        ("name: b\nversions:\n  - version: '1'\n  - version: 1\n",
         "b.yaml:4: versions.1.version: version '1' is listed twice"),
        ("name: b\nkind: dataset\nversions:\n  - version: '1'\n",
         "b.yaml:2: kind: must be prompt or model, not 'dataset'"),
        ("name: b\nversions:\n  - version: '1'\n    messages: [{content: hi}]\n",
         "b.yaml:4: versions.0.messages: must be a list of {role, content}"),
        ("name: b\nversions:\n  - version: '1'\n    created_at: yesterday\n",
         "b.yaml:4: versions.0.created_at: not an ISO 8601 time"),
        ("- just\n- a list\n", "b.yaml:1: expected a mapping"),
    ],
)  # fmt: skip
def test_broken_file_is_named_with_line_and_key(reg_dir: Path, text: str, expected: str) -> None:
    (reg_dir / "b.yaml").write_text(text)
    reg = FilesRegistry(path=reg_dir)
    assert reg.names() == ["chat", "greet"]  # the rest keeps working
    (error,) = reg.errors
    assert error.startswith(str(reg_dir / "b.yaml"))
    assert expected in error


def test_same_name_in_two_files_is_reported(reg_dir: Path) -> None:
    (reg_dir / "zz-copy.yaml").write_text(GOOD)
    reg = FilesRegistry(path=reg_dir)
    assert reg.versions("greet")[0].source == str(reg_dir / "greet.yaml")
    assert reg.errors == [
        f"{reg_dir / 'zz-copy.yaml'}: name 'greet' is already defined in {reg_dir / 'greet.yaml'}"
    ]


def test_set_alias_rewrites_the_file_and_read_only_refuses(reg_dir: Path) -> None:
    reg = FilesRegistry(path=reg_dir)
    reg.set_alias("greet", "production", "2")
    assert reg.get("greet", "production").version == "2"
    assert yaml.safe_load((reg_dir / "greet.yaml").read_text())["aliases"]["production"] == "2"
    with pytest.raises(NotFound):
        reg.set_alias("greet", "production", "9")
    before = (reg_dir / "greet.yaml").read_text()
    with pytest.raises(ReadOnlyError):
        FilesRegistry(path=reg_dir, read_only=True).set_alias("greet", "canary", "1")
    assert (reg_dir / "greet.yaml").read_text() == before


def test_missing_directory_is_unavailable(tmp_path: Path) -> None:
    reg = FilesRegistry(path=tmp_path / "nope")
    status = reg.ping()
    assert not status.ok and "does not exist" in status.detail


names = st.from_regex(r"[a-z][a-z0-9-]{0,12}", fullmatch=True)
texts = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40)


@settings(max_examples=60, deadline=None)
@given(
    name=names,
    templates=st.lists(texts, min_size=1, max_size=5),
    tags=st.dictionaries(names, texts, max_size=3),
)
def test_any_written_registry_reads_back(
    tmp_path_factory: pytest.TempPathFactory, name: str, templates: list[str], tags: dict[str, str]
) -> None:
    folder = tmp_path_factory.mktemp("reg")
    doc = {
        "name": name,
        "aliases": {"production": str(len(templates))},
        "versions": [
            {"version": str(i + 1), "template": t, "tags": tags} for i, t in enumerate(templates)
        ],
    }
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True))
    reg = FilesRegistry(path=folder)
    versions = reg.versions(name)
    assert [v.template for v in versions] == templates
    assert all(dict(v.tags) == tags for v in versions)
    assert reg.get(name, "production").version == str(len(templates))
    assert reg.errors == []
