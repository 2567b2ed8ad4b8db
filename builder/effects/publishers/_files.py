"""Hash the files a cell publishes (read once, streamed: weights may be large)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

from builder.core.uploads import LocalFile, release_files


def hash_file(path: Path, repo_path: str) -> LocalFile:
    size = path.stat().st_size
    sha256 = hashlib.sha256()
    sha1 = hashlib.sha1(b"blob %d\0" % size, usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            sha256.update(chunk)
            sha1.update(chunk)
    return LocalFile(
        path=repo_path,
        source=str(path),
        size=size,
        sha256=sha256.hexdigest(),
        git_sha1=sha1.hexdigest(),
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
