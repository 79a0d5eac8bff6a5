"""The profile loader under hostile input: only ConfigError escapes, in bounded time.

Issue 14, defect 9: an alias bomb took 4 GB and never ended; a self-reference,
5,000-deep nesting, a NUL, a non-string ``url`` or ``timeout: "abc"`` each
raised a traceback.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.core.config import load_config
from console.core.errors import ConfigError

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}]\n"
    for i in range(8)
)


def load_text(tmp_path: Path, text: str) -> None:
    cfg = tmp_path / "llmdeck.yaml"
    cfg.write_text(text, encoding="utf-8")
    load_config(cfg)


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        (BOMB, r"llmdeck\.yaml:\d+: .*more than 100000 values"),
        ("profiles: &p {x: *p}\n", r"llmdeck\.yaml:1: .*nested deeper than 64"),
        ("profiles:\n  p: &p\n    metrics: *p\n", r"llmdeck\.yaml:\d+: .*nested deeper"),
        ("profiles: " + "[" * 5000 + "]" * 5000 + "\n", r"llmdeck\.yaml:1: nested deeper"),
        ("profiles: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n", r"nested deeper than 64"),
        ("profiles:\n  p:\x00 {}\n", r"llmdeck\.yaml: invalid YAML"),
        ('profiles:\n  p: {workspace: "w\\0s"}\n', r":2: profiles\.p\.workspace: expected a path"),
        ("profiles:\n  p:\n    metrics: {kind: prometheus, url: 12}\n", r":3: .*metrics\.url"),
        (
            "profiles:\n  p:\n    metrics: {kind: prometheus, url: u, timeout: abc}\n",
            r":3: profiles\.p\.metrics\.timeout: expected a number",
        ),
        ("profiles:\n  ? [a, b]\n  : {}\n", r":2: profiles: a key must be a plain value"),
        ("profiles: {p: {}}\n" + "#" * (1 << 20), r"larger than 1048576 bytes"),
        ("profiles: {p: {user: !!timestamp 2024-13-45}}\n", r"invalid"),
    ],
)
def test_hostile_profile_is_a_config_error(tmp_path: Path, text: str, expect: str) -> None:
    started = time.monotonic()
    with pytest.raises(ConfigError, match=expect):
        load_text(tmp_path, text)
    assert time.monotonic() - started < 5


# Values a profile may hold: scalars of every YAML type, nested a little.
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["prometheus", "workspace", "flagd", "openai", "rego", "mlflow", "unleash"]),
)
KEYS = st.one_of(
    st.sampled_from(
        [
            "kind",
            "url",
            "path",
            "timeout",
            "token",
            "retries",
            "environment",
            "read_only",
            "workspace",
            "metrics",
            "flags",
            "registry",
            "policy",
            "replay_targets",
            "panels",
            "refresh_seconds",
            "user",
            "slos",
            "drift",
            "replay",
            "prices",
            "budgets",
        ]
    ),
    st.text(max_size=6),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(KEYS, inner, max_size=5),
        st.fixed_dictionaries({"env": st.text(max_size=5)}),
    ),
    max_leaves=20,
)
PROFILES = st.dictionaries(
    st.text(min_size=1, max_size=5),
    st.dictionaries(KEYS, VALUES, max_size=6),
    min_size=1,
    max_size=2,
)


@settings(
    max_examples=300,
    deadline=2000,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(profiles=PROFILES, default=st.one_of(st.none(), st.text(max_size=4)))
def test_fuzzed_profiles_raise_only_config_error(
    tmp_path: Path, profiles: dict[str, object], default: str | None
) -> None:
    doc: dict[str, object] = {"profiles": profiles}
    if default is not None:
        doc["default_profile"] = default
    text = yaml.safe_dump(doc, allow_unicode=True)
    with contextlib.suppress(ConfigError):  # anything else fails the test
        load_text(tmp_path, text)


@settings(
    max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(alphabet=st.sampled_from(list("ab:&*[]{}-,?! \n\t'\"\\0#|>%@`")), max_size=80))
def test_fuzzed_yaml_text_raises_only_config_error(tmp_path: Path, text: str) -> None:
    with contextlib.suppress(ConfigError):  # anything else fails the test
        load_text(tmp_path, text)
