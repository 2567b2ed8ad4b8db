"""Every test SECURITY.md cites exists, so a claim cannot outlive its proof."""

from __future__ import annotations

import ast
import re

from tests.conftest import ROOT

CITATION = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def test_every_cited_test_exists() -> None:
    text = (ROOT / "SECURITY.md").read_text(encoding="utf-8")
    citations = set(CITATION.findall(text))
    assert len(citations) > 30
    missing = []
    for file, name in sorted(citations):
        path = ROOT / file
        tree = ast.parse(path.read_text(encoding="utf-8")) if path.is_file() else None
        names = (
            {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)} if tree else set()
        )
        if name not in names:
            missing.append(f"{file}::{name}")
    assert missing == []
