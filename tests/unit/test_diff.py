"""The diff engine on known inputs and on generated ones."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.records import PromptVersion
from console.diff.compare import (
    as_dict,
    compare,
    diff_mapping,
    diff_messages,
    diff_text,
    intraline,
    unified,
)


def changed_text(segments: tuple[object, ...]) -> str:
    return "".join(s.text for s in segments if s.changed)  # type: ignore[attr-defined]


def test_replaced_line_gets_intraline_highlights() -> None:
    d = diff_text("a\nBe friendly and thorough.\nc", "a\nBe brief.\nc")
    assert [row.tag for row in d.lines] == ["equal", "replace", "equal"]
    assert d.hunks == (1,)
    row = d.lines[1]
    assert (row.left_no, row.right_no) == (2, 2)
    assert row.left_text == "Be friendly and thorough." and row.right_text == "Be brief."
    assert changed_text(row.left) and changed_text(row.right)
    assert row.left[0].text.startswith("Be ") and not row.left[0].changed
    assert not row.whitespace_only


def test_whitespace_only_change_is_a_change_and_says_so() -> None:
    d = diff_text("Answer {{q}} politely.", "Answer {{q}}  politely. ")
    (row,) = d.lines
    assert row.tag == "replace" and row.whitespace_only
    assert changed_text(row.right).strip() == ""  # only the spaces are highlighted
    assert changed_text(row.right) == "  " or changed_text(row.right).count(" ") >= 2


def test_trailing_newline_and_blank_lines() -> None:
    assert not diff_text("a\nb\n", "a\nb").changed  # same lines
    d = diff_text("a\nb", "a\n\nb")
    assert [r.tag for r in d.lines] == ["equal", "insert", "equal"]
    assert d.counts() == (0, 1)


def test_insert_delete_and_uneven_replace_keep_line_numbers() -> None:
    a = ["one", "two", "three", "four"]
    b = ["zero", "one", "TWO", "2b", "four", "five"]
    d = diff_text("\n".join(a), "\n".join(b))
    lefts = [r.left_no for r in d.lines if r.left_no]
    rights = [r.right_no for r in d.lines if r.right_no]
    assert lefts == [1, 2, 3, 4] and rights == [1, 2, 3, 4, 5, 6]
    assert [r.left_text for r in d.lines if r.left_no] == a
    assert [r.right_text for r in d.lines if r.right_no] == b
    assert len(d.hunks) == 3


def test_very_long_lines_highlight_the_changed_word() -> None:
    words = [f"w{i}" for i in range(3000)]
    left = " ".join(words)
    right = " ".join(w if w != "w1500" else "CHANGED" for w in words)
    a, b = intraline(left, right)
    assert "".join(s.text for s in a) == left and "".join(s.text for s in b) == right
    assert changed_text(a) == "w1500" and changed_text(b) == "CHANGED"


def test_reordered_chat_messages_are_moved_not_removed() -> None:
    sys = {"role": "system", "content": "You summarise tickets."}
    user = {"role": "user", "content": "Ticket: {{ticket}}"}
    extra = {"role": "assistant", "content": "Summary:"}
    out = diff_messages([sys, user], [user, sys, extra])
    # One of the two swapped messages stays in line, the other moved; nothing removed.
    assert sorted(m.status for m in out) == ["added", "equal", "moved"]
    assert [m.right_index for m in out] == [0, 1, 2]  # in the order of the newer version
    moved = next(m for m in out if m.status == "moved")
    assert {moved.left_index, moved.right_index} == {0, 1} and not moved.text.changed
    assert next(m for m in out if m.status == "added").role == "assistant"


def test_moved_and_edited_message_is_changed_not_added_and_removed() -> None:
    a = [{"role": "system", "content": "S"}, {"role": "user", "content": "Ticket: {{t}}"}]
    b = [{"role": "user", "content": "Ticket: {{t}} now"}, {"role": "system", "content": "S"},
         {"role": "assistant", "content": "Summary:"}]  # fmt: skip
    out = diff_messages(a, b)
    assert [(m.status, m.role, m.left_index, m.right_index) for m in out] == [
        ("changed", "user", 1, 0),
        ("equal", "system", 0, 1),
        ("added", "assistant", None, 2),
    ]
    assert out[0].text.lines[0].tag == "replace"


roles = st.sampled_from(["system", "user", "assistant"])
message = st.fixed_dictionaries({"role": roles, "content": st.sampled_from(["a", "b", "c d"])})


@settings(max_examples=200, deadline=None)
@given(st.lists(message, max_size=6), st.lists(message, max_size=6))
def test_every_message_is_accounted_for_once(
    a: list[dict[str, str]], b: list[dict[str, str]]
) -> None:
    out = diff_messages(a, b)
    assert sorted(m.left_index for m in out if m.left_index is not None) == list(range(len(a)))
    assert [m.right_index for m in out if m.right_index is not None] == list(range(len(b)))
    for m in out:
        if m.status in ("equal", "moved"):
            assert a[m.left_index] == b[m.right_index]  # type: ignore[index]
        if m.status == "changed":
            assert a[m.left_index]["role"] == b[m.right_index]["role"]  # type: ignore[index]


def test_changed_chat_message_has_a_text_diff() -> None:
    a = [{"role": "system", "content": "Be nice."}, {"role": "user", "content": "Q: {{q}}"}]
    b = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Q: {{q}}"}]
    out = diff_messages(a, b)
    assert [m.status for m in out] == ["changed", "equal"]
    assert out[0].text.lines[0].tag == "replace"
    removed = diff_messages(a, a[1:])
    assert [(m.status, m.role) for m in removed] == [("removed", "system"), ("equal", "user")]


def test_model_config_tags_and_evals() -> None:
    a = PromptVersion(
        "p", "1", template="x",
        model_config={"model": "gpt-4o-mini", "temperature": 0.2, "stop": ["\n"]},
        tags={"eval.pass_ratio": "0.93", "team": "support", "old": "1"},
    )  # fmt: skip
    b = PromptVersion(
        "p", "2", template="x",
        model_config={"model": "gpt-4o-mini", "temperature": 0.7, "max_tokens": 300,
                      "stop": ["\n"]},
        tags={"eval.pass_ratio": "0.81", "team": "support"},
    )  # fmt: skip
    d = compare(a, b)
    assert d.template is not None and not d.template.changed
    config = {c.key: c.status for c in d.config}
    assert config == {"max_tokens": "added", "model": "equal", "stop": "equal",
                      "temperature": "changed"}  # fmt: skip
    assert [(c.key, c.status) for c in d.evals] == [("eval.pass_ratio", "changed")]
    assert {c.key: c.status for c in d.tags} == {"old": "removed", "team": "equal"}
    data = as_dict(d)
    assert [c["key"] for c in data["config"]] == ["max_tokens", "temperature"]
    assert data["template"] == {"removed": 0, "added": 0, "changes": []}


def test_unified_export_is_a_real_unified_diff() -> None:
    a = PromptVersion("p", "1", template="a\nb\nc", model_config={"temperature": 0.2})
    b = PromptVersion("p", "2", template="a\nB\nc", model_config={"temperature": 0.7})
    text = unified(compare(a, b))
    assert text.startswith("--- p@1/prompt\n+++ p@2/prompt\n@@ -1,3 +1,3 @@\n")
    assert "-b\n+B\n" in text and "-model_config.temperature: 0.2\n" in text
    assert unified(compare(a, a)) == ""


def test_chat_unified_export_names_roles() -> None:
    a = PromptVersion("p", "1", messages=({"role": "system", "content": "x"},))
    b = PromptVersion("p", "2", messages=({"role": "system", "content": "y"},))
    assert "### system\n-x\n+y\n" in unified(compare(a, b))


NEWLINES = "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # what str.splitlines splits on
line = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters=NEWLINES), max_size=30
)


@settings(max_examples=150, deadline=None)
@given(st.lists(line, max_size=25), st.lists(line, max_size=25))
def test_both_sides_are_reproduced_in_order(a: list[str], b: list[str]) -> None:
    d = diff_text("\n".join(a), "\n".join(b))
    left = [r.left_text for r in d.lines if r.left_no is not None]
    right = [r.right_text for r in d.lines if r.right_no is not None]
    assert left == "\n".join(a).splitlines()
    assert right == "\n".join(b).splitlines()
    assert d.changed == (left != right)
    # every hunk starts at a changed row, right after an unchanged one (or at the top)
    for h in d.hunks:
        assert d.lines[h].tag != "equal"
        assert h == 0 or d.lines[h - 1].tag == "equal"


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=80), st.text(max_size=80))
def test_intraline_segments_rebuild_the_lines(a: str, b: str) -> None:
    left, right = intraline(a, b)
    assert "".join(s.text for s in left) == a and "".join(s.text for s in right) == b
    unchanged_left = "".join(s.text for s in left if not s.changed)
    unchanged_right = "".join(s.text for s in right if not s.changed)
    assert unchanged_left == unchanged_right  # the common part is common
    if a == b:
        assert not any(s.changed for s in (*left, *right))


@given(
    st.dictionaries(st.sampled_from("abcdef"), st.integers(0, 3)),
    st.dictionaries(st.sampled_from("abcdef"), st.integers(0, 3)),
)
def test_mapping_diff_covers_every_key_once(a: dict[str, int], b: dict[str, int]) -> None:
    out = diff_mapping(a, b)
    assert [c.key for c in out] == sorted(set(a) | set(b))
    for c in out:
        assert (c.status == "equal") == (c.key in a and c.key in b and a[c.key] == b[c.key])
