"""What changed between two prompt or model versions.

Templates are compared line by line with ``difflib``; each changed line pair
also gets an intraline comparison of words, whitespace runs and punctuation
(so a whitespace-only change is highlighted, and a 10,000-character line pair
stays cheap). Chat prompts are compared
message by message: messages are matched by role and content, so a message
that only moved is reported as ``moved``, not as a removal plus an addition.
Model config and tags are compared key by key. ``unified`` renders the same
comparison as a unified diff for export.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from connectors.records import PromptVersion

LineTag = Literal["equal", "replace", "delete", "insert"]
# Intraline changes are found between words, runs of spaces and punctuation:
# readable highlights, and a long line costs words, not characters.
_WORDS = re.compile(r"\s+|\w+|[^\w\s]")
EVAL_PREFIXES = ("eval.", "eval_", "evals.", "score.", "metrics.")


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of text in a line; ``changed`` marks an intraline difference."""

    text: str
    changed: bool = False


@dataclass(frozen=True, slots=True)
class DiffLine:
    """One row of a side-by-side diff. Line numbers are 1-based (None: no line on that side).

    ``left``/``right`` hold the line split into segments; only lines of a
    ``replace`` carry changed segments. ``whitespace_only`` is True when the two
    sides differ in whitespace alone.
    """

    tag: LineTag
    left_no: int | None
    right_no: int | None
    left: tuple[Segment, ...]
    right: tuple[Segment, ...]
    whitespace_only: bool = False

    @property
    def left_text(self) -> str:
        return "".join(s.text for s in self.left)

    @property
    def right_text(self) -> str:
        return "".join(s.text for s in self.right)


@dataclass(frozen=True, slots=True)
class TextDiff:
    """A side-by-side line diff and where each hunk (run of changed rows) starts."""

    lines: tuple[DiffLine, ...]
    hunks: tuple[int, ...]

    @property
    def changed(self) -> bool:
        return bool(self.hunks)

    def counts(self) -> tuple[int, int]:
        """(lines removed, lines added), a replaced line counting once on each side."""
        removed = sum(1 for d in self.lines if d.tag != "equal" and d.left_no is not None)
        added = sum(1 for d in self.lines if d.tag != "equal" and d.right_no is not None)
        return removed, added


def intraline(a: str, b: str) -> tuple[tuple[Segment, ...], tuple[Segment, ...]]:
    """Split ``a`` and ``b`` into segments, marking the words (and spaces) that differ."""
    ta, tb = _WORDS.findall(a), _WORDS.findall(b)
    matcher = difflib.SequenceMatcher(None, ta, tb, autojunk=False)
    left: list[Segment] = []
    right: list[Segment] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        changed = op != "equal"
        if i2 > i1:
            left.append(Segment("".join(ta[i1:i2]), changed))
        if j2 > j1:
            right.append(Segment("".join(tb[j1:j2]), changed))
    return tuple(_merge(left)), tuple(_merge(right))


def _merge(segments: list[Segment]) -> list[Segment]:
    out: list[Segment] = []
    for s in segments:
        if out and out[-1].changed == s.changed:
            out[-1] = Segment(out[-1].text + s.text, s.changed)
        else:
            out.append(s)
    return out


def _plain(text: str) -> tuple[Segment, ...]:
    return (Segment(text),) if text else ()


def diff_lines(a: Sequence[str], b: Sequence[str]) -> TextDiff:
    """Side-by-side diff of two line lists, with intraline segments on replaced pairs."""
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    rows: list[DiffLine] = []
    hunks: list[int] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            rows.extend(
                DiffLine("equal", i + 1, j + 1, _plain(a[i]), _plain(b[j]))
                for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
            )
            continue
        hunks.append(len(rows))
        if op == "delete":
            rows.extend(DiffLine("delete", i + 1, None, _plain(a[i]), ()) for i in range(i1, i2))
        elif op == "insert":
            rows.extend(DiffLine("insert", None, j + 1, (), _plain(b[j])) for j in range(j1, j2))
        else:
            for k in range(max(i2 - i1, j2 - j1)):
                i, j = i1 + k, j1 + k
                if i < i2 and j < j2:
                    left, right = intraline(a[i], b[j])
                    ws = a[i].split() == b[j].split()
                    rows.append(DiffLine("replace", i + 1, j + 1, left, right, ws))
                elif i < i2:
                    rows.append(DiffLine("delete", i + 1, None, _plain(a[i]), ()))
                else:
                    rows.append(DiffLine("insert", None, j + 1, (), _plain(b[j])))
    return TextDiff(tuple(rows), tuple(hunks))


def diff_text(a: str, b: str) -> TextDiff:
    """Side-by-side diff of two texts (split on line breaks, kept without them)."""
    return diff_lines(a.splitlines(), b.splitlines())


MessageStatus = Literal["equal", "changed", "added", "removed", "moved"]


@dataclass(frozen=True, slots=True)
class MessageDiff:
    """One chat message compared: indexes are 0-based positions (None: absent)."""

    status: MessageStatus
    left_index: int | None
    right_index: int | None
    role: str
    text: TextDiff


def _key(m: Mapping[str, Any]) -> tuple[str, str]:
    return str(m.get("role", "")), str(m.get("content", ""))


def diff_messages(
    a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]]
) -> list[MessageDiff]:
    """Per-message diff of two chat prompts, in the order of ``b`` (removed ones where they were).

    Messages are aligned by role and content. Of those left over, an identical
    message elsewhere is ``moved``; otherwise a message of the same role (the
    most similar one, wherever it was) is ``changed``, with a text diff of its
    content; the rest are ``added`` or ``removed``.
    """
    ka, kb = [_key(m) for m in a], [_key(m) for m in b]
    matcher = difflib.SequenceMatcher(None, ka, kb, autojunk=False)
    pairs: dict[int, tuple[MessageStatus, int]] = {}  # b index -> (status, a index)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            pairs[block.b + k] = ("equal", block.a + k)
    left = [i for i in range(len(ka)) if i not in {i for _, i in pairs.values()}]
    right = [j for j in range(len(kb)) if j not in pairs]
    for j in list(right):  # identical content elsewhere: moved
        i = next((i for i in left if ka[i] == kb[j]), None)
        if i is not None:
            pairs[j] = ("moved", i)
            left.remove(i)
            right.remove(j)
    for j in list(right):  # same role, most similar content: changed
        same = [i for i in left if ka[i][0] == kb[j][0]]
        if same:
            i = max(same, key=lambda i: _similarity(ka[i][1], kb[j][1]))
            pairs[j] = ("changed", i)
            left.remove(i)
            right.remove(j)
    out: list[tuple[float, MessageDiff]] = []
    for j, role_content in enumerate(kb):
        status, i = pairs.get(j, ("added", -1))
        before = ka[i][1] if i >= 0 else ""
        text = diff_text(before, role_content[1])
        out.append((j, MessageDiff(status, i if i >= 0 else None, j, role_content[0], text)))
    for i in left:  # after the b message that follows the last one kept before it
        kept = [j for j, (_, x) in pairs.items() if x < i]
        at = max(kept) + 0.5 if kept else -0.5
        out.append((at, MessageDiff("removed", i, None, ka[i][0], diff_text(ka[i][1], ""))))
    return [d for _, d in sorted(out, key=lambda x: x[0])]


def _similarity(x: str, y: str) -> float:
    return difflib.SequenceMatcher(None, x, y, autojunk=False).quick_ratio()


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One key of a mapping compared; ``status`` is equal, changed, added or removed."""

    key: str
    before: Any
    after: Any
    status: str


def diff_mapping(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[FieldChange]:
    """Key-by-key comparison, sorted by key (values compared as JSON)."""
    out = []
    for key in sorted(set(a) | set(b), key=str):
        if key not in b:
            out.append(FieldChange(str(key), a[key], None, "removed"))
        elif key not in a:
            out.append(FieldChange(str(key), None, b[key], "added"))
        else:
            same = _json(a[key]) == _json(b[key])
            out.append(FieldChange(str(key), a[key], b[key], "equal" if same else "changed"))
    return out


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def is_eval(tag: str) -> bool:
    """Tags that hold evaluation scores (``eval.pass_ratio``, ``score.helpfulness``...)."""
    return tag.lower().startswith(EVAL_PREFIXES)


@dataclass(frozen=True)
class VersionDiff:
    """Everything that differs between versions ``a`` and ``b`` of one prompt or model."""

    a: PromptVersion
    b: PromptVersion
    template: TextDiff | None
    messages: list[MessageDiff] = field(default_factory=list)
    config: list[FieldChange] = field(default_factory=list)
    tags: list[FieldChange] = field(default_factory=list)
    evals: list[FieldChange] = field(default_factory=list)

    @property
    def chat(self) -> bool:
        return bool(self.a.messages or self.b.messages)


def compare(a: PromptVersion, b: PromptVersion) -> VersionDiff:
    """Compare two versions: template or messages, model config, tags, eval scores."""
    chat = bool(a.messages or b.messages)
    template = None if chat else diff_text(a.template or "", b.template or "")
    messages = diff_messages(a.messages, b.messages) if chat else []
    tags = diff_mapping(
        {k: v for k, v in a.tags.items() if not is_eval(k)},
        {k: v for k, v in b.tags.items() if not is_eval(k)},
    )
    evals = diff_mapping(
        {k: v for k, v in a.tags.items() if is_eval(k)},
        {k: v for k, v in b.tags.items() if is_eval(k)},
    )
    config = diff_mapping(a.model_config, b.model_config)
    return VersionDiff(a, b, template, messages, config, tags, evals)


def prompt_text(v: PromptVersion) -> str:
    """The prompt as one text: the template, or each message under a ``### role`` line."""
    if v.messages:
        return "\n".join(f"### {m.get('role', '')}\n{m.get('content', '')}" for m in v.messages)
    return v.template or ""


def _settings_lines(v: PromptVersion) -> list[str]:
    lines = [f"model_config.{k}: {_json(x)}" for k, x in sorted(v.model_config.items())]
    return lines + [f"tags.{k}: {x}" for k, x in sorted(v.tags.items())]


def unified(d: VersionDiff, context: int = 3) -> str:
    """A unified diff (``diff -u`` style) of the prompt text, then config and tags."""
    name = d.b.name
    a_id, b_id = f"{d.a.name}@{d.a.version}", f"{name}@{d.b.version}"
    parts = list(
        difflib.unified_diff(
            prompt_text(d.a).splitlines(),
            prompt_text(d.b).splitlines(),
            f"{a_id}/prompt",
            f"{b_id}/prompt",
            n=context,
            lineterm="",
        )
    )
    parts += difflib.unified_diff(
        _settings_lines(d.a),
        _settings_lines(d.b),
        f"{a_id}/settings",
        f"{b_id}/settings",
        n=context,
        lineterm="",
    )
    return "\n".join(parts) + ("\n" if parts else "")


def _rows(t: TextDiff) -> list[dict[str, Any]]:
    return [
        {
            "tag": d.tag,
            "left_no": d.left_no,
            "right_no": d.right_no,
            "left": d.left_text,
            "right": d.right_text,
            "whitespace_only": d.whitespace_only,
        }
        for d in t.lines
        if d.tag != "equal"
    ]


def _changes(changes: list[FieldChange]) -> list[dict[str, Any]]:
    return [
        {"key": c.key, "before": c.before, "after": c.after, "status": c.status}
        for c in changes
        if c.status != "equal"
    ]


def as_dict(d: VersionDiff) -> dict[str, Any]:
    """The changes as JSON-ready data (equal lines and keys left out)."""
    out: dict[str, Any] = {
        "name": d.b.name,
        "a": {"version": d.a.version, "aliases": list(d.a.aliases)},
        "b": {"version": d.b.version, "aliases": list(d.b.aliases)},
        "kind": "chat" if d.chat else "text",
        "config": _changes(d.config),
        "tags": _changes(d.tags),
        "evals": _changes(d.evals),
    }
    if d.template is not None:
        removed, added = d.template.counts()
        out["template"] = {"removed": removed, "added": added, "changes": _rows(d.template)}
    else:
        out["messages"] = [
            {
                "status": m.status,
                "role": m.role,
                "a_index": m.left_index,
                "b_index": m.right_index,
                "changes": _rows(m.text),
            }
            for m in d.messages
            if m.status != "equal"
        ]
    return out
