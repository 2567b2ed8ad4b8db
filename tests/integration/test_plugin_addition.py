"""A chip, an engine and a suite added through their files alone, validated for real: the
engine (the planted sums server) starts, the new suite runs, its declared file is kept in
the cell's folder and through `builder assemble`; a file it does not declare fails the cell
with the conf/ file to fix."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from builder.cli import main
from tests.support.project import new_project
from tests.support.throwaway import CELL, plugins


def test_a_new_suite_keeps_its_file_through_assemble(
    tmp_path: Path, tiny_model_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runner = new_project(tmp_path / "runner", tiny_model_cache)
    with plugins(runner):
        assert main(["validate", "--root", str(runner), "recipe=demo"]) == 0
        cell_dir = runner / "out" / "demo" / CELL
        validation = json.loads((cell_dir / "validation.json").read_text())
        assert validation["status"] == "passed"
        assert [s["name"] for s in validation["suites"]] == ["smoke", "probe"]
        probe = json.loads((cell_dir / "probe.json").read_text())
        assert probe["data"], probe
        artifact = tmp_path / "artifact"
        shutil.copytree(runner / "out" / "demo", artifact / "demo")
    assembler = new_project(tmp_path / "assembler", tiny_model_cache)
    with plugins(assembler):
        assert main(["assemble", str(artifact), "--root", str(assembler)]) == 0
    assembled = assembler / "out" / "demo" / CELL
    assert (assembled / "probe.json").read_bytes() == (cell_dir / "probe.json").read_bytes()
    index = json.loads((assembler / "out" / "release.json").read_text())
    assert {e["id"]: e["status"] for e in index["cells"]}[CELL] == "passed"
    capsys.readouterr()


def test_a_file_the_suite_does_not_declare_fails_the_cell(
    tmp_path: Path, tiny_model_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = new_project(tmp_path / "project", tiny_model_cache)
    with plugins(project, writes="undeclared.json"):
        assert main(["validate", "--root", str(project), "recipe=demo"]) == 4
    validation = json.loads((project / "out" / "demo" / CELL / "validation.json").read_text())
    assert validation["status"] == "failed"
    assert "suite probe wrote undeclared.json" in validation["reason"]
    assert "conf/suite/probe.yaml does not list under files" in validation["reason"]
    assert not (project / "out" / "demo" / CELL / "undeclared.json").exists()
    capsys.readouterr()
