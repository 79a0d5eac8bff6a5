"""Diff of two 5,000-line templates, compared and drawn in the Diff widget (target < 200 ms).

Builds two templates of ``--lines`` lines (about 4% of the lines changed, some
inserted and deleted, a few long lines), then in a headless Textual app times:

- compare: ``console.diff.compare.compare`` (line diff plus intraline word diffs);
- first frame: compare + ``DiffView.show`` + the first full render of the view;
- jump: ``n`` to the last hunk and its render;
- scroll all: rendering every line of the diff once (what scrolling to the end draws).

    python -m bench.diff_render [--lines 5000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time

from textual.app import App, ComposeResult

from connectors.records import PromptVersion
from console.diff.compare import compare
from screens.widgets.diff_view import DiffView, rows_of

WORDS = [
    "answer",
    "the",
    "customer",
    "using",
    "only",
    "context",
    "below",
    "cite",
    "article",
    "never",
    "promise",
    "refunds",
    "be",
    "friendly",
    "thorough",
    "brief",
    "refuse",
    "anything",
    "not",
    "covered",
    "question",
    "policy",
    "escalate",
    "human",
    "agent",
    "tone",
    "plain",
    "language",
    "summarise",
    "steps",
]


def templates(lines: int, seed: int = 4) -> tuple[str, str]:
    rnd = random.Random(seed)
    a = []
    for i in range(lines):
        n = 160 if i % 500 == 0 else rnd.randint(4, 18)  # a few long lines
        a.append(" ".join(rnd.choice(WORDS) for _ in range(n)) + " {{var" + str(i % 7) + "}}")
    b = []
    for line in a:
        r = rnd.random()
        if r < 0.02:
            words = line.split()
            words[rnd.randrange(len(words))] = rnd.choice(WORDS).upper()
            b.append(" ".join(words))
        elif r < 0.03:
            continue  # deleted
        elif r < 0.04:
            b += [line, "NEW: " + " ".join(rnd.choice(WORDS) for _ in range(8))]
        else:
            b.append(line)
    return "\n".join(a), "\n".join(b)


class Bench(App[None]):
    def compose(self) -> ComposeResult:
        yield DiffView(id="view")


async def run(lines: int, repeat: int) -> None:
    text_a, text_b = templates(lines)
    va = PromptVersion("bench", "1", template=text_a)
    vb = PromptVersion("bench", "2", template=text_b)
    app = Bench()
    async with app.run_test(size=(160, 48)) as pilot:
        view = app.query_one(DiffView)
        compare_ms, first_ms, jump_ms, all_ms = [], [], [], []
        for _ in range(repeat):
            started = time.perf_counter()
            d = compare(va, vb)
            compared = time.perf_counter()
            rows, hunks = rows_of(d)
            view.show(rows, hunks)
            view.refresh()
            await pilot.pause()  # the frame is composed and written
            first = time.perf_counter()
            view.jump(-1)
            await pilot.pause()
            jumped = time.perf_counter()
            view.scroll_to(0, 0, animate=False)
            await pilot.pause()
            t0 = time.perf_counter()
            height = view.scrollable_content_region.height
            for top in range(0, len(view._display), height):
                view.scroll_to(0, top, animate=False)
                for y in range(height):
                    view.render_line(y)
            done = time.perf_counter()
            compare_ms.append((compared - started) * 1000)
            first_ms.append((first - started) * 1000)
            jump_ms.append((jumped - first) * 1000)
            all_ms.append((done - t0) * 1000)
        assert d.template is not None
        removed, added = d.template.counts()
        print(
            f"templates: {len(text_a.splitlines()):,} vs {len(text_b.splitlines()):,} lines, "
            f"{len(hunks)} hunks, -{removed}/+{added} lines, {len(view._display):,} display rows"
        )
        for label, values in (
            ("compare (difflib + intraline)", compare_ms),
            ("compare + first frame drawn", first_ms),
            ("jump to last hunk + redraw", jump_ms),
            ("render every line once", all_ms),
        ):
            print(
                f"{label:32s} median {statistics.median(values):7.1f} ms  "
                f"max {max(values):7.1f} ms  (n={len(values)})"
            )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    asyncio.run(run(args.lines, args.repeat))


if __name__ == "__main__":
    main()
