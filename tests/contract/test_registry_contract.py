# ruff: noqa: F811  (pytest fixtures imported from tests.backends)
"""The Registry contract (connectors/base.py), one suite every registry passes.

Each implementation is opened by a harness in ``HARNESSES``: YAML files in a
temporary directory, MLflow on the real server seeded with the official client
(tests/mlflow_seed.py), Langfuse on its recorded shapes
(tests/contract/test_langfuse.py). A new registry joins the suite with one
harness function and one line in ``HARNESSES``.

Every harness holds one broken entry, so ``problems()`` has something to
report, and at least one alias to resolve and move. Expected values are read
from the registry itself (listing against single reads, alias against
version), so the suite holds on a shared server whose state other tests move.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from connectors.base import Registry
from connectors.errors import NotFound, ReadOnlyError
from connectors.records import PromptVersion
from connectors.registry.files import FilesRegistry
from connectors.registry.langfuse import LangfusePrompts
from connectors.registry.mlflow import MlflowRegistry
from tests.backends import mlflow_python, mlflow_url  # noqa: F401  (fixture, resolved lazily)
from tests.contract.test_files_registry import GOOD as FILES_GREET
from tests.contract.test_langfuse import FakeLangfuse, recorded

KINDS = ("prompt", "model")


@dataclass
class RegistryHarness:
    """One registry under test and what its fixture data holds."""

    open: Callable[..., Registry]  # open(read_only=...) -> a fresh registry
    known: dict[str, set[str]]  # kind -> names the harness made (readable ones)
    exact: bool  # names(kind) holds exactly ``known`` (False on a shared server)
    broken: str  # the name of the one broken entry: every problem line names it
    movable: tuple[str, str]  # (name, alias) that the write cases move


# -- files ------------------------------------------------------------------------

FILES_MODEL = """\
name: ranker
kind: model
aliases: {champion: "2"}
versions:
  - version: "1"
    description: build 1
  - version: "2"
    description: build 2
"""
FILES_CHAT = """\
name: chat
type: chat
versions:
  - version: "1"
    messages:
      - {role: system, content: Be nice}
      - {role: user, content: "{{q}}"}
"""


def files_harness(request: pytest.FixtureRequest) -> RegistryHarness:
    folder: Path = request.getfixturevalue("tmp_path") / "registry"
    folder.mkdir()
    (folder / "greet.yaml").write_text(FILES_GREET)
    (folder / "chat.yaml").write_text(FILES_CHAT)
    (folder / "ranker.yaml").write_text(FILES_MODEL)
    (folder / "broken.yaml").write_text("name: broken\nversions: [\n")  # invalid YAML
    return RegistryHarness(
        open=lambda read_only=False: FilesRegistry(path=folder, read_only=read_only),
        known={"prompt": {"greet", "chat"}, "model": {"ranker"}},
        exact=True,
        broken="broken.yaml",
        movable=("greet", "canary"),
    )


# -- MLflow (real server) ------------------------------------------------------------


@pytest.fixture(scope="module")
def mlflow_prefix(mlflow_url: str) -> Iterator[str]:
    """Seed once per module with the official client; delete it all afterwards
    (the server is shared with other tests and engineers)."""
    prefix = f"c{uuid.uuid4().hex[:8]}"
    seed = Path(__file__).parent.parent / "mlflow_seed.py"
    proc = subprocess.run(
        [mlflow_python(), str(seed), mlflow_url, prefix, "seed"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    yield prefix
    with httpx.Client(base_url=mlflow_url + "/api/2.0/mlflow", timeout=30) as http:
        for name in ("support", "summarize", "broken", "ranker"):
            http.request("DELETE", "/registered-models/delete", json={"name": f"{prefix}-{name}"})


def mlflow_harness(request: pytest.FixtureRequest) -> RegistryHarness:
    url = request.getfixturevalue("mlflow_url")
    p = request.getfixturevalue("mlflow_prefix")
    return RegistryHarness(
        open=lambda read_only=False: MlflowRegistry(url=url, read_only=read_only),
        known={"prompt": {f"{p}-support", f"{p}-summarize"}, "model": {f"{p}-ranker"}},
        exact=False,
        broken=f"{p}-broken",  # its model config tag is not JSON (see the seed)
        movable=(f"{p}-support", "canary"),
    )


# -- Langfuse (recorded shapes) --------------------------------------------------------


class BrokenLangfuse(FakeLangfuse):
    """The recorded Langfuse with one malformed version and Langfuse's 404 for a
    label move to a version that does not exist (the plain fake has no such case)."""

    def __init__(self) -> None:
        super().__init__()
        # A config that is not an object: the version must still be listed.
        self.versions[("ticket-triage", 1)]["config"] = "temperature=0"

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            parts = request.url.path.rsplit("/", 3)  # .../{name}/versions/{n}
            if (parts[1], int(parts[3])) not in self.versions:
                return httpx.Response(404, json=recorded("error_404.json"))
        return super().__call__(request)


def langfuse_harness(request: pytest.FixtureRequest) -> RegistryHarness:
    fake = BrokenLangfuse()
    return RegistryHarness(
        open=lambda read_only=False: LangfusePrompts(
            url="https://lf.example",
            public_key="pk-lf-1",
            secret_key="sk-lf-2",
            read_only=read_only,
            transport=httpx.MockTransport(fake),
        ),
        known={"prompt": {"support-answer", "ticket-triage"}, "model": set()},
        exact=True,
        broken="ticket-triage",
        movable=("support-answer", "production"),
    )


# One line per registry: the id names the implementation in every case.
HARNESSES: dict[str, Callable[[pytest.FixtureRequest], RegistryHarness]] = {
    "files": files_harness,
    "mlflow": mlflow_harness,
    "langfuse": langfuse_harness,
}


@pytest.fixture(params=list(HARNESSES))
def h(request: pytest.FixtureRequest) -> RegistryHarness:
    return HARNESSES[request.param](request)


@pytest.fixture
def reg(h: RegistryHarness) -> Iterator[Registry]:
    r = h.open()
    yield r
    r.close()


def _unknown(what: str) -> str:
    return f"no-such-{what}-{uuid.uuid4().hex[:8]}"


def _other_version(versions: list[PromptVersion], current: str) -> str:
    return next(v.version for v in versions if v.version != current)


def test_names_entries_versions_and_get_agree(h: RegistryHarness, reg: Registry) -> None:
    for kind in KINDS:
        names = reg.names(kind)
        entries = reg.entries(kind)
        assert sorted(names) == sorted(e.name for e in entries)
        assert [e.name for e in entries] == sorted(e.name for e in entries), "entries by name"
        if h.exact:
            assert set(names) == h.known[kind]
        else:
            assert h.known[kind] <= set(names)
        by_name = {e.name: e for e in entries}
        for name in sorted(h.known[kind]):
            versions = reg.versions(name)
            assert versions and all(v.name == name and v.kind == kind for v in versions)
            numbers = [v.version for v in versions]
            assert len(numbers) == len(set(numbers)), "a version is listed twice"
            stamps = [v.created_at for v in versions if v.created_at is not None]
            assert stamps == sorted(stamps), "versions must be oldest first"
            entry = by_name[name]
            # The listing is a summary of the versions: newest one and the alias map.
            assert entry.kind == kind and entry.latest == versions[-1].version
            assert dict(entry.aliases) == {a: v.version for v in versions for a in v.aliases}
            assert {a.alias: a.version for a in reg.aliases(name)} == dict(entry.aliases)
            for v in versions:
                assert reg.get(name, v.version) == v


def test_unknown_name_version_or_alias_is_not_found(h: RegistryHarness, reg: Registry) -> None:
    missing = _unknown("prompt")
    for read in (
        lambda: reg.versions(missing),
        lambda: reg.get(missing, "1"),
        lambda: reg.aliases(missing),
    ):
        with pytest.raises(NotFound):
            read()
    name = sorted(h.known["prompt"])[0]
    with pytest.raises(NotFound):
        reg.get(name, "987654")
    with pytest.raises(NotFound):
        reg.get(name, _unknown("alias"))


def test_aliases_resolve_to_their_version(h: RegistryHarness, reg: Registry) -> None:
    resolved = 0
    for kind in KINDS:
        for name in sorted(h.known[kind]):
            for alias in reg.aliases(name):
                assert alias.name == name
                version = reg.get(name, alias.alias)
                assert version.version == alias.version
                assert alias.alias in version.aliases
                resolved += 1
    assert resolved, "the harness holds aliases: none resolved"


def test_problems_name_broken_entries_and_the_rest_still_works(
    h: RegistryHarness, reg: Registry
) -> None:
    for kind in KINDS:
        reg.entries(kind)
    listed = set(reg.names("prompt")) | set(reg.names("model"))
    for kind in KINDS:
        for name in sorted(h.known[kind]):
            assert reg.versions(name)  # the broken entry does not take the others down
    if h.broken in listed:
        # A broken version is still listed with what could be read.
        assert reg.versions(h.broken)
    problems = reg.problems()
    assert problems, "the broken entry is not reported"
    assert all(isinstance(p, str) and "\n" not in p for p in problems)
    assert all(h.broken in p for p in problems), problems
    assert reg.problems() == problems  # asking again changes nothing


def test_read_only_refuses_set_alias_and_nothing_moves(h: RegistryHarness) -> None:
    name, alias = h.movable
    ro = h.open(read_only=True)
    current = ro.get(name, alias).version
    target = _other_version(ro.versions(name), current)
    with pytest.raises(ReadOnlyError):
        ro.set_alias(name, alias, target)
    ro.close()
    fresh = h.open()
    assert fresh.get(name, alias).version == current
    fresh.close()


def test_set_alias_moves_and_the_move_is_seen_on_re_read(h: RegistryHarness, reg: Registry) -> None:
    name, alias = h.movable
    current = reg.get(name, alias).version
    target = _other_version(reg.versions(name), current)
    if "write" not in reg.capabilities:
        with pytest.raises(ReadOnlyError):
            reg.set_alias(name, alias, target)
        pytest.skip(f"{reg.kind} declares no 'write' capability (refusal checked)")
    reg.set_alias(name, alias, target)
    for view in (reg, h.open()):  # the same instance and a fresh one: no stale cache
        assert view.get(name, alias).version == target
        assert {a.alias: a.version for a in view.aliases(name)}[alias] == target
        holders = [v.version for v in view.versions(name) if alias in v.aliases]
        assert holders == [target], "an alias points at exactly one version"
    with pytest.raises(NotFound):
        reg.set_alias(name, alias, "987654")
    assert reg.get(name, alias).version == target


def test_registry_answers_are_the_canonical_records(h: RegistryHarness, reg: Registry) -> None:
    # The console renders these fields as they are: JSON-ready mappings, not backend objects.
    for kind in KINDS:
        for name in sorted(h.known[kind]):
            for v in reg.versions(name):
                json.dumps(dict(v.model_config))
                assert all(isinstance(k, str) and isinstance(x, str) for k, x in v.tags.items())
                assert v.created_at is None or v.created_at.tzinfo is not None
