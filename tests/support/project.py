"""A throwaway project for integration tests, made from this repository's own files."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import ROOT

README = "# T\n\n<!-- START:models -->\n<!-- END:models -->\n"


def new_project(root: Path, models: Path, *, readme: str = README) -> Path:
    """conf/, templates/ and tasks/ copied in, an empty recipes/, a README with the table's
    markers, and the session's models cache linked in (the tiny model is made once)."""
    for name in ("conf", "templates", "tasks"):
        shutil.copytree(ROOT / name, root / name)
    (root / "recipes").mkdir()
    (root / "README.md").write_text(readme)
    (root / "out" / ".cache").mkdir(parents=True)
    (root / "out" / ".cache" / "models").symlink_to(models)
    return root
