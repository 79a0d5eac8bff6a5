"""The FlagStore contract (connectors/base.py), one suite every flag store passes.

Each implementation is opened by a harness in ``HARNESSES``: flagd on a real
temporary file, Unleash on the real server (tests.backends ``unleash``),
LiteLLM on its recorded-shape proxy (tests/contract/test_litellm_flags.py).
A new flag store joins the suite with one harness function and one line in
``HARNESSES``; the connector-specific behaviour stays in its own test file.

Every assertion is derived from what the store or the backend itself says, so
a store that forgets a check (a write that skips compare-and-swap, a read-only
flag that is ignored, a listing that disagrees with the single read) fails here.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.base import FlagStore
from connectors.errors import (
    AuthError,
    Conflict,
    ConnectorError,
    InvalidChange,
    NotFound,
    ReadOnlyError,
)
from connectors.flags.flagd import FlagdFile
from connectors.flags.litellm import LiteLLMModels
from connectors.flags.unleash import UnleashFlags
from connectors.records import ChangeEvent, Flag
from tests.backends import unleash  # noqa: F401  (pytest fixture, resolved lazily)
from tests.contract.test_flagd import DOC as FLAGD_DOC
from tests.contract.test_litellm_flags import Proxy
from tests.contract.test_unleash import Admin


@dataclass
class FlagHarness:
    """One flag store under test and a side door into its backend."""

    # open(read_only=..., secret=...) -> a fresh store; ``secret`` replaces the
    # credential (to provoke an AuthError), None keeps the good one.
    open: Callable[..., FlagStore]
    environment: str  # the environment writes go to
    keys: tuple[str, ...]  # flags this harness made
    exact: bool  # flags() holds exactly ``keys`` (False on a shared server)
    weighted: str | None  # a flag with variants, for set_weights
    raw: Callable[[], Any]  # the backend's own state of ``keys``: "nothing written" proofs
    bump: Callable[[str], None]  # another operator flips ``key`` behind the store's back
    secret: str = ""  # the credential the store is opened with ("" when it needs none)


def flagd_harness(request: pytest.FixtureRequest) -> FlagHarness:
    path: Path = request.getfixturevalue("tmp_path") / "flags.json"
    path.write_text(json.dumps(FLAGD_DOC, indent=2) + "\n")

    def bump(key: str) -> None:
        # Edit the file directly, as a person with an editor would.
        doc = json.loads(path.read_text())
        flag = doc["flags"][key]
        flag["state"] = "DISABLED" if flag["state"] == "ENABLED" else "ENABLED"
        path.write_text(json.dumps(doc, indent=2) + "\n")

    return FlagHarness(
        open=lambda read_only=False, secret=None: FlagdFile(
            path=path, environment="default", read_only=read_only
        ),
        environment="default",
        keys=tuple(FLAGD_DOC["flags"]),
        exact=True,
        weighted="answer-rollout",
        raw=path.read_bytes,
        bump=bump,
    )


def unleash_harness(request: pytest.FixtureRequest) -> FlagHarness:
    url, token = request.getfixturevalue("unleash")
    admin = Admin(url, token)
    suffix = uuid.uuid4().hex[:8]
    ks, rel = f"contract-kill-{suffix}", f"contract-rollout-{suffix}"
    admin.create(rel, "release", {"v13": 500, "v14": 500})
    admin.create(ks, "kill-switch")

    def cleanup() -> None:
        # The server is shared: archive what this case made so listings stay small.
        for key in (ks, rel):
            admin.http.delete(f"/api/admin/projects/default/features/{key}")
        admin.http.close()

    request.addfinalizer(cleanup)

    def raw() -> Any:
        return [
            (
                e["name"],
                e["enabled"],
                [(s["id"], [(v["name"], v["weight"]) for v in s.get("variants") or []])
                 for s in e.get("strategies") or []],
            )
            for key in (ks, rel)
            for e in admin.feature(key)["environments"]
        ]  # fmt: skip

    def bump(key: str) -> None:
        on = admin.env(key, "production")["enabled"]
        path = f"/api/admin/projects/default/features/{key}/environments/production/"
        admin.call("POST", path + ("off" if on else "on"))

    return FlagHarness(
        open=lambda read_only=False, secret=None: UnleashFlags(
            url=url, token=secret or token, environment="production", read_only=read_only
        ),
        environment="production",
        keys=(ks, rel),
        exact=False,
        weighted=rel,
        raw=raw,
        bump=bump,
        secret=token,
    )


def litellm_harness(request: pytest.FixtureRequest) -> FlagHarness:
    proxy = Proxy(["gpt-4o-mini", "claude-3-5-haiku"])  # both allowed: no switch tripped

    def bump(key: str) -> None:
        allowed = proxy.models or ["gpt-4o-mini", "claude-3-5-haiku"]
        proxy.models = [m for m in allowed if m != key] if key in allowed else [*allowed, key]

    return FlagHarness(
        open=lambda read_only=False, secret=None: LiteLLMModels(
            url="http://litellm",
            api_key=secret or "sk-admin",
            team_id="t-gw",
            read_only=read_only,
            transport=httpx.MockTransport(proxy),
        ),
        environment="production",
        keys=("claude-3-5-haiku", "gpt-4o-mini"),
        exact=True,
        weighted=None,
        raw=lambda: (list(proxy.models), len(proxy.updates)),
        bump=bump,
        secret="sk-admin",
    )


# One line per flag store: the id names the implementation in every case.
HARNESSES: dict[str, Callable[[pytest.FixtureRequest], FlagHarness]] = {
    "flagd": flagd_harness,
    "unleash": unleash_harness,
    "litellm": litellm_harness,
}


@pytest.fixture(params=list(HARNESSES))
def h(request: pytest.FixtureRequest) -> FlagHarness:
    return HARNESSES[request.param](request)


@pytest.fixture
def store(h: FlagHarness) -> Iterator[FlagStore]:
    s = h.open()
    yield s
    s.close()


def _enabled(flag: Flag, environment: str) -> bool:
    env = flag.env(environment)
    assert env is not None, f"{flag.key} has no environment {environment!r}"
    return env.enabled


def _weights(flag: Flag, environment: str) -> dict[str, float]:
    env = flag.env(environment)
    assert env is not None
    return {v.name: v.weight for v in env.variants}


def _unknown_key() -> str:
    return f"no-such-flag-{uuid.uuid4().hex[:8]}"


def test_flags_lists_every_flag_and_flag_agrees(h: FlagHarness, store: FlagStore) -> None:
    listed = store.flags()
    keys = [f.key for f in listed]
    assert len(keys) == len(set(keys)), "a flag is listed twice"
    if h.exact:
        assert sorted(keys) == sorted(h.keys)
    else:
        assert set(h.keys) <= set(keys)
    by_key = {f.key: f for f in listed}
    for key in h.keys:
        # The single read is what writes are planned from: it must equal the listing.
        assert store.flag(key) == by_key[key]
        assert by_key[key].env(h.environment) is not None
        assert by_key[key].revision, "no revision: compare-and-swap is impossible"


def test_unknown_key_is_not_found(h: FlagHarness, store: FlagStore) -> None:
    with pytest.raises(NotFound):
        store.flag(_unknown_key())
    # A write to an unknown flag, planned from a current state, is NotFound too.
    before = h.raw()
    current = store.flag(h.keys[0])
    with pytest.raises(NotFound):
        store.set_enabled(_unknown_key(), h.environment, True, expected=current)
    assert h.raw() == before


def test_set_enabled_with_current_expected_takes_effect(h: FlagHarness, store: FlagStore) -> None:
    for key in h.keys:
        flag = store.flag(key)
        was = _enabled(flag, h.environment)
        store.set_enabled(key, h.environment, not was, expected=flag)
        again = store.flag(key)
        assert _enabled(again, h.environment) is (not was)
        assert again.revision != flag.revision, "the revision must move with the state"
        # A second store sees it too: the change is in the backend, not a cache.
        other = h.open()
        assert _enabled(other.flag(key), h.environment) is (not was)
        other.close()
        # And back, planned from the re-read state.
        store.set_enabled(key, h.environment, was, expected=again)
        assert _enabled(store.flag(key), h.environment) is was


def test_stale_expected_is_a_conflict_and_nothing_is_written(
    h: FlagHarness, store: FlagStore
) -> None:
    key = h.keys[0]
    stale = store.flag(key)
    before_bump = h.raw()
    h.bump(key)  # another operator, between plan and write
    after_bump = h.raw()
    assert after_bump != before_bump  # the harness really changed the backend
    # Writing the planned state would undo the other operator's change: refused.
    with pytest.raises(Conflict):
        store.set_enabled(key, h.environment, _enabled(stale, h.environment), expected=stale)
    assert h.raw() == after_bump
    assert _enabled(store.flag(key), h.environment) is not _enabled(stale, h.environment)


def test_set_weights_where_the_store_has_variants(h: FlagHarness, store: FlagStore) -> None:
    if "variants" not in store.capabilities:
        # Without the capability the console offers no weights; the store must
        # still refuse rather than pretend.
        before = h.raw()
        flag = store.flag(h.keys[0])
        with pytest.raises(ConnectorError):
            store.set_weights(h.keys[0], h.environment, {"a": 100.0}, expected=flag)
        assert h.raw() == before
        pytest.skip(f"{store.kind} declares no 'variants' capability (refusal checked)")
    assert h.weighted is not None, "a store with variants needs a weighted flag in its harness"
    key = h.weighted
    flag = store.flag(key)
    names = sorted(_weights(flag, h.environment))
    assert len(names) >= 2
    wanted = {names[0]: 70.0, names[1]: 30.0, **{n: 0.0 for n in names[2:]}}
    store.set_weights(key, h.environment, wanted, expected=flag)
    fresh = store.flag(key)
    assert _weights(fresh, h.environment) == pytest.approx(wanted)
    # Weights that do not add up to 100 are refused before anything is written.
    before = h.raw()
    with pytest.raises(InvalidChange):
        store.set_weights(key, h.environment, {names[0]: 60.0, names[1]: 50.0}, expected=fresh)
    assert h.raw() == before
    # A plan made before the change above is stale now.
    with pytest.raises(Conflict):
        store.set_weights(key, h.environment, {names[0]: 50.0, names[1]: 50.0}, expected=flag)
    assert h.raw() == before


def test_read_only_refuses_every_write_and_nothing_changes(h: FlagHarness) -> None:
    writable = h.open()
    writable.check_writable()  # a writable store with the capability does not refuse
    writable.close()
    ro = h.open(read_only=True)
    before = h.raw()
    with pytest.raises(ReadOnlyError):
        ro.check_writable()
    flags = {f.key: f for f in ro.flags()}  # reading stays allowed
    for key in h.keys:
        flag = flags[key]
        with pytest.raises(ReadOnlyError):
            ro.set_enabled(key, h.environment, not _enabled(flag, h.environment), expected=flag)
        with pytest.raises(ReadOnlyError):
            ro.set_weights(key, h.environment, {"a": 50.0, "b": 50.0}, expected=flag)
    assert h.raw() == before
    ro.close()


def test_events_are_a_list_oldest_first(h: FlagHarness, store: FlagStore) -> None:
    key = h.keys[0]
    flag = store.flag(key)
    store.set_enabled(key, h.environment, not _enabled(flag, h.environment), expected=flag)
    events = store.events()
    assert isinstance(events, list)
    assert all(isinstance(e, ChangeEvent) for e in events)
    assert [e.ts for e in events] == sorted(e.ts for e in events)
    if "events" not in store.capabilities:
        assert events == [], f"{store.kind} keeps events but does not declare 'events'"
        return
    mine = [e for e in events if e.target == key]
    assert mine, "the write just made is not in the backend's change log"
    since = mine[-1].ts
    later = store.events(since=since)
    assert all(e.ts >= since for e in later)
    assert mine[-1] in later


def test_messages_never_contain_the_token(h: FlagHarness, store: FlagStore) -> None:
    if not h.secret:
        pytest.skip(f"{store.kind} is opened without a credential: no token to leak")
    wrong = f"wrong-token-{uuid.uuid4().hex}"
    messages: list[str] = []
    key = h.keys[0]
    stale = store.flag(key)
    h.bump(key)
    failures: list[Callable[[], object]] = [
        lambda: store.flag(_unknown_key()),
        lambda: store.set_enabled(key, h.environment, True, expected=stale),
        lambda: h.open(read_only=True).set_enabled(key, h.environment, True, expected=stale),
        lambda: h.open(secret=wrong).flags(),
    ]
    for fail in failures:
        with pytest.raises(ConnectorError) as info:
            fail()
        messages.append(str(info.value))
    with pytest.raises(AuthError):
        h.open(secret=wrong).flags()
    for message in messages:
        assert h.secret not in message and wrong not in message, message
        assert "\n" not in message  # one line, as connectors/errors.py asks
    assert h.secret not in str(store.ping())
