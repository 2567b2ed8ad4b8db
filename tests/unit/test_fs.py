"""Atomic output: old or new, never a mix; one release at a time."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.effects import fs
from builder.errors import OutputError


def test_write_dir_atomic_replaces_whole_directory(tmp_path: Path) -> None:
    target = tmp_path / "recipe" / "cell"
    fs.write_dir_atomic(target, {"a": b"1", "b": b"2"}, modes={})
    fs.write_dir_atomic(target, {"a": b"3"}, modes={"a": 0o755})
    assert sorted(p.name for p in target.iterdir()) == ["a"]
    assert (target / "a").read_bytes() == b"3"
    assert (target / "a").stat().st_mode & 0o777 == 0o755
    assert [p.name for p in target.parent.iterdir()] == ["cell"]


def test_recover_restores_a_directory_swapped_out_by_a_killed_run(tmp_path: Path) -> None:
    recipe = tmp_path / "recipe"
    old = recipe / ".cell.old"
    old.mkdir(parents=True)
    (old / "file").write_text("previous good output")
    (recipe / ".cell.x1.tmp").mkdir()
    (recipe / ".cell.x1.tmp" / "file").write_text("half written")
    fs.recover(tmp_path)
    assert (recipe / "cell" / "file").read_text() == "previous good output"
    assert sorted(p.name for p in recipe.iterdir()) == ["cell"]


def test_failed_write_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "release.json"
    target.write_text("old")

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fs.os, "fsync", broken_fsync)
    with pytest.raises(OutputError, match="no space left on the device"):
        fs.write_atomic(target, b"new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["release.json"]


def test_second_release_refuses(tmp_path: Path) -> None:
    with (
        fs.exclusive_lock(tmp_path),
        pytest.raises(OutputError, match="another release is running"),
        fs.exclusive_lock(tmp_path),
    ):
        pass
    with fs.exclusive_lock(tmp_path):
        pass  # released again


def test_unwritable_out_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "out"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(OutputError, match="cannot write"):
        fs.write_atomic(blocker / "release.json", b"{}")
