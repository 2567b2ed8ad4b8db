"""What a fake hub holds (repositories, commits, blobs) and what its routes share."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fakehub.server import FakeHub

LFS_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".model", ".h5", ".onnx")
LFS_THRESHOLD = 10 * 1024 * 1024


def git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Entry:
    size: int
    sha256: str
    git_sha1: str
    lfs: bool


@dataclass
class Repo:
    private: bool
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    commits: dict[str, dict[str, Entry]] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)


Result = tuple[int, Any, dict[str, str] | None]
REPO = r"(?P<repo>[^/]+/[^/]+)"


def not_found(code: str, message: str) -> Result:
    return 404, {"error": message}, {"X-Error-Code": code, "X-Error-Message": message}


def resolve(hub: FakeHub, repo_id: str, revision: str) -> tuple[Repo | None, str | None]:
    repo = hub.repos.get(repo_id)
    if repo is None:
        return None, None
    return repo, repo.branches.get(revision) or repo.tags.get(revision) or (
        revision if revision in repo.commits else None
    )


# ------------------------------------------------------------------- Hugging Face routes


def put_blob(hub: FakeHub, m: re.Match[str], q: dict[str, list[str]], body: bytes) -> Result:
    if hashlib.sha256(body).hexdigest() != m["oid"]:
        return 400, {"error": "sha256 mismatch", "Code": 400}, None
    with hub.lock:
        hub.bytes_received += len(body)
        (hub.blobs / m["oid"]).write_bytes(body)
    return 200, {"Code": 200} if hub.flavor == "ms" else {}, None
