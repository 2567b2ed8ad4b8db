"""The whole pipeline on the tiny model, with a real `transformers serve` process."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from builder.cli import main
from tests.conftest import ROOT
from tests.support.project import new_project

pytestmark = pytest.mark.integration

CELL = "tiny-llama.cpu.bf16.transformers"
GGUF_CELL = "tiny-llama.cpu.gguf-q8_0.transformers"
README = "# Demo\n\n<!-- START:models -->\n<!-- END:models -->\n\nEnd.\n"


@pytest.fixture
def model_cache(tiny_model_cache: Path) -> Path:
    return tiny_model_cache


def make_project(tmp_path: Path, model_cache: Path) -> Path:
    project = new_project(tmp_path, model_cache, readme=README)
    shutil.copy(ROOT / "recipes" / "tiny-llama.yaml", project / "recipes")
    return project


def test_release_end_to_end(
    tmp_path: Path, model_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path, model_cache)
    assert main(["release", "--root", str(project)]) == 0
    cell_dir = project / "out" / "tiny-llama" / CELL
    check_progress_lines(capsys.readouterr().out)

    validation = json.loads((cell_dir / "validation.json").read_text())
    assert validation["status"] == "passed", validation
    checks = {c["name"]: c["passed"] for s in validation["suites"] for c in s["checks"]}
    smoke = ("health", "models", "chat completion", "completion")
    assert {name: checks[name] for name in smoke} == dict.fromkeys(smoke, True)
    assert validation["status"] == "passed"
    assert all(s["passed"] for s in validation["suites"])
    assert validation["engine"]["argv"][:2] == ["transformers", "serve"]

    manifest = json.loads((cell_dir / "manifest.json").read_text())
    on_disk = {p.name for p in cell_dir.iterdir()} - {"manifest.json"}
    assert set(manifest["files"]) == on_disk
    for name, entry in manifest["files"].items():
        assert hashlib.sha256((cell_dir / name).read_bytes()).hexdigest() == entry["sha256"]
    assert manifest["config"]["cell"]["id"] == CELL

    card = (cell_dir / "README.md").read_text()
    assert "| smoke | chat completion | pass |" in card
    index = json.loads((project / "out" / "release.json").read_text())
    assert [(c["id"], c["status"]) for c in index["cells"]] == [
        (CELL, "passed"),
        (GGUF_CELL, "passed"),
    ]
    check_gguf_variant(project / "out" / "tiny-llama" / GGUF_CELL)
    readme = (project / "README.md").read_text()
    assert (
        "| Tiny-Llama | cpu | bf16 | transformers | ✅ passed | reference: 100.0% tiny_arith_gen "
        "| reference | FlagRelease/Tiny-Llama-cpu-FlagOS |" in readme
    )
    assert readme.endswith("<!-- END:models -->\n\nEnd.\n")

    accuracy = json.loads((cell_dir / "accuracy.json").read_text())
    assert accuracy["tasks"]["tiny_arith_gen"]["value"] == 1.0  # the taught sums, served
    assert accuracy["provenance"]["lm_eval_version"]
    perf = json.loads((cell_dir / "perf.json").read_text())
    assert [p["concurrency"] for p in perf["points"]] == [1, 4]
    # Every trial of every point completed all its prompts.
    assert all(p["completed"] == p["num_prompts"] * p["trial_count"] for p in perf["points"])
    assert all(t["completed"] == p["num_prompts"] for p in perf["points"] for t in p["trials"])
    assert "| tiny_arith_gen | exact_match |" in card

    # A second run without changes scores the same samples the same way (greedy, seeded), and
    # leaves the README byte-identical.
    assert main(["release", "--root", str(project)]) == 0
    again = json.loads((cell_dir / "accuracy.json").read_text())
    assert again["tasks"] == accuracy["tasks"]
    assert (project / "README.md").read_text() == readme
    assert not processes_mentioning(str(project)), "an engine outlived its cell"
    capsys.readouterr()


def check_progress_lines(out: str) -> None:
    """Each phase of a cell was shown as it began, on a timestamped line (not a terminal)."""
    lines = [line[9:] for line in out.splitlines() if line[:8].count(":") == 2]
    assert f"[1/2] {CELL}" in lines
    begun = [line.strip().split(":")[0] for line in lines if line.startswith("    ")]
    for phase in ("weights", "engine", "smoke", "accuracy", "perf"):
        assert phase in begun, (phase, out)
    assert "    engine: starting Transformers" in lines
    assert any(line.startswith("index") for line in lines)


def check_gguf_variant(cell_dir: Path) -> None:
    """The Q8_0 variant was made by llama.cpp's converter, validated against the reference,
    and every number about it in its card was measured."""
    validation = json.loads((cell_dir / "validation.json").read_text())
    weights = validation["engine"]["weights"]
    assert "convert_hf_to_gguf" in weights["tool"]
    assert 8.4 < weights["bits_per_weight"] < 8.7  # Q8_0: 8 bits plus a scale per 32
    [(name, meta)] = weights["files"].items()
    assert name == "Tiny-Llama-Q8_0.gguf"
    manifest = json.loads((cell_dir / "manifest.json").read_text())
    assert manifest["weights"]["files"][name]["sha256"] == meta["sha256"]
    gate = validation["gates"]["accuracy"][0]
    assert (gate["task"], gate["verdict"]) == ("tiny_arith_gen", "pass")
    assert validation["gates"]["perf"]["verdict"] == "report-only"  # served dequantized
    card = (cell_dir / "README.md").read_text()
    assert f"| `{name}` | {meta['bytes']:,} | `{meta['sha256']}` |" in card
    row = next(line for line in card.splitlines() if line.startswith("| Tiny-Llama-GGUF-Q8_0 |"))
    assert f"| {weights['bits_per_weight']:.2f} |" in row
    assert "smaller" in row  # the hint, derived from the measured sizes


def processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in args and "pytest" not in args:
            found.append(args)
    return found


def test_engine_that_cannot_start_fails_its_cell(
    tmp_path: Path, model_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path, model_cache)
    broken = "engine.transformers.serve=[sh,-c,'echo engine-boom >&2; exit 3']"
    assert main(["release", "--root", str(project), broken]) == 4
    validation = json.loads((project / "out" / "tiny-llama" / CELL / "validation.json").read_text())
    assert validation["status"] == "failed"
    assert "exited with code 3" in validation["reason"]
    assert "engine-boom" in validation["reason"]
    assert "❌ failed" in (project / "README.md").read_text()
    out, err = capsys.readouterr()
    # Its GGUF variant is served by the same broken command and fails too.
    assert f"2 cell(s) failed: {CELL}, {GGUF_CELL}" in err
    # Each failed cell ends with why, and the file to read.
    assert "why:    engine exited with code 3 before it was healthy" in out
    assert f"read:   out/tiny-llama/{CELL}/engine.log" in out
