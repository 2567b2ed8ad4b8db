"""Hash the files a cell publishes (read once, streamed: weights may be large)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

from builder.core.uploads import LocalFile, release_files
from builder.effects import fs


def hash_file(path: Path, repo_path: str) -> LocalFile:
    size = path.stat().st_size
    # The git blob id hashes a header and then the same bytes: one read serves both.
    sha1 = hashlib.sha1(b"blob %d\0" % size, usedforsecurity=False)
    sha256 = fs.sha256_file(path, sha1)
    return LocalFile(
        path=repo_path, source=str(path), size=size, sha256=sha256, git_sha1=sha1.hexdigest()
    )


def collect(cell_dir: Path, model_dir: Path | None) -> list[LocalFile]:
    """Every file a model repo gets for this cell (weights only when ``model_dir`` is given)."""
    cell_files = [p.name for p in cell_dir.iterdir() if p.is_file()]
    model_files = (
        [p.relative_to(model_dir).as_posix() for p in model_dir.rglob("*") if p.is_file()]
        if model_dir is not None
        else []
    )
    origins = release_files(cell_files, model_files)
    roots: Mapping[str, Path] = {"cell": cell_dir, "model": model_dir or cell_dir}
    files = []
    for repo_path, origin in origins.items():
        kind, _, rel = origin.partition("/")
        files.append(hash_file(roots[kind] / rel, repo_path))
    return files
