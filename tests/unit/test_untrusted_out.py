"""Links planted under out/ (a pull request can commit them) are never followed: render
refuses them with a clear error instead of writing cell folders elsewhere, and recovery
neither renames nor deletes inside a linked folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.cli import main
from builder.effects import fs
from builder.errors import OutputError


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture(autouse=True)
def nothing_trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test session trusts its temporary folders (tests/conftest.py); these tests do not."""
    monkeypatch.delenv(fs.TRUSTED_LINKS_ENV, raising=False)


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A folder outside the project, holding what a killed run would leave (recovery's
    targets) and a file the attacker would like deleted."""
    folder = tmp_path / "elsewhere"
    (folder / ".victim.old").mkdir(parents=True)
    (folder / ".victim.old" / "keep").write_text("keep")
    (folder / ".scratch.tmp").mkdir()
    (folder / ".scratch.tmp" / "keep").write_text("keep")
    (folder / "precious").write_text("precious")
    return folder


@pytest.mark.parametrize("where", ["tiny-llama", ".cache", ".jobs"])
def test_a_linked_folder_under_out_is_refused_in_writing_and_recovery(
    project: Path, elsewhere: Path, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = listing(elsewhere)
    link = project / "out" / where
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(elsewhere, target_is_directory=True)
    code = main(["render", "--root", str(project)])
    err = capsys.readouterr().err
    assert code != 0
    assert "is a symbolic link" in err
    assert "never writes or recovers through links under out/" in err
    assert listing(elsewhere) == before
    assert (elsewhere / "precious").read_text() == "precious"


@pytest.mark.integration  # the first render runs git and hadolint
def test_a_linked_cell_folder_is_refused(
    project: Path, elsewhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", "--root", str(project)]) == 0
    cells = sorted((project / "out" / "tiny-llama").iterdir())
    cell = next(c for c in cells if not c.name.startswith("."))
    import shutil

    shutil.rmtree(cell)
    cell.symlink_to(elsewhere, target_is_directory=True)
    before = listing(elsewhere)
    assert main(["render", "--root", str(project)]) != 0
    assert "is a symbolic link" in capsys.readouterr().err
    assert listing(elsewhere) == before


def test_out_itself_as_a_link_is_refused(
    project: Path, elsewhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "out").symlink_to(elsewhere, target_is_directory=True)
    before = listing(elsewhere)
    assert main(["render", "--root", str(project)]) != 0
    assert "settings.out_dir: 'out' is outside the project root" in capsys.readouterr().err
    assert listing(elsewhere) == before


def test_only_links_into_trusted_folders_are_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared, other = tmp_path / "parent-out" / ".cache", tmp_path / "other"
    shared.mkdir(parents=True)
    other.mkdir()
    out = tmp_path / "job-out"
    out.mkdir()
    (out / ".cache").symlink_to(shared, target_is_directory=True)
    with fs.exclusive_lock(out):
        with pytest.raises(OutputError, match="is a symbolic link"):
            fs.write_atomic(out / ".cache" / "models" / "x", b"x")
        monkeypatch.setenv(fs.TRUSTED_LINKS_ENV, f"/nonexistent:{shared}")
        fs.write_atomic(out / ".cache" / "models" / "x", b"x")
        (out / ".cache").unlink()
        (out / ".cache").symlink_to(other, target_is_directory=True)
        with pytest.raises(OutputError, match="is a symbolic link"):
            fs.write_atomic(out / ".cache" / "models" / "y", b"y")
    assert (shared / "models" / "x").read_bytes() == b"x"
    assert list(other.iterdir()) == []
    # Outside a run's lock (the catalog cache in ~/.cache), links are the user's own.
    fs.write_atomic(out / ".cache" / "z", b"z")
    assert (other / "z").exists()
