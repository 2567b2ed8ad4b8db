"""What git knows of the project: another revision as a folder (for `builder diff`), and
the commit a release is made from."""

from __future__ import annotations

import io
import re
import subprocess
import tarfile
from pathlib import Path
from typing import Any

from builder.effects import proc, tools
from builder.errors import UsageError

REF = r"[A-Za-z0-9][A-Za-z0-9._/@^~-]{0,199}"


def export(root: Path, ref: str, dest: Path) -> None:
    """Write the tree of git revision ``ref`` of the repository at ``root`` into ``dest``."""
    if not re.fullmatch(REF, ref):
        msg = f"--base {ref!r}: not a git revision name"
        raise UsageError(msg)
    try:
        done = subprocess.run(
            tools.resolve(["git", "-C", str(root), "archive", "--format=tar", f"{ref}^{{tree}}"]),
            capture_output=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        msg = f"--base {ref}: cannot run git archive: {exc}"
        raise UsageError(msg) from None
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()
        msg = f"--base {ref}: {reason[-1] if reason else 'git archive failed'}"
        raise UsageError(msg)
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
        archive.extractall(dest, filter="data")


def recipes_commit(root: Path) -> dict[str, Any]:
    """The git commit of the project, and whether its recipes, conf/ or templates have
    uncommitted changes (a release records both in every manifest)."""
    head = proc.run(["git", "-C", str(root), "rev-parse", "HEAD"], timeout=10)
    status = proc.run(
        ["git", "-C", str(root), "status", "--porcelain", "--", "recipes", "conf", "templates"],
        timeout=10,
    )
    if head.returncode != 0:
        return {"commit": "unknown", "dirty": None}
    return {"commit": head.stdout.strip(), "dirty": bool(status.stdout.strip())}
