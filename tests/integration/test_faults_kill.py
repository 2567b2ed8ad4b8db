"""`kill -9` of a release at named points, two releases at once, and out/ that cannot be
written: nothing half-written is ever visible and the next run completes.

The builder runs as a real subprocess; BUILDER_TEST_KILL_AT makes it SIGKILL itself at a
named point (builder/effects/killpoint.py), so each test kills at a known place.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.fault_project import (
    README,
    alive,
    assert_consistent,
    builder_env,
    cell_dirs,
    make_project,
    recipe,
)

pytestmark = pytest.mark.integration

RECIPES = ("alpha", "beta", "gamma")


def release(project: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "builder", "release", "--root", str(project)],
        capture_output=True,
        text=True,
        env=builder_env(**env),
        timeout=120,
        check=False,
    )


def set_description(project: Path, text: str) -> None:
    """Change every recipe so that every cell's files change on the next run."""
    for name in RECIPES:
        path = project / "recipes" / f"{name}.yaml"
        text_of = recipe(
            "ok", project / "model", chips="cpu, nvidia", description=text, name=f"Fake-{name}"
        )
        path.write_text(text_of)


@pytest.fixture(scope="module")
def released_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with a finished release: three validated cells, three awaiting a runner."""
    root = tmp_path_factory.mktemp("released")
    project = make_project(root, {})
    set_description(project, "first")
    done = release(project)
    assert done.returncode == 0, done.stderr
    return project


@pytest.fixture
def project(released_once: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    shutil.copytree(released_once, copy, symlinks=True)
    set_description(copy, "second")
    (copy / "README.md").write_text(README)  # so that this run writes the table again
    return copy


def cell_texts(project: Path) -> dict[str, str]:
    return {c.name: (c / "README.md").read_text() for c in cell_dirs(project / "out")}


@pytest.mark.parametrize(
    "point",
    [
        "cell-validated:3",  # a cell validated, its files not yet written
        "dir-swap:2",  # the old cell directory moved aside, the new one not yet in place
        "file-written-release.json",  # written to its temporary file, not yet renamed
        "file-written-README.md",  # the README likewise
    ],
)
def test_kill_9_then_rerun_leaves_nothing_half_written(project: Path, point: str) -> None:
    killed = release(project, BUILDER_TEST_KILL_AT=point)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    assert_consistent(project)
    # Every cell is the previous run's or this run's, whole: never a mix of the two.
    for text in cell_texts(project).values():
        assert ("first" in text) != ("second" in text)

    again = release(project)
    assert again.returncode == 0, again.stderr
    assert_consistent(project, settled=True)
    texts = cell_texts(project)
    assert len(texts) == 6
    assert all("second" in text for text in texts.values())
    table = (project / "README.md").read_text()
    assert sum(table.count(f"| Fake-{name} |") for name in RECIPES) == 6


def test_cells_finished_before_a_kill_are_not_redone(project: Path) -> None:
    killed = release(project, BUILDER_TEST_KILL_AT="cell-done:2")
    assert killed.returncode == -signal.SIGKILL
    finished = {
        c: ((c / "validation.json").read_bytes(), (c / "engine.log").read_bytes())
        for c in cell_dirs(project / "out")
        if (c / "engine.log").exists() and "second" in (c / "README.md").read_text()
    }
    assert len(finished) == 1  # cells run in id order: alpha.cpu (validated), alpha.nvidia
    assert release(project).returncode == 0
    for cell, (validation, log) in finished.items():
        # engine.log names the engine's pid, so a rerun cell never has the same log.
        assert (cell / "validation.json").read_bytes() == validation
        assert (cell / "engine.log").read_bytes() == log


def test_second_release_at_once_refuses_and_interleaves_nothing(project: Path) -> None:
    for name in RECIPES:  # a slow engine keeps the first release busy
        path = project / "recipes" / f"{name}.yaml"
        path.write_text(
            path.read_text().replace("tokenizer_revision: ok", "tokenizer_revision: slow")
        )
    first = subprocess.Popen(
        [sys.executable, "-m", "builder", "release", "--root", str(project)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=builder_env(FAKE_ENGINE_DELAY="1"),
    )
    try:
        lock = project / "out" / ".lock"
        deadline = time.monotonic() + 30
        while lock.read_text().strip() != str(first.pid):
            assert time.monotonic() < deadline, "the first release never took the lock"
            assert first.poll() is None, first.communicate()
            time.sleep(0.05)
        second = release(project)
        assert first.poll() is None, "the first release must still be running"
    finally:
        _, err = first.communicate(timeout=120)
    assert second.returncode == 5, second.stderr
    assert f"another release is running (pid {first.pid})" in second.stderr
    assert "[1/" not in second.stdout  # it started no cell
    assert first.returncode == 0, err
    assert_consistent(project, settled=True)
    index = json.loads((project / "out" / "release.json").read_text())
    assert len(index["cells"]) == 6
    assert all("second" in text for text in cell_texts(project).values())


def test_an_engine_left_by_a_killed_builder_is_stopped_by_the_next_run(project: Path) -> None:
    """kill -9 while an engine runs: the engine lives on (its own session), on record under
    out/.engines; the next run stops it before it starts anything."""
    killed = release(project, BUILDER_TEST_KILL_AT="engine-started")
    assert killed.returncode == -9
    [record] = (project / "out" / ".engines").glob("*.json")
    group = json.loads(record.read_text())["group"]
    assert alive(group), "the engine died with the builder: nothing to clean up"
    done = release(project)
    assert done.returncode == 0, done.stderr
    assert "a killed builder left running" in done.stdout
    assert not alive(group)
    assert not list((project / "out" / ".engines").glob("*.json"))
