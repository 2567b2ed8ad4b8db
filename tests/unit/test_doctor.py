"""``builder doctor``: the report built from probe results (pure), the probes without a
process, and the command's table and JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from builder.cli import main
from builder.core.catalog_model import Catalog
from builder.core.doctor import CellHere, Probe, report, row, text, version_in
from builder.effects import proc
from builder.run import doctor
from tests.conftest import ROOT

PROBES = [
    Probe(kind="tool", name="hadolint", where="/venv/bin/hadolint", output="Haskell 2.12.0\n"),
    Probe(kind="chip", name="nvidia", where=None, note="nvidia-smi is not on PATH"),
    Probe(kind="engine", name="vllm", where="/venv/bin/vllm", output="0.11.0", expected="0.11.0"),
    Probe(kind="chip", name="cpu", where="", note="cpu: Linux x86_64"),
]


@pytest.mark.parametrize(
    ("output", "version"),
    [
        ("Docker version 27.3.1, build ce12230\n", "27.3.1"),
        ("Haskell Dockerfile Linter 2.12.0-no-git\n", "2.12.0-no-git"),
        ("git version 2.39.5\n", "2.39.5"),
        ("\n5.23.0\n", "5.23.0"),
        ("mmdebstrap unknown\n", "mmdebstrap unknown"),
        ("", ""),
    ],
)
def test_version_in_output(output: str, version: str) -> None:
    assert version_in(output) == version


def test_a_row_notes_a_version_other_than_the_pin() -> None:
    found = row(
        Probe(
            kind="engine", name="transformers", where="/b/t", output="5.24.0\n", expected="5.23.0"
        )
    )
    assert (found.found, found.version, found.where) == (True, "5.24.0", "/b/t")
    assert found.note == "the catalog pins 5.23.0"
    assert (
        row(Probe(kind="engine", name="v", where="/b/v", output="1.0", expected="1.0")).note == ""
    )


def test_a_row_of_something_missing_or_broken_is_not_found() -> None:
    missing = row(Probe(kind="tool", name="git", where=None, note="git is nowhere"))
    assert (missing.found, missing.version, missing.where, missing.note) == (
        False,
        "",
        "",
        "git is nowhere",
    )
    broken = row(
        Probe(
            kind="engine",
            name="sglang",
            where="/usr/bin/python3",
            output="",
            failed="/usr/bin/python3 has no sglang package",
        )
    )
    assert not broken.found
    assert broken.where == "/usr/bin/python3"
    assert broken.note == "/usr/bin/python3 has no sglang package"


def test_the_report_orders_rows_by_kind_and_keeps_the_plan_order() -> None:
    cells = [CellHere(cell="b.cpu", awaiting=""), CellHere(cell="a.nvidia", awaiting="no chip")]
    found = report(
        host="Linux x86_64", python="/venv/bin/python", runtime="host", probes=PROBES, cells=cells
    )
    assert [(r.kind, r.name) for r in found.rows] == [
        ("chip", "cpu"),
        ("chip", "nvidia"),
        ("engine", "vllm"),
        ("tool", "hadolint"),
    ]
    data = found.to_json()
    assert data["schema_version"] == 1
    assert [c["name"] for c in data["chips"]] == ["cpu", "nvidia"]
    assert data["tools"] == [
        {
            "name": "hadolint",
            "found": True,
            "version": "2.12.0",
            "where": "/venv/bin/hadolint",
            "note": "",
        }
    ]
    assert data["quantizers"] == []
    assert data["cells"] == [
        {"cell": "b.cpu", "status": "runs-here", "reason": ""},
        {"cell": "a.nvidia", "status": "awaiting-runner", "reason": "no chip"},
    ]
    assert data["summary"] == {"cells": 2, "runs_here": 1, "awaiting_runner": 1}
    assert "plan_error" not in data
    json.dumps(data)


def test_the_text_has_a_table_of_the_host_and_one_of_the_cells() -> None:
    cells = [CellHere(cell="b.cpu"), CellHere(cell="a.nvidia", awaiting="no NVIDIA chip")]
    lines = text(
        report(host="H", python="/p", runtime="host", probes=PROBES, cells=cells)
    ).splitlines()
    assert lines[0] == "host: H; python: /p; runtime: host"
    assert lines[2].split() == ["KIND", "NAME", "FOUND", "VERSION", "WHERE", "NOTE"]
    assert set(lines[3]) == {"-", " "}  # the rule under the header
    assert lines[4].split()[:5] == ["chip", "cpu", "yes", "-", "-"]
    assert "2 planned cell(s): 1 would run here, 1 would await a runner" in lines
    assert lines[-1].split() == ["a.nvidia", "awaiting", "runner:", "no", "NVIDIA", "chip"]
    assert lines[-2].split() == ["b.cpu", "runs", "here"]


def test_the_text_says_why_no_cell_is_listed() -> None:
    found = report(
        host="H",
        python="/p",
        runtime="host",
        probes=PROBES,
        cells=[],
        plan_error="recipes/x.yaml:1:1: bad",
    )
    assert text(found).endswith("no cell planned: recipes/x.yaml:1:1: bad\n")
    assert found.to_json()["plan_error"] == "recipes/x.yaml:1:1: bad"


def test_probes_of_what_is_absent_start_no_process(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(doctor.tools, "find", lambda name: None)
    nvidia = row(doctor.chip(catalog.chips["nvidia"]))
    assert not nvidia.found
    assert nvidia.note == "nvidia-smi is not beside the builder's Python or on PATH"
    assert row(doctor.chip(catalog.chips["cpu"])).found
    vllm = row(doctor.engine(catalog.engines["vllm"]))
    assert not vllm.found
    assert "pip install 'vllm==0.11.0'" in vllm.note
    assert not row(doctor.tool("hadolint", ["--version"])).found
    assert not row(doctor.dockerd()).found


def test_an_engine_version_is_asked_of_the_python_its_program_runs_with(
    tmp_path: Path, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "transformers"
    script.write_text(f"#!{sys.executable}\n", encoding="utf-8")
    monkeypatch.setattr(doctor.tools, "find", lambda name: str(script))
    asked: list[Sequence[str]] = []

    def fake_run(argv: Sequence[str], *, timeout: float) -> proc.Completed:
        asked.append(argv)
        return proc.Completed(0, "5.23.0\n", "")

    monkeypatch.setattr(doctor.proc, "run", fake_run)
    found = row(doctor.engine(catalog.engines["transformers"]))
    assert (found.found, found.version, found.note) == (True, "5.23.0", "")
    assert asked[0][0] == sys.executable
    assert asked[0][-1] == "transformers"


def test_quantizers_and_lm_eval_are_read_from_the_builder_python(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    versions = {"lm_eval": "0.4.13", "llama-cpp-python": "0.3.36"}
    monkeypatch.setattr(doctor.tools, "installed_version", versions.get)
    lm_eval = row(doctor.lm_eval())
    assert (lm_eval.found, lm_eval.version) == (True, "0.4.13")
    assert lm_eval.where == f"{sys.executable} -m lm_eval"
    gguf = row(doctor.quantizer(catalog.quantizers["gguf"]))
    assert (gguf.found, gguf.version) == (True, "0.3.36")
    compressor = row(doctor.quantizer(catalog.quantizers["llmcompressor"]))
    assert not compressor.found
    assert "its own environment" in compressor.note


def _fixed_probes(monkeypatch: pytest.MonkeyPatch) -> None:
    # The probes start processes (tools' --version): the command is checked without them.
    monkeypatch.setattr(doctor, "probes", lambda catalog: list(PROBES))


def test_doctor_json_lists_every_planned_cell(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _fixed_probes(monkeypatch)
    assert main(["plan", "--root", str(ROOT), "--format", "json"]) == 0
    planned = [c["id"] for c in json.loads(capsys.readouterr().out)["cells"]]
    assert main(["doctor", "--root", str(ROOT), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["schema_version"] == 1
    assert data["runtime"] == "host"
    assert [c["cell"] for c in data["cells"]] == planned
    waiting = {c["cell"]: c["reason"] for c in data["cells"] if c["status"] == "awaiting-runner"}
    assert "no NVIDIA chip on this host" in waiting["qwen3-8b.nvidia.bf16.vllm"]


def test_doctor_table_and_a_selection(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _fixed_probes(monkeypatch)
    code = main(["doctor", "--root", str(ROOT), "recipe=qwen3-8b", "chip=metax"])
    out = capsys.readouterr().out
    assert code == 0
    assert "KIND" in out
    assert "2 planned cell(s): 0 would run here, 2 would await a runner" in out
    assert "qwen3-8b.metax.w8a8.vllm" in out
    assert "tiny-llama" not in out


def test_doctor_reports_the_host_when_a_recipe_is_broken(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _fixed_probes(monkeypatch)
    (project / "recipes" / "broken.yaml").write_text("model: [\n", encoding="utf-8")
    assert main(["doctor", "--root", str(project), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["cells"] == []
    assert "broken.yaml" in data["plan_error"]
    assert data["tools"][0]["name"] == "hadolint"
