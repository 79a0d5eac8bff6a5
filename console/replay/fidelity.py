"""How faithfully a replay reproduced the logged output.

Similarity is ``difflib.SequenceMatcher(None, a_words, b_words).ratio()`` over
whitespace-separated words: 2·matches / total words, in [0, 1]. It is chosen
over token Jaccard because word order matters for generated text ("refund
approved, not denied" against "refund denied, not approved" is 1.0 under
Jaccard), and over a character-level ratio because that is quadratic in
characters and its auto-junk heuristic distorts outputs longer than 200
characters; words keep it cheap and insensitive to whitespace changes.
SequenceMatcher's greedy matching is not symmetric (``a b c a`` against
``b a`` scores 0.33 one way and 0.67 the other), so the score is the higher
of the two directions: the verdict must not depend on which text is "logged".
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

IDENTICAL, SIMILAR, DIFFERENT = "identical", "similar", "different"
NOT_REPLAYABLE, FAILED = "not_replayable", "failed"
VERDICTS = (IDENTICAL, SIMILAR, DIFFERENT, NOT_REPLAYABLE, FAILED)
DEFAULT_SIMILAR = 0.8  # at or above: similar; below: different
_RANK = {IDENTICAL: 0, SIMILAR: 1, DIFFERENT: 2}


def similarity(a: str, b: str) -> float:
    """Word-level SequenceMatcher ratio in [0, 1], symmetric; 1.0 for two empty texts."""
    wa, wb = a.split(), b.split()
    if not wa and not wb:
        return 1.0
    forward = difflib.SequenceMatcher(None, wa, wb, autojunk=False).ratio()
    if forward == 1.0:
        return forward
    return max(forward, difflib.SequenceMatcher(None, wb, wa, autojunk=False).ratio())


@dataclass(frozen=True)
class Fidelity:
    """The verdict over every repeat: the least faithful one, its (lowest)
    score, and how many distinct outputs the repeats gave."""

    verdict: str
    similarity: float
    distinct_outputs: int


def judge_one(logged: str, replayed: str, threshold: float = DEFAULT_SIMILAR) -> tuple[str, float]:
    """Verdict and score of one replayed output against the logged one.

    Identical means the same text (surrounding whitespace aside).
    """
    if logged.strip() == replayed.strip():
        return IDENTICAL, 1.0
    score = similarity(logged, replayed)
    return (SIMILAR if score >= threshold else DIFFERENT), score


def judge(logged: str, outputs: Sequence[str], threshold: float = DEFAULT_SIMILAR) -> Fidelity:
    """Judge every repeat; a replay reproduces the logged output only if every
    repeat does, so the least faithful repeat gives the verdict."""
    if not outputs:
        raise ValueError("no outputs to judge")
    verdicts = [judge_one(logged, out, threshold) for out in outputs]
    verdict = max((v for v, _ in verdicts), key=_RANK.__getitem__)
    score = min(s for _, s in verdicts)
    return Fidelity(verdict, score, len({o.strip() for o in outputs}))


def notes(
    verdict: str,
    logged_fingerprint: str,
    replay_fingerprint: str,
    logged_model: str = "",
    replay_model: str = "",
    distinct_outputs: int = 1,
    repeats: int = 1,
) -> list[str]:
    """One-line explanations shown with a verdict: likely causes of a difference."""
    out: list[str] = []
    if logged_fingerprint and replay_fingerprint and logged_fingerprint != replay_fingerprint:
        cause = " (likely cause)" if verdict in (SIMILAR, DIFFERENT) else ""
        out.append(
            f"system_fingerprint changed: logged {logged_fingerprint}, "
            f"replayed {replay_fingerprint}{cause}"
        )
    if logged_model and replay_model and logged_model != replay_model:
        out.append(f"model differs: logged {logged_model}, replayed on {replay_model}")
    if repeats > 1:
        out.append(f"{distinct_outputs} distinct output(s) in {repeats} repeats")
    return out
