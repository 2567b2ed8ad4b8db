"""Throwaway projects for tests, made from this repository's own files: the one helper every
test that needs a project on disk uses (the ``project`` fixture in tests/conftest.py is the
common case)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

from tests.conftest import ROOT

README = "# T\n\n<!-- START:models -->\n<!-- END:models -->\n"


def new_project(
    root: Path,
    models: Path | None = None,
    *,
    recipes: Iterable[str] | Mapping[str, str] = (),
    readme: str | None = README,
    tasks: bool = True,
    git: bool = False,
) -> Path:
    """conf/, templates/ (and tasks/) copied into ``root``, and a recipes/ folder.

    ``recipes``: names of this repository's recipes to copy, or name -> recipe text.
    ``models``: a models cache to link in, so the tiny model is generated once a session.
    ``readme``: the README (with the release table's markers), or None for none.
    ``git``: make the project a git repository with one commit (for `builder diff`).
    """
    root.mkdir(parents=True, exist_ok=True)
    for name in ("conf", "templates", *(["tasks"] if tasks else [])):
        shutil.copytree(ROOT / name, root / name)
    (root / "recipes").mkdir()
    if isinstance(recipes, Mapping):
        for name, text in recipes.items():
            (root / "recipes" / f"{name}.yaml").write_text(text)
    else:
        for name in recipes:
            shutil.copy(ROOT / "recipes" / f"{name}.yaml", root / "recipes")
    if readme is not None:
        (root / "README.md").write_text(readme)
    if models is not None:
        (root / "out" / ".cache").mkdir(parents=True)
        (root / "out" / ".cache" / "models").symlink_to(models)
    if git:
        commit(root, "base", init=True)
    return root


def commit(root: Path, message: str, *, init: bool = False) -> None:
    """Commit everything in ``root`` (``init``: make it a repository first)."""
    if init:
        _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", message)


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
    )
    return done.stdout
