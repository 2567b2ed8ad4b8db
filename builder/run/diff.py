"""What the build cache will do per cell (``plan --explain``) and the matrix difference a
pull request makes (``builder diff``): the comparisons are pure (:mod:`builder.core.keys`);
this module reads the cache records and a base git tree."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from builder.core import keys
from builder.effects import build_cache, gittree
from builder.session import Session, load


def decisions(session: Session) -> dict[str, keys.Decision]:
    """Per cell of the session's plan: build, render only, or cached."""
    return {
        r.id: keys.decide(r.keys, build_cache.load_record(session.cache_dir, r.id))
        for r in session.resolved()
    }


def diff(root: Path, base: str, overrides: Sequence[str]) -> list[keys.CellChange]:
    """Cells added, removed and changed between git ref ``base`` and the working tree, both
    planned with the same overrides."""
    head = [r.keys for r in load(root, overrides).cells.values()]
    with tempfile.TemporaryDirectory(prefix="builder-base-") as tmp:
        base_root = Path(tmp) / "tree"
        gittree.export(root, base, base_root)
        old = [r.keys for r in load(base_root, overrides).cells.values()]
    return keys.compare(old, head)
