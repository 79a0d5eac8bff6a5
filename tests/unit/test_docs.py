"""Documents the code refers to are in the repository (notes on the backends
that were kept outside it once sent readers nowhere)."""

from __future__ import annotations

import re
import subprocess

from tests.conftest import ROOT

# DESIGN.md is the project's design document, kept outside the repository by its
# owners; the references to it are deliberate (reported in issue 17's hand-back).
_OUTSIDE = {"DESIGN.md"}
_MD_REF = re.compile(r"(?<![\w/.-])((?:[\w-]+/)*[\w-]+\.md)\b")


def test_every_markdown_file_named_in_the_repository_exists() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    missing = set()
    for name in tracked:
        path = ROOT / name
        if path.suffix in {".svg", ".json", ".jsonl", ".gz"} or not path.is_file():
            continue
        for ref in _MD_REF.findall(path.read_text(encoding="utf-8", errors="replace")):
            if (
                ref not in _OUTSIDE
                and not (ROOT / ref).is_file()
                and not (path.parent / ref).is_file()
            ):
                missing.add(f"{name}: {ref}")
    assert not missing, sorted(missing)
