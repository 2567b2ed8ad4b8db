"""A full disk, a read-only out/ or a file in its way: a clear error (exit 5), the previous
output intact, and no partial artifacts.

The full and read-only cases use a real tiny tmpfs mounted on out/, so they need root (they
are skipped without it); the blocked case runs everywhere.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.fault_project import README, assert_consistent, make_project, recipe
from tests.integration.test_faults_kill import release

pytestmark = pytest.mark.integration


def awaiting_project(root: Path) -> Path:
    """Cells that wait for runners: no engine starts, so only out/ can fail."""
    chips = "nvidia, ascend, metax"
    return make_project(root, {"far": recipe("ok", root / "model", chips=chips)})


def snapshot(project: Path) -> dict[str, bytes]:
    files = [p for p in sorted(project.rglob("*")) if p.is_file() and p.name != ".lock"]
    return {str(p.relative_to(project)): p.read_bytes() for p in files if "conf" not in p.parts}


@contextlib.contextmanager
def tmpfs(mount_point: Path, size: str) -> Iterator[None]:
    mount_point.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip("mounting a tmpfs needs root")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _write_or_full(fd: int) -> bool:
    try:
        os.write(fd, b"\0" * 4096)
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
        return False
    return True


def fill(folder: Path, leave: int) -> Path:
    """Fill the file system of ``folder``, then free ``leave`` bytes again."""
    ballast = folder / ".ballast"
    with ballast.open("wb", buffering=0) as handle:
        while _write_or_full(handle.fileno()):
            pass
    size = ballast.stat().st_size
    with ballast.open("r+b") as handle:
        handle.truncate(max(0, size - leave))
    return ballast


@pytest.mark.parametrize("free", [0, 8192], ids=["no-byte-free", "a-few-pages-free"])
def test_full_disk_is_a_clear_error_and_keeps_the_old_output(tmp_path: Path, free: int) -> None:
    project = awaiting_project(tmp_path)
    with tmpfs(project / "out", "512k"):
        assert release(project).returncode == 0
        (project / "recipes" / "far.yaml").write_text(
            recipe("ok", tmp_path / "model", chips="nvidia, ascend, metax", description="new")
        )
        (project / "README.md").write_text(README)
        before = snapshot(project)
        ballast = fill(project / "out", leave=free)

        failed = release(project)
        assert failed.returncode == 5, failed.stdout + failed.stderr
        assert "no space left on the device" in failed.stderr
        assert "Traceback" not in failed.stderr
        ballast.unlink()
        assert snapshot(project) == before  # old cells, old index, README untouched
        assert_consistent(project, settled=True)

        assert release(project).returncode == 0
        assert_consistent(project, settled=True)


def test_read_only_out_is_a_clear_error(tmp_path: Path) -> None:
    project = awaiting_project(tmp_path)
    with tmpfs(project / "out", "512k"):
        assert release(project).returncode == 0
        (project / "README.md").write_text(README)
        before = snapshot(project)
        remount = ["mount", "-o", "remount,ro", str(project / "out")]
        subprocess.run(remount, check=True)
        failed = release(project)
        assert failed.returncode == 5, failed.stdout + failed.stderr
        assert "Read-only file system" in failed.stderr
        assert "Traceback" not in failed.stderr
        assert snapshot(project) == before


def test_out_blocked_by_a_file_is_a_clear_error(tmp_path: Path) -> None:
    project = awaiting_project(tmp_path)
    (project / "out").write_text("a file where out/ should be")
    failed = release(project)
    assert failed.returncode == 5, failed.stdout + failed.stderr
    assert "out/.lock: cannot lock" in failed.stderr
    assert (project / "README.md").read_text() == README
