"""Scale-out against a one-process release, with a real `transformers serve` for the CPU cell:

- the GitHub workflow round trip: the plan job's command, every cell's job command run in its
  own checkout, the artifacts, then the assemble job's command;
- a release through Hydra's submitit_local launcher, one job per cell;
- a template edit re-renders a served cell without starting its engine again.

Each result is compared with a serial `builder release` of the same project. Outputs may
differ only where a run measures or timestamps something (start/finish times, durations,
the engine's log, and the manifest's hashes of exactly those files); everything else,
release.json, the README table and every rendered file included, must be byte-identical.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from builder.cli import main
from builder.run.pipeline import release
from builder.session import load
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

WORKFLOWS = ROOT / ".github" / "workflows"
RECIPES = ("tiny-llama", "deepseek-r1-distill-qwen-7b")
SERVED = "tiny-llama.cpu.bf16.transformers"
# Files whose bytes legitimately differ between two runs: the tools' own logs, the perf
# sweep and its plot; validation.json, accuracy.json and the card are compared below without
# their measured fields.
MEASURED_FILES = {
    "engine.log",
    "lm-eval.log",
    "perf.json",
    "perf.png",
    "validation.json",
    "accuracy.json",
    "README.md",
}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git checkout of a project with one served cell and nine awaiting a runner."""
    root = tmp_path_factory.mktemp("base")
    for name in ("conf", "templates", "tasks"):
        shutil.copytree(ROOT / name, root / name)
    (root / "recipes").mkdir()
    for name in RECIPES:
        shutil.copy(ROOT / "recipes" / f"{name}.yaml", root / "recipes")
    # One served cell: the GGUF variant's measured speed would differ between the serial
    # and the distributed run (gating apart from the reference: tests/unit/test_judge.py).
    tiny = root / "recipes" / "tiny-llama.yaml"
    tiny.write_text(
        tiny.read_text().replace("quantization: [bf16, gguf-q8_0]", "quantization: [bf16]")
    )
    (root / "README.md").write_text("# Demo\n\n<!-- START:models -->\n<!-- END:models -->\n")
    (root / ".gitignore").write_text("/out/\n/artifacts/\n")
    for args in (["init", "-q"], ["add", "-A"]):
        subprocess.run(["git", "-C", str(root), *args], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(root),
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.org",
            "commit",
            "-qm",
            "base",
        ],
        check=True,
    )
    return root


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generated tiny model shared by every checkout (generation is deterministic)."""
    return tmp_path_factory.mktemp("models")


def checkout(base: Path, dest: Path, models: Path) -> Path:
    """A fresh copy of the repository, as a CI job gets, sharing the generated model."""
    shutil.copytree(base, dest, symlinks=True)
    (dest / "out" / ".cache").mkdir(parents=True)
    (dest / "out" / ".cache" / "models").symlink_to(models)
    return dest


@pytest.fixture(scope="module")
def serial(base: Path, models: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference: one `builder release` in one process."""
    root = checkout(base, tmp_path_factory.mktemp("serial") / "repo", models)
    assert main(["release", "--root", str(root)]) == 0
    return root


def shell_env() -> dict[str, str]:
    """The environment of a CI step: this venv's `builder` first on PATH."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "PATH": path}


def step(workflow: str, job: str, step_id: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / workflow).read_text())
    found = next(s for s in data["jobs"][job]["steps"] if s.get("id") == step_id)
    assert isinstance(found, dict)
    return found


def expand(text: str, matrix: dict[str, Any]) -> str:
    """GitHub's ``${{ matrix.x }}`` substitution; any other expression fails the test."""
    result = re.sub(r"\$\{\{\s*matrix\.([\w-]+)\s*\}\}", lambda m: str(matrix[m.group(1)]), text)
    assert "${{" not in result, f"unexpected expression in {text!r}"
    return result


def run_step(
    found: dict[str, Any], cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-e", "-c", found["run"]],
        cwd=cwd,
        env={**shell_env(), **env},
        capture_output=True,
        text=True,
        check=False,
    )


def upload(out: Path, artifact: Path) -> None:
    """What actions/upload-artifact keeps of ``path: out/``: everything but hidden files."""
    for path in sorted(out.rglob("*")):
        relative = path.relative_to(out)
        if path.is_file() and not any(p.startswith(".") for p in relative.parts):
            (artifact / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, artifact / relative)


def test_github_matrix_jobs_then_assemble_equal_a_serial_release(
    base: Path, models: Path, serial: Path, tmp_path: Path
) -> None:
    planner = checkout(base, tmp_path / "plan", models)
    outputs = tmp_path / "github_output"
    done = run_step(step("release.yml", "plan", "plan"), planner, {"GITHUB_OUTPUT": str(outputs)})
    assert done.returncode == 0, done.stderr
    values = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    count = int(values["shard-count"])
    assert json.loads(values["shards"]) == list(range(count))
    matrix_step = step("build-cells.yml", "matrix", "shard")
    cells = []
    for index in range(count):
        shard_out = tmp_path / f"shard-{index}-output"
        env = {"SHARD": str(index), "SHARDS": str(count), "GITHUB_OUTPUT": str(shard_out)}
        done = run_step(matrix_step, planner, env)
        assert done.returncode == 0, done.stderr
        found = dict(line.split("=", 1) for line in shard_out.read_text().splitlines())
        cells += json.loads(found["matrix"])["include"]
    assert len(cells) == int(values["cells"]) == 10
    artifacts = tmp_path / "assemble" / "artifacts"
    validate = step("build-cells.yml", "cell", "validate")
    # The runners validate in the cell's image; this test starts no Docker daemon, so the
    # same step runs its engine on the host (the image tests cover --runtime container).
    assert "--runtime container" in validate["run"]
    validate = {**validate, "run": validate["run"].replace("--runtime container", "--runtime host")}
    for cell in cells:
        job = checkout(base, tmp_path / "jobs" / cell["id"], models)
        env = {k: expand(v, cell) for k, v in validate["env"].items()}
        done = run_step(validate, job, env)
        assert done.returncode == 0, done.stdout + done.stderr
        upload(job / "out", artifacts / f"cell-{cell['id']}")
    assembler = tmp_path / "assemble"
    shutil.copytree(base, assembler, dirs_exist_ok=True)
    done = run_step(step("release.yml", "assemble", "assemble"), assembler, {})
    assert done.returncode == 0, done.stdout + done.stderr
    assert_same_release(serial, assembler)


def test_submitit_local_release_equals_a_serial_release(
    base: Path, models: Path, serial: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = checkout(base, tmp_path / "repo", models)
    assert main(["release", "--launcher", "submitit_local", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "launching 10 job(s) with hydra/launcher=submitit_local" in out
    assert not (root / "out" / ".jobs").exists() or not any((root / "out" / ".jobs").iterdir())
    assert_same_release(serial, root)


def test_template_edit_rerenders_without_starting_the_engine(serial: Path, tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(serial, root, symlinks=True)
    cell_dir = root / "out" / "tiny-llama" / SERVED
    before = json.loads((cell_dir / "validation.json").read_text())
    with (root / "templates" / "model_card.md.j2").open("a") as handle:
        handle.write("\nEdited card.\n")
    outcomes = release(load(root, []), stage="release", log=print)
    served = next(o for o in outcomes if o.cell.id == SERVED)
    assert served.reused.startswith("validation reused from ")
    after = json.loads((cell_dir / "validation.json").read_text())
    assert after == before, "the engine ran again"
    assert (cell_dir / "README.md").read_text().endswith("\nEdited card.\n")
    # The cells that waited for a runner: the host is checked again, the files re-rendered.
    waiting = [o for o in outcomes if o.validation.status == "awaiting-runner"]
    assert len(waiting) == 9
    assert all(o.reused == "" for o in waiting)


# ------------------------------------------------------------------------------ comparison


def without_measurements(validation: dict[str, Any]) -> dict[str, Any]:
    """validation.json less what depends on the run: times, durations, the free port the
    engine got and the folder the model cache was reached through."""
    data = json.loads(json.dumps(validation))
    for key in ("started_at", "finished_at"):
        data.pop(key, None)
    engine = data.get("engine", {})
    engine.pop("startup_s", None)
    argv = [re.sub(r"^/.*(?=/\.cache/models/)", "<out>", a) for a in engine.get("argv", [])]
    if "--port" in argv:
        argv[argv.index("--port") + 1] = "<port>"
    engine["argv"] = argv
    for suite in data.get("suites", []):
        suite.pop("duration_s", None)
        suite.get("data", {}).get("provenance", {}).pop("date", None)
        if suite["name"] == "perf":  # throughput and latencies are measurements
            suite.pop("data", None)
            for check in suite["checks"]:
                check.pop("detail")
    return data


def index_without_measurements(out: Path) -> dict[str, Any]:
    """release.json less each cell's measured peak throughput (its median and spread)."""
    index: dict[str, Any] = json.loads((out / "release.json").read_text())
    for entry in index["cells"]:
        entry.pop("throughput")
        entry.pop("throughput_spread", None)
    return index


def card_without_measurements(text: str) -> str:
    """The model card less its performance figures (the perf section and perf checks, and the
    variant table's throughput column)."""
    head, _, rest = text.partition("### Performance")
    _, _, tail = rest.partition("### Checks")
    kept = [
        _without_throughput(line) for line in tail.splitlines() if not line.startswith("| perf |")
    ]
    return head + "\n".join(kept)


def _without_throughput(line: str) -> str:
    """A variant table row less its "<chip> peak tok/s" column (the eighth)."""
    cells = line.split(" | ")
    return " | ".join(cells[:7] + cells[8:]) if len(cells) > 8 else line


def cell_dirs(root: Path) -> dict[str, Path]:
    out = root / "out"
    return {
        d.name: d
        for d in sorted(out.glob("*/*"))
        if d.is_dir() and not d.name.startswith(".") and not d.parent.name.startswith(".")
    }


def assert_same_release(expected_root: Path, actual_root: Path) -> None:
    expected, actual = expected_root / "out", actual_root / "out"
    assert index_without_measurements(actual) == index_without_measurements(expected)
    assert (actual_root / "README.md").read_bytes() == (expected_root / "README.md").read_bytes()
    want, got = cell_dirs(expected_root), cell_dirs(actual_root)
    assert sorted(got) == sorted(want)
    statuses = {json.loads((d / "validation.json").read_text())["status"] for d in want.values()}
    assert statuses == {"passed", "awaiting-runner"}
    for cell, folder in want.items():
        other = got[cell]
        assert other.parent.name == folder.parent.name
        names = sorted(p.name for p in folder.iterdir())
        assert sorted(p.name for p in other.iterdir()) == names, cell
        for name in names:
            if name in MEASURED_FILES or name == "manifest.json":
                continue
            assert (other / name).read_bytes() == (folder / name).read_bytes(), f"{cell}/{name}"
        got_validation = json.loads((other / "validation.json").read_text())
        want_validation = json.loads((folder / "validation.json").read_text())
        assert without_measurements(got_validation) == without_measurements(want_validation), cell
        card, other_card = (d / "README.md" for d in (folder, other))
        assert card_without_measurements(other_card.read_text()) == card_without_measurements(
            card.read_text()
        ), cell
        if (folder / "accuracy.json").is_file():
            scores = [
                json.loads((d / "accuracy.json").read_text())["tasks"] for d in (folder, other)
            ]
            assert scores[0] == scores[1], cell
        want_manifest = json.loads((folder / "manifest.json").read_text())
        got_manifest = json.loads((other / "manifest.json").read_text())
        for manifest in (want_manifest, got_manifest):
            for name in MEASURED_FILES & set(manifest["files"]):
                manifest["files"].pop(name)
        assert got_manifest == want_manifest, cell
