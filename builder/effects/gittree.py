"""Read another revision of the project out of git, into a folder (for `builder diff`)."""

from __future__ import annotations

import io
import re
import subprocess
import tarfile
from pathlib import Path

from builder.errors import UsageError

REF = r"[A-Za-z0-9][A-Za-z0-9._/@^~-]{0,199}"


def export(root: Path, ref: str, dest: Path) -> None:
    """Write the tree of git revision ``ref`` of the repository at ``root`` into ``dest``."""
    if not re.fullmatch(REF, ref):
        msg = f"--base {ref!r}: not a git revision name"
        raise UsageError(msg)
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "archive", "--format=tar", f"{ref}^{{tree}}"],
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
