"""The postmortem export of the known incident (tests/incident_world.py):
Markdown section by section, JSON entry by entry, and ``llmdeck incident``
through the real command line."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from console.core import clock
from console.core.session import Session
from console.incident import export, record
from console.incident.record import Incident
from tests import incident_world as world
from tests.conftest import FIXED_NOW
from tests.unit.test_cli import llmdeck, one_clear_line


@pytest.fixture(scope="module")
def known(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Session, Incident]]:
    path = tmp_path_factory.mktemp("incident-export") / "ws"
    world.build(path)
    session = world.session(path)
    incident = world.open_known_incident(session)
    yield path, session, incident
    session.close()


@pytest.fixture
def markdown(known: tuple[Path, Session, Incident], frozen_clock: datetime) -> str:
    _, session, incident = known
    return export.markdown(export.collect(session, incident))


def sections(text: str) -> dict[str, list[str]]:
    """``## Heading`` -> its lines (blank lines dropped)."""
    out: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        if line.startswith("## "):
            current = line[3:]
            out[current] = []
        elif line.strip() and current:
            out[current].append(line)
    return out


def table(lines: list[str]) -> list[list[str]]:
    """The rows of the first Markdown table in ``lines`` (header and rule dropped)."""
    first = next(i for i, ln in enumerate(lines) if ln.startswith("|"))
    rows = []
    for ln in lines[first:]:
        if not ln.startswith("|"):
            break
        rows.append(ln)
    return [[c.strip() for c in re.split(r"(?<!\\)\|", r)[1:-1]] for r in rows[2:]]


def test_heading_and_sections_in_order(markdown: str) -> None:
    assert markdown.splitlines()[0] == "# Incident 1: Refusals up on /support/chat"
    assert list(sections(markdown)) == [
        "Summary", "Impact", "Timeline", "What changed", "Actions taken", "Signals",
    ]  # fmt: skip
    assert markdown.endswith("```\n")


def test_summary(markdown: str) -> None:
    rows = dict(tuple(r) for r in table(sections(markdown)["Summary"]))
    assert rows == {
        "Severity": "sev2",
        "Status": "closed",
        "Opened": "2026-11-29 11:05:00 UTC by alice",
        "Closed": "2026-11-29 11:50:00 UTC",
        "Duration": "45 min",
        "Profile": "t",
        "Scope": "route /support/chat",
        "Alerts": "1 in the timeline",
    }


def test_impact_figures(markdown: str) -> None:
    lines = sections(markdown)["Impact"]
    assert lines[0].startswith("From 2026-11-29 11:01:00 to 2026-11-29 11:50:00 UTC on route")
    (row,) = table(lines)
    assert row == [
        "490", "166 (33.9%)", "0 (0.0%)", "0 (0.0%)", "$0.49", "acme (1 of 2 with traffic)",
    ]  # fmt: skip


def test_timeline_table(markdown: str) -> None:
    rows = table(sections(markdown)["Timeline"])
    assert [r[1] for r in rows] == [
        "change", "action", "alert", "alert", "incident", "note", "replay", "replay",
        "action", "change", "action", "note", "alert", "incident",
    ]  # fmt: skip
    assert rows[0][0] == "2026-11-29 10:58:00"
    assert rows[5] == ["2026-11-29 11:10:00", "note", r"refusals up on v14 \| canary suspected",
                       "alice"]  # fmt: skip
    assert rows[6][2].startswith("replay batch b1: 3 replays (different 2, identical 1)")
    rollback = "rollback_route /support/chat: done (refusals 4x on v14)"
    assert rows[10] == ["2026-11-29 11:40:00", "action", rollback, "alice"]


def test_what_changed_lists_the_write_before_the_opening_once(markdown: str) -> None:
    # The canary's flag snapshot is the deploy-bot's write; the rollback's snapshot
    # at 11:40 is the rollback's own result, under Actions taken.
    assert sections(markdown)["What changed"] == [
        "- 2026-11-29 10:58:00 UTC · set_weights support-chat-prompt: done (canary v14) · "
        "deploy-bot (audit)"
    ]


def test_actions_and_their_effect(markdown: str) -> None:
    lines = sections(markdown)["Actions taken"]
    assert table(lines) == [
        ["2026-11-29 11:30:00", "set_enabled kill-support-chat: cancelled", "alice"],
        ["2026-11-29 11:40:00", "rollback_route /support/chat: done (refusals 4x on v14)",
         "alice"],
    ]  # fmt: skip
    effect_rows = table(lines[lines.index(next(ln for ln in lines if ln.startswith("Effect"))) :])
    assert effect_rows == [
        ["2026-11-29 11:40:00", "rollback_route /support/chat", "route /support/chat",
         "150 / 150", "40.0% → 10.0%", "0.0% → 0.0%"],
    ]  # fmt: skip


def test_signals_are_text_charts_without_colour(markdown: str) -> None:
    lines = sections(markdown)["Signals"]
    text = "\n".join(lines)
    assert text.count("```text") == 2
    assert "refusal rate (%)" in text and "error rate (%)" in text
    assert "\x1b" not in markdown  # no ANSI colour in a document
    assert "10:05" in text and "11:49" in text  # the x axis: the window, UTC
    assert "44.0" in text  # the top of the refusal axis: 40% and 10% headroom
    chart_lines = text.split("```text")[1].split("```")[0].splitlines()
    assert len(chart_lines) >= 12 and max(len(ln) for ln in chart_lines) <= 80  # a fixed size


def test_the_export_is_deterministic(known: tuple[Path, Session, Incident]) -> None:
    _, session, incident = known
    clock.freeze(FIXED_NOW)
    try:
        first = export.markdown(export.collect(session, incident))
        second = export.markdown(export.collect(session, incident))
    finally:
        clock.freeze(None)
    assert first == second


def test_json_entries_carry_the_fields_the_incident_tools_take(
    known: tuple[Path, Session, Incident], frozen_clock: datetime
) -> None:
    _, session, incident = known
    doc = json.loads(export.render(export.collect(session, incident), "json"))
    assert doc["incident"]["label"] == "INC-1" and doc["incident"]["impact"]["refusals"] == 166
    assert doc["incident"]["effects"][0]["after"]["refusal_rate"] == 0.1
    entries = doc["timeline"]
    assert len(entries) == 14
    for e in entries:
        assert {"timestamp", "kind", "body", "title"} <= set(e)
        assert e["timestamp"].endswith("Z")
        parsed = datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00"))
        assert parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0
        assert e["eventTime"] == e["occurred_at"] == e["timestamp"]
        assert e["activityKind"] == "userNote"  # the only kind AddActivity accepts
        assert e["body"].startswith(f"[{e['kind']}] {e['title']}")
    stamps = [e["timestamp"] for e in entries]
    assert stamps == sorted(stamps)
    note = next(e for e in entries if e["kind"] == "note")
    assert note["who"] == "alice" and "canary suspected" in note["body"]


# -- the command line -----------------------------------------------------------


def _env() -> dict[str, str]:
    return {"LLMDECK_FROZEN_TIME": "2026-11-29T12:00:00Z"}


def test_cli_open_note_close_list_show_export(tmp_path: Path) -> None:
    cfg = str(world.build(tmp_path / "ws"))
    opened = llmdeck("incident", "open", "--title", "Refusals up", "--severity", "sev2",
                     "--config", cfg, env=_env())  # fmt: skip
    assert opened.returncode == 0, opened.stderr
    assert opened.stdout == "1\n"
    noted = llmdeck("incident", "note", "INC-1", "canary", "suspected", "--config", cfg, env=_env())
    assert noted.returncode == 0 and noted.stdout == "note 1 added to INC-1\n", noted.stderr
    listed = llmdeck("incident", "list", "--json", "--config", cfg, env=_env())
    (row,) = json.loads(listed.stdout)
    assert (row["id"], row["status"], row["severity"], row["who"]) == (1, "open", "sev2", "alice")
    shown = llmdeck("incident", "show", "1", "--config", cfg, env=_env())
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("INC-1 sev2 open: Refusals up\n")
    assert re.search(r"note\s+alice\s+canary suspected", shown.stdout), shown.stdout
    out = tmp_path / "postmortem"
    exported = llmdeck("incident", "export", "1", "--format", "md", "-o", str(out),
                       "--config", cfg, env=_env())  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    text = out.read_text()
    assert text.startswith("# Incident 1: Refusals up\n") and "canary suspected" in text
    assert out.stat().st_mode & 0o777 == 0o600
    printed = llmdeck("incident", "export", "1", "--format", "json", "--config", cfg, env=_env())
    assert json.loads(printed.stdout)["incident"]["status"] == "open"
    closed = llmdeck("incident", "close", "1", "--config", cfg, env=_env())
    assert closed.returncode == 0 and closed.stdout == "INC-1 closed\n"


def test_cli_empty_list_and_bad_input(tmp_path: Path) -> None:
    cfg = str(world.build(tmp_path / "ws"))
    empty = llmdeck("incident", "list", "--json", "--config", cfg)
    assert empty.returncode == 0 and empty.stdout.strip() == "[]"
    assert "unknown severity 'p1'" in one_clear_line(
        llmdeck("incident", "open", "--title", "t", "--severity", "p1", "--config", cfg)
    )
    assert one_clear_line(llmdeck("incident", "show", "7", "--config", cfg)) == (
        "llmdeck: no incident INC-7"
    )
    assert "not an incident id" in one_clear_line(
        llmdeck("incident", "close", "seven", "--config", cfg)
    )
    assert "--lead-in: bad window" in one_clear_line(
        llmdeck("incident", "export", "1", "--lead-in", "soon", "--config", cfg)
    )
    read_only = ("--config", cfg, "--read-only")
    refused = one_clear_line(
        llmdeck("incident", "open", "--title", "t", "--severity", "sev1", *read_only)
    )
    assert "refused under --read-only: incident" in refused
    assert json.loads(llmdeck("incident", "list", "--json", "--config", cfg).stdout) == []


def test_cli_export_of_the_known_incident_matches_the_library(
    known: tuple[Path, Session, Incident], frozen_clock: datetime
) -> None:
    path, session, incident = known
    proc = llmdeck("incident", "export", str(incident.id), "--config",
                   str(path / "llmdeck.yaml"), env=_env())  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == export.markdown(export.collect(session, incident))
    assert record.get(session.store(), incident.id).status == "closed"


def test_a_writes_own_snapshots_are_not_listed_as_changes() -> None:
    from console.changelog.audit_rows import AuditRow
    from console.incident.timeline import Timeline, TimelineEntry
    from tests.incident_world import at

    row = AuditRow(at(11, 0), "llmdeck", "bob", "staging", "move_alias",
                   "support-answer:canary", "done", None, "13")  # fmt: skip
    written = export.Written.of(row, opened=at(10, 0))
    assert written.names == {"support-answer:canary", "support-answer"}
    assert not written.before_opening
    incident = Incident(1, at(10, 0), None, "t", "sev3", "bob", "t")
    entries = (
        TimelineEntry(
            at(11, 0),
            "change",
            "support-answer alias canary→13",
            "",
            "history:files",
            ref="support-answer",
        ),
        TimelineEntry(
            at(11, 0),
            "action",
            "move_alias support-answer:canary: done",
            "",
            "audit",
            "bob",
            "support-answer:canary",
        ),
        TimelineEntry(at(11, 5), "change", "flag x on", "", "unleash", "carol", "x"),
    )
    tl = Timeline(incident, at(9, 0), at(12, 0), entries)
    # The alias move is after the opening: an action taken, not a change; its
    # snapshot goes with it. The Unleash flip by someone else is a change.
    assert [e.title for e in export.what_changed(tl, [written])] == ["flag x on"]
