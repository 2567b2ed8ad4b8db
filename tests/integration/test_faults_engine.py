"""Engines that crash, hang or leave a process on their port fail their own cell only.

Each fault runs in a real fake engine process (tests/integration/fake_engine.py) through the
whole release pipeline; afterwards the cause and the engine's last log lines are in the
cell's validation.json, every process the engine started is gone, and the cell's files,
log and manifest are kept for diagnosis.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from builder.cli import main
from builder.effects.engine_runtime import port_in_use
from tests.integration.fault_project import alive, assert_consistent, make_project, recipe

pytestmark = pytest.mark.integration

# mode -> what validation.json's reason must say (the cause, then the engine's own words)
FAULTS = {
    "crash-start": r"exited with code 7 before it was healthy(.|\n)*no accelerator device found",
    "crash-mid": r"exited with code 134 during validation(.|\n)*illegal memory access",
    "hang": r"not healthy at http://127\.0\.0\.1:\d+/health after 3s(.|\n)*loading weights",
    "orphan-port": r"exited with code 3 during validation(.|\n)*its worker keeps the port",
}


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One release of five cells: a healthy engine and one per fault."""
    root = tmp_path_factory.mktemp("faults")
    modes = ["ok", *FAULTS]
    project = make_project(
        root, {f"m-{m}": recipe(m, root / "model", name=f"Fake-{m}") for m in modes}
    )
    code = main(["release", "--root", str(project), "settings.startup_timeout_s=3"])
    assert code == 4  # some cells failed validation; the run itself finished
    return project


def cell_dir(project: Path, mode: str) -> Path:
    return project / "out" / f"m-{mode}" / f"m-{mode}.cpu.bf16.vllm"


def test_healthy_cell_goes_on_and_passes(released: Path) -> None:
    validation = json.loads((cell_dir(released, "ok") / "validation.json").read_text())
    assert validation["status"] == "passed", validation["reason"]
    index = json.loads((released / "out" / "release.json").read_text())
    statuses = {e["id"]: e["status"] for e in index["cells"]}
    assert statuses == {
        f"m-{m}.cpu.bf16.vllm": "passed" if m == "ok" else "failed" for m in ["ok", *FAULTS]
    }


@pytest.mark.parametrize("mode", FAULTS)
def test_fault_fails_the_cell_with_its_cause_and_log(released: Path, mode: str) -> None:
    validation = json.loads((cell_dir(released, mode) / "validation.json").read_text())
    assert validation["status"] == "failed"
    assert re.search(FAULTS[mode], validation["reason"]), validation["reason"]


@pytest.mark.parametrize("mode", ["ok", *FAULTS])
def test_every_engine_process_and_port_is_gone(released: Path, mode: str) -> None:
    log = (cell_dir(released, mode) / "engine.log").read_text()
    pids = [int(p) for p in re.findall(r"(?:fake engine|worker) pid (\d+)", log)]
    assert pids, log
    assert len(pids) == (2 if mode == "orphan-port" else 1)
    assert [p for p in pids if alive(p)] == []
    validation = json.loads((cell_dir(released, mode) / "validation.json").read_text())
    argv = validation["engine"].get("argv") or []
    if argv:  # the port the engine ran on is free again
        assert not port_in_use(int(argv[argv.index("--port") + 1]))


@pytest.mark.parametrize("mode", FAULTS)
def test_failed_cell_keeps_results_log_and_manifest(released: Path, mode: str) -> None:
    cell = cell_dir(released, mode)
    assert {p.name for p in cell.iterdir()} >= {"validation.json", "engine.log", "manifest.json"}
    manifest = json.loads((cell / "manifest.json").read_text())
    assert {"validation.json", "engine.log"} <= set(manifest["files"])
    assert_consistent(released, settled=True)
    if mode == "crash-mid":  # the checks that ran before the crash are kept too
        validation = json.loads((cell / "validation.json").read_text())
        checks = {c["name"]: c["passed"] for s in validation["suites"] for c in s["checks"]}
        assert checks["health"] is True
        assert checks["models"] is False
