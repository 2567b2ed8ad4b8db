"""Gates end to end: real lm-eval and the real perf client against planted engines.

``tests/support/sums_server.py`` is an OpenAI-compatible server that does the tiny sums,
exactly (the reference) or wrong on every third fact (a degraded cell). The builder runs its
real suites against both and must fail the degraded cell, say "inconclusive" when the sample is
too small, and refuse a stored baseline whose provenance does not match.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from builder.cli import main
from tests.conftest import ROOT
from tests.support.project import new_project

pytestmark = pytest.mark.integration

SERVER = ROOT / "tests" / "support" / "sums_server.py"
RECIPE = "tiny-gates"
EXACT = f"{RECIPE}.cpu.bf16.exact"
SLOPPY = f"{RECIPE}.cpu.bf16.sloppy"


def fake_engine(name: str, wrong_every: int) -> dict[str, Any]:
    serve = [sys.executable, str(SERVER), "{model}", "--host", "{host}", "--port", "{port}"]
    serve += ["--served-model-name", "{served_model_name}", "--wrong-every", str(wrong_every)]
    return {
        "name": name,
        "display_name": f"sums server ({name})",
        "module": "vllm",
        "package": "none==0",
        "version": "0",
        "serve": serve,
        "prompt_logprobs": False,
        "accepts_ignore_eos": False,
        "formats": ["safetensors"],
        "dtypes": ["bfloat16"],
    }


def make_project(tmp_path: Path, models: Path, *, limit: int | None = None) -> Path:
    new_project(tmp_path, models)
    # An engine is its conf/ file (the chip names a base image for it, below).
    for name, wrong in (("exact", 0), ("sloppy", 3)):
        (tmp_path / "conf" / "engine" / f"{name}.yaml").write_text(
            yaml.safe_dump(fake_engine(name, wrong))
        )
    chip_path = tmp_path / "conf" / "chip" / "cpu.yaml"
    chip = yaml.safe_load(chip_path.read_text())
    chip["base_image"] |= {"exact": "scratch", "sloppy": "scratch"}
    chip_path.write_text(yaml.safe_dump(chip))
    recipe = {
        "model": {"name": "Tiny-Gates", "source": "generate://tiny-llama", "license": "mit"},
        "matrix": {"chip": ["cpu"], "quantization": ["bf16"], "engine": ["exact", "sloppy"]},
        "validate": {
            "reference": {"chip": "cpu", "quantization": "bf16", "engine": "exact"},
            "suites": ["smoke", "accuracy", "perf"],
            "accuracy": {"tasks": ["tiny_arith_gen", "tiny_arith_mc"], "limit": limit},
            "perf": {
                "scenarios": [{"input_len": 8, "output_len": 4}],
                "concurrency": [1, 2],
                "prompts_per_point": 2,
                # Millisecond requests on a shared machine: timing noise, not a regression.
                # These tests gate accuracy; throughput gates have unit tests.
                "min_ratio": 0.0,
            },
        },
        "release": {"org": "Test", "name": "{model}-{engine}"},
    }
    if limit is None:
        del recipe["validate"]["accuracy"]["limit"]  # type: ignore[index]
    (tmp_path / "recipes" / f"{RECIPE}.yaml").write_text(yaml.safe_dump(recipe))
    return tmp_path


def validation(project: Path, cell: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (project / "out" / RECIPE / cell / "validation.json").read_text()
    )
    return data


def set_baseline(project: Path, path: str) -> None:
    recipe_path = project / "recipes" / f"{RECIPE}.yaml"
    recipe = yaml.safe_load(recipe_path.read_text())
    recipe["validate"]["accuracy"]["baseline"] = path
    recipe_path.write_text(yaml.safe_dump(recipe))


def outputs_show_the_failure(project: Path) -> None:
    """The degraded cell's folder, card, the README and the report say what the gate found."""
    cell_dir = project / "out" / RECIPE / SLOPPY
    assert {"accuracy.json", "perf.json", "perf.png", "lm-eval.log"} <= {
        p.name for p in cell_dir.iterdir()
    }
    card = (cell_dir / "README.md").read_text()
    assert "| tiny_arith_gen | exact_match | 100.0% | 67.0% | -33.0% |" in card
    assert "model-index:" in card
    readme = (project / "README.md").read_text()
    assert "❌ failed | -33.0% ❌ fail |" in readme
    assert "reference: 100.0% tiny_arith_gen" in readme
    assert (project / "out" / "report.md").is_file()


def test_degraded_cell_fails_against_this_run_an_earlier_run_and_a_baseline(
    tmp_path: Path, tiny_model_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path, tiny_model_cache)
    assert main(["release", "--root", str(project)]) == 4

    reference = validation(project, EXACT)
    assert reference["status"] == "passed", reference["reason"]
    assert [g["verdict"] for g in reference["gates"]["accuracy"]] == ["reference"]
    degraded = validation(project, SLOPPY)
    assert degraded["status"] == "failed"
    (gate,) = degraded["gates"]["accuracy"]
    assert (gate["task"], gate["verdict"], gate["paired"], gate["n"]) == (
        "tiny_arith_gen",
        "fail",
        True,
        100,
    )
    assert gate["value"] == pytest.approx(0.67)
    assert gate["reference"] == 1.0
    assert "dropped beyond tolerance" in degraded["reason"]
    skipped = {c["name"]: c["detail"] for s in degraded["suites"] for c in s["checks"]}
    assert skipped["tiny_arith_mc"].startswith("skipped: a log-likelihood task")
    assert degraded["gates"]["perf"]["verdict"] == "pass"  # same host: compared (floor 0)
    outputs_show_the_failure(project)

    # A run narrowed to the degraded cell compares with the reference's stored results.
    assert main(["release", "--root", str(project), "engine=sloppy"]) == 4
    again = validation(project, SLOPPY)
    assert again["gates"]["reference"].startswith(f"{EXACT} (earlier run")
    assert again["gates"]["accuracy"][0]["verdict"] == "fail"

    # Without the reference's results, a stored baseline stands in, if its provenance matches.
    assert main(["baseline", "--root", str(project), EXACT]) == 0
    good = f"baselines/{RECIPE}/{EXACT}.json"
    baselines = project / "baselines"
    stored = json.loads((project / good).read_text())
    shutil.rmtree(project / "out" / RECIPE / EXACT)
    tampered = {**stored, "provenance": {**stored["provenance"], "lm_eval_version": "0.4.1"}}
    (baselines / "tampered.json").write_text(json.dumps(tampered))
    set_baseline(project, "baselines/tampered.json")
    assert main(["release", "--root", str(project), "engine=sloppy"]) == 4
    refused = validation(project, SLOPPY)
    assert refused["status"] == "inconclusive"
    assert refused["gates"]["accuracy"][0]["verdict"] == "refused"
    assert "lm_eval_version: baseline has '0.4.1'" in refused["reason"]

    set_baseline(project, good)
    assert main(["release", "--root", str(project), "engine=sloppy"]) == 4
    from_baseline = validation(project, SLOPPY)
    assert from_baseline["gates"]["reference"] == f"baseline {good}"
    assert from_baseline["gates"]["accuracy"][0]["verdict"] == "fail"
    assert from_baseline["gates"]["accuracy"][0]["paired"]
    capsys.readouterr()


def test_too_few_samples_is_inconclusive(
    tmp_path: Path, tiny_model_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path, tiny_model_cache, limit=5)
    assert main(["release", "--root", str(project)]) == 4
    degraded = validation(project, SLOPPY)
    assert degraded["status"] == "inconclusive"
    (gate,) = degraded["gates"]["accuracy"]
    assert gate["verdict"] == "inconclusive"
    assert gate["n"] == 5
    assert gate["needed_n"] > 5
    assert f"about {gate['needed_n']} samples would decide" in degraded["reason"]
    assert "❔ inconclusive" in (project / "README.md").read_text()
    capsys.readouterr()


def test_cells_validated_apart_are_gated_when_assembled(
    tmp_path: Path, tiny_model_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As on CI runners: each cell alone (the degraded one cannot see its reference), then
    `builder assemble` gates the degraded cell against the reference it now has."""
    jobs = {}
    for engine in ("exact", "sloppy"):
        project = make_project(tmp_path / engine, tiny_model_cache)
        main(["validate", "--root", str(project), f"engine={engine}"])
        jobs[engine] = project
    alone = validation(jobs["sloppy"], SLOPPY)
    # No reference on its runner: its gate waits for assemble, and its job does not fail.
    assert alone["status"] == "passed"
    assert alone["gates"]["accuracy"][0]["verdict"] == "pending"
    assembler = make_project(tmp_path / "assemble", tiny_model_cache)
    folders = [str(jobs[e] / "out") for e in ("exact", "sloppy")]
    assert main(["assemble", "--root", str(assembler), *folders]) == 4  # a cell failed
    merged = validation(assembler, SLOPPY)
    assert merged["status"] == "failed"
    assert merged["gates"]["accuracy"][0]["verdict"] == "fail"
    assert merged["gates"]["reference"].startswith(f"{EXACT} (earlier run")
    assert "❌ failed | -33.0% ❌ fail |" in (assembler / "README.md").read_text()
    capsys.readouterr()
