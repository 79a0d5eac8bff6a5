"""Issue 14, defect 5: malformed flagd files are refused with the file and the
flag key in ``flags list`` and ``doctor``, never a traceback; NaN and
infinite weights are neither accepted nor written (Python's json would write
a ``NaN`` literal, which is not JSON). Plus a bounded fuzz of the parser."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.errors import ConnectorError, InvalidChange
from connectors.flags.flagd import FlagdFile, validate

CLI = [sys.executable, "-m", "console", "--config"]
CONFIG = """default_profile: t
profiles:
  t:
    environment: development
    flags: {kind: flagd, path: ./flags.json}
"""


def flag(**extra: Any) -> dict[str, Any]:
    spec = {"state": "ENABLED", "variants": {"v13": "13", "v14": "14"}, "defaultVariant": "v13"}
    return {"flags": {"answer-rollout": {**spec, **extra}}}


NAN_WEIGHTS = json.dumps(flag(targeting={"fractional": [["v13", float("nan")], ["v14", 50]]}))
CASES = {
    "deep": ('{"flags": ' + "[" * 50_000 + "]" * 50_000 + "}", "nested too deep"),
    "metadata": (json.dumps(flag(metadata=["kill-switch"])), "answer-rollout: metadata"),
    "default": (json.dumps(flag(defaultVariant=["v13"])), "answer-rollout: defaultVariant"),
    "variant": (
        json.dumps(flag(targeting={"fractional": [[["v13"], 50], ["v14", 50]]})),
        "answer-rollout: fractional variant must be a string",
    ),
    "nan": (NAN_WEIGHTS, "answer-rollout: weight of 'v13' must be a finite number"),
    "inf": (NAN_WEIGHTS.replace("NaN", "Infinity"), "answer-rollout: weight of 'v13'"),
}


def llmdeck(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, str(root / "llmdeck.yaml"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={"PATH": "/usr/bin:/bin", "HOME": str(root)},
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_file_refused_in_flags_list_and_doctor(tmp_path: Path, case: str) -> None:
    text, expected = CASES[case]
    (tmp_path / "llmdeck.yaml").write_text(CONFIG)
    path = tmp_path / "flags.json"
    path.write_text(text)
    listed = llmdeck(tmp_path, "flags", "list")
    assert listed.returncode == 2, listed.stdout + listed.stderr
    assert "Traceback" not in listed.stderr
    [line] = listed.stderr.strip().splitlines()
    assert str(path) in line and expected in line, line
    doctor = llmdeck(tmp_path, "doctor")
    assert "Traceback" not in doctor.stderr, doctor.stderr
    row = next(r for r in doctor.stdout.splitlines() if r.startswith("flags"))
    assert "FAILED" in row and str(path) in row and expected in row, row


def test_nan_weight_never_written(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    path.write_text(json.dumps(flag(targeting={"fractional": [["v13", 50], ["v14", 50]]})))
    store = FlagdFile(path=path)
    [current] = store.flags()
    before = path.read_bytes()
    for bad in (float("nan"), float("inf"), -1.0):
        with pytest.raises(InvalidChange, match="finite number"):
            store.set_weights(
                "answer-rollout", "default", {"v13": bad, "v14": 100.0}, expected=current
            )
    assert path.read_bytes() == before
    assert validate(json.loads(NAN_WEIGHTS))  # a NaN weight is a problem, by key


# Fuzz: flag documents built from valid and invalid parts, serialised (NaN
# included, as Python writes it), and random bytes. Only the project's error
# types may come out.
_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8))
_json = st.recursive(
    _scalar,
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids, max_size=3)
    ),
    max_leaves=12,
)
_flag = st.fixed_dictionaries(
    {},
    optional={
        "state": st.sampled_from(["ENABLED", "DISABLED", "on"]) | _json,
        "variants": st.dictionaries(st.sampled_from(["a", "b", "c"]), _json, max_size=3) | _json,
        "defaultVariant": st.sampled_from(["a", "b", "z"]) | _json,
        "metadata": st.dictionaries(st.text(max_size=5), _scalar, max_size=3) | _json,
        "targeting": st.fixed_dictionaries(
            {
                "fractional": st.lists(
                    st.tuples(st.sampled_from(["a", "b"]) | _json, st.floats() | _json).map(list),
                    max_size=3,
                )
            }
        )
        | _json,
    },
)
_doc = st.one_of(
    st.dictionaries(st.text(max_size=6), _flag, max_size=3).map(lambda f: {"flags": f}),
    _json,
)


@settings(
    max_examples=300,
    deadline=1000,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.one_of(_doc.map(lambda d: json.dumps(d).encode()), st.binary(max_size=200)))
def test_fuzz_flagd_parser(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "fuzz.json"
    path.write_bytes(raw)
    store = FlagdFile(path=path)
    assert isinstance(store.ping().ok, bool)
    try:
        flags = store.flags()
    except ConnectorError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
        return
    for f in flags:
        for v in f.environments[0].variants:
            assert v.weight == v.weight  # never NaN
