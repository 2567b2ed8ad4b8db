"""Upload plans as data: which files a cell publishes and what each target still needs.

Like huggingface_hub's ``CommitOperation`` list, a plan is made before any I/O and is what
``builder publish --dry-run`` prints. A file is *unchanged* when the target already holds the
same content hash (sha256 for large files, the git blob id for small ones), so an unchanged
release uploads nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

FileState = Literal["new", "changed", "unchanged"]

# Files of the cell's output directory that a model repo carries, and where they go. The
# engine log is left out: it holds host paths and is only useful to whoever ran validation.
CELL_FILES: Mapping[str, str] = {
    "README.md": "README.md",
    "validation.json": "release/validation.json",
    "manifest.json": "release/manifest.json",
    "Dockerfile": "release/Dockerfile",
    "serve.sh": "release/serve.sh",
    "anythingllm.json": "release/anythingllm.json",
}


@dataclass(frozen=True, kw_only=True)
class LocalFile:
    """A file to publish: its path in the repo, where it is read from, and its hashes."""

    path: str
    source: str
    size: int
    sha256: str
    git_sha1: str


@dataclass(frozen=True, kw_only=True)
class RemoteFile:
    """A file a target already holds; a hash the target does not report is empty."""

    path: str
    size: int
    sha256: str = ""
    git_sha1: str = ""


@dataclass(frozen=True, kw_only=True)
class FileOp:
    """One file of a plan and whether the target needs it."""

    file: LocalFile
    state: FileState


@dataclass(frozen=True, kw_only=True)
class UploadPlan:
    """What publishing one cell to one target will do."""

    cell: str
    target: str
    kind: str
    repo: str
    revision: str
    staging: str
    tag: str
    qualified: bool
    ops: tuple[FileOp, ...]
    # Files on the target that this release does not have (reported, never deleted).
    extra: tuple[str, ...] = ()

    @property
    def uploads(self) -> tuple[FileOp, ...]:
        return tuple(op for op in self.ops if op.state != "unchanged")

    @property
    def upload_bytes(self) -> int:
        return sum(op.file.size for op in self.uploads)


def git_blob_sha1(data: bytes) -> str:
    """The id git (and the Hub, for small files) gives a file's content."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def release_files(cell_files: Iterable[str], model_files: Iterable[str]) -> dict[str, str]:
    """Repo path -> origin (``cell/<name>`` or ``model/<relpath>``) for everything published.

    The weights go to the repo root as the model directory holds them (hidden files and
    folders left out); the card is the repo's README.md and replaces one from the model.
    """
    files: dict[str, str] = {}
    for rel in sorted(model_files):
        parts = PurePosixPath(rel).parts
        if not parts or any(p.startswith(".") for p in parts):
            continue
        files[rel] = f"model/{rel}"
    for name in sorted(cell_files):
        if name in CELL_FILES:
            files[CELL_FILES[name]] = f"cell/{name}"
    return files


def same_content(local: LocalFile, remote: RemoteFile) -> bool:
    if remote.sha256:
        return remote.sha256 == local.sha256
    if remote.git_sha1:
        return remote.git_sha1 == local.git_sha1
    return False


def mismatched(plan: UploadPlan, landed: Mapping[str, RemoteFile]) -> list[str]:
    """The files of ``plan`` a target does not hold as they were sent."""
    return [
        op.file.path
        for op in plan.ops
        if op.file.path not in landed or not same_content(op.file, landed[op.file.path])
    ]


def diff(
    local: Sequence[LocalFile], remote: Mapping[str, RemoteFile]
) -> tuple[tuple[FileOp, ...], tuple[str, ...]]:
    """Each local file with its state against ``remote``, and the remote-only paths."""
    ops = []
    for file in sorted(local, key=lambda f: f.path):
        there = remote.get(file.path)
        if there is None:
            state: FileState = "new"
        elif same_content(file, there):
            state = "unchanged"
        else:
            state = "changed"
        ops.append(FileOp(file=file, state=state))
    names = {f.path for f in local}
    return tuple(ops), tuple(sorted(p for p in remote if p not in names))


def content_id(local: Iterable[LocalFile]) -> str:
    """A short hash of a release's whole content: names the staging branch and the tag,
    so an interrupted publish of the same content resumes on the same branch."""
    digest = hashlib.sha256()
    for file in sorted(local, key=lambda f: f.path):
        digest.update(f"{file.path}\0{file.sha256}\n".encode())
    return digest.hexdigest()[:12]


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError  # pragma: no cover


def describe(plan: UploadPlan) -> str:
    """The dry-run text for one plan: a header, one line per file, and a summary."""
    mark = "" if plan.qualified else "  [UNQUALIFIED]"
    staging = f" via {plan.staging}" if plan.staging else ""
    lines = [f"{plan.cell} -> {plan.target}: {plan.repo} @ {plan.revision}{staging}{mark}"]
    width = max((len(human_size(op.file.size)) for op in plan.ops), default=0)
    for op in plan.ops:
        lines.append(f"  {op.state:<9}  {human_size(op.file.size):>{width}}  {op.file.path}")
    for path in plan.extra:
        lines.append(f"  {'extra':<9}  {'':>{width}}  {path} (on the target only; kept)")
    counts = {
        s: sum(1 for op in plan.ops if op.state == s) for s in ("new", "changed", "unchanged")
    }
    summary = ", ".join(f"{n} {s}" for s, n in counts.items())
    lines.append(f"  = {summary}; {human_size(plan.upload_bytes)} to upload")
    return "\n".join(lines) + "\n"
