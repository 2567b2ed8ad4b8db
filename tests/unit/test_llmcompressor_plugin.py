"""The llm-compressor plugin's pure parts: job document, calibration paths, tool folder, checks.

None of this needs llm-compressor: the one test that runs the plugin end to end gives it a
stand-in "tool environment" whose python writes a checkpoint-shaped folder.
"""

from __future__ import annotations

import ast
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from builder.core.variants import VariantSpec
from builder.effects.quantizers import QuantizeJob, llmcompressor
from builder.errors import QuantizeError
from tests.conftest import ROOT

CONF = yaml.safe_load((ROOT / "conf" / "quantizer" / "llmcompressor.yaml").read_text())
TINY = {"dataset": "calibration/tiny.jsonl", "samples": 8, "max_seq_length": 32}


def spec(args: dict[str, str], calibration: dict[str, Any] | None = None) -> VariantSpec:
    return VariantSpec(
        recipe="tiny-llama",
        quantization=args.get("scheme", "x").lower(),
        method="quantize",
        source="generate://tiny-llama",
        quantizer=dict(CONF),
        args=args,
        calibration=dict(TINY if calibration is None else calibration),
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "calibration").mkdir()
    (tmp_path / "calibration" / "tiny.jsonl").write_text('{"text": "3+4=7"}\n')
    return tmp_path


def document(project: Path, args: dict[str, str], **calibration: Any) -> dict[str, Any]:
    chosen = {**TINY, **calibration} if calibration else None
    return llmcompressor.job_document(spec(args, chosen), Path("/src"), Path("/out"), project)


def test_w8a8_smooths_then_gptq_on_every_linear_but_the_head(project: Path) -> None:
    doc = document(project, {"scheme": "W8A8", "algorithm": "smoothquant+gptq"})
    layers = {"scheme": "W8A8", "targets": "Linear", "ignore": ["lm_head"]}
    assert doc["modifiers"] == [
        {"type": "SmoothQuantModifier", "args": {"smoothing_strength": 0.8}},
        {"type": "GPTQModifier", "args": layers},
    ]
    assert (doc["source_dir"], doc["out_dir"], doc["dtype"]) == ("/src", "/out", "auto")
    assert doc["calibration"] == {
        "jsonl": str((project / "calibration" / "tiny.jsonl").resolve()),
        "samples": 8,
        "max_seq_length": 32,
    }
    assert json.loads(json.dumps(doc)) == doc  # plain JSON: the tool side reads it back


def test_w4a16_is_gptq_alone_and_the_algorithm_defaults_per_scheme(project: Path) -> None:
    doc = document(project, {"scheme": "W4A16"})
    assert doc["algorithm"] == "gptq"
    assert [m["type"] for m in doc["modifiers"]] == ["GPTQModifier"]
    assert doc["modifiers"][0]["args"]["scheme"] == "W4A16"


def test_fp8_dynamic_needs_no_calibration(project: Path) -> None:
    doc = llmcompressor.job_document(
        spec({"scheme": "FP8_DYNAMIC"}, {}), Path("/src"), Path("/out"), project
    )
    assert doc["calibration"] is None
    assert doc["modifiers"] == [
        {
            "type": "QuantizationModifier",
            "args": {"scheme": "FP8_DYNAMIC", "targets": "Linear", "ignore": ["lm_head"]},
        }
    ]


def test_hub_calibration_names_the_dataset(project: Path) -> None:
    doc = document(
        project, {"scheme": "W4A16"}, dataset="huggingface://HuggingFaceH4/ultrachat_200k"
    )
    assert doc["calibration"]["huggingface"] == "HuggingFaceH4/ultrachat_200k"


@pytest.mark.parametrize(
    "dataset", ["huggingface://ultrachat", "huggingface://a/b/c", "s3://bucket/x.jsonl"]
)
def test_malformed_calibration_datasets_are_refused(project: Path, dataset: str) -> None:
    with pytest.raises(QuantizeError, match=r"is not calibration/<file>\.jsonl nor"):
        document(project, {"scheme": "W4A16"}, dataset=dataset)


def test_calibration_outside_the_calibration_folder_is_refused(project: Path) -> None:
    (project / "secret.jsonl").write_text('{"text": "x"}\n')
    with pytest.raises(QuantizeError, match="outside"):
        document(project, {"scheme": "W4A16"}, dataset="calibration/../secret.jsonl")
    # A link inside calibration/ that leads out is refused too (the resolved path counts).
    (project / "calibration" / "link.jsonl").symlink_to(project / "secret.jsonl")
    with pytest.raises(QuantizeError, match="outside"):
        document(project, {"scheme": "W4A16"}, dataset="calibration/link.jsonl")


def test_missing_calibration_file_is_named(project: Path) -> None:
    with pytest.raises(QuantizeError, match=r"calibration/nope\.jsonl does not exist"):
        document(project, {"scheme": "W4A16"}, dataset="calibration/nope.jsonl")


def test_calibrating_algorithms_without_calibration_say_what_to_set(project: Path) -> None:
    with pytest.raises(QuantizeError, match=r"gptq needs calibration data: set variants\.w4a16"):
        llmcompressor.job_document(spec({"scheme": "W4A16"}, {}), Path("/s"), Path("/o"), project)


def test_unknown_scheme_names_the_valid_ones(project: Path) -> None:
    with pytest.raises(QuantizeError, match="'W3A3' is not one of W8A8, W4A16, FP8_DYNAMIC"):
        document(project, {"scheme": "W3A3"})


def test_algorithm_that_cannot_make_the_scheme_names_the_valid_ones(project: Path) -> None:
    with pytest.raises(QuantizeError, match="'awq' cannot make W8A8; use one of smoothquant"):
        document(project, {"scheme": "W8A8", "algorithm": "awq"})
    with pytest.raises(QuantizeError, match="use one of rtn"):
        document(project, {"scheme": "FP8_DYNAMIC", "algorithm": "gptq"})


def test_tool_environment_is_keyed_by_its_requirements(tmp_path: Path) -> None:
    reqs = list(CONF["requirements"])
    home = llmcompressor.venv_dir(tmp_path, reqs)
    assert home.parent == tmp_path
    assert home.name.startswith("llmcompressor-")
    assert llmcompressor.venv_dir(tmp_path, list(reqs)) == home
    assert llmcompressor.venv_dir(tmp_path, [*reqs[:-1], "datasets==4.0.0"]) != home


def test_the_job_script_imports_nothing_of_the_builder() -> None:
    """It runs in the tool environment, where the builder is not installed."""
    tree = ast.parse(llmcompressor.JOB_SCRIPT.read_text())
    modules = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    modules |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    allowed = {"__future__", "json", "os", "sys", "pathlib", "typing", "datasets", "transformers"}
    outside = {m for m in modules if m.split(".")[0] not in {*allowed, "llmcompressor"}}
    assert outside == set()


# A stand-in for the tool environment's python: writes what a compressed-tensors run writes.
FAKE_PYTHON = """#!{python}
import json, sys
from pathlib import Path
assert sys.argv[1] == "-I", sys.argv  # the plugin's folder must not shadow llmcompressor
doc = json.loads(Path(sys.argv[-1]).read_text())
out = Path(doc["out_dir"])
config = {{"quantization_config": {{"quant_method": "compressed-tensors"}}}}
(out / "config.json").write_text(json.dumps(config))
(out / "model.safetensors").write_bytes(b"")
(out / "model.safetensors").chmod(0o600)
"""


def fake_job(tmp_path: Path, project: Path, args: dict[str, str], log: list[str]) -> QuantizeJob:
    folders = {n: tmp_path / n for n in ("src", "out", "work", "tools")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    return QuantizeJob(
        spec=spec(args),
        source_dir=folders["src"],
        out_dir=folders["out"],
        work_dir=folders["work"],
        tools_dir=folders["tools"],
        project_root=project,
        env=dict(os.environ),
        timeout_s=60,
        log=log.append,
    )


@pytest.mark.integration
def test_quantize_runs_the_job_script_with_the_tool_python(tmp_path: Path, project: Path) -> None:
    log: list[str] = []
    job = fake_job(tmp_path / "run", project, {"scheme": "W4A16"}, log)
    home = llmcompressor.venv_dir(job.tools_dir, CONF["requirements"])
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "python").write_text(FAKE_PYTHON.format(python=sys.executable))
    (home / "bin" / "python").chmod(0o755)
    (home / llmcompressor.MARKER).write_text("{}")  # complete: nothing is installed
    produced = llmcompressor.quantize(job)
    assert produced.tool == "llmcompressor 0.14.0.1 (W4A16)"
    [command] = produced.commands
    assert command[:3] == [str(home / "bin" / "python"), "-I", str(llmcompressor.JOB_SCRIPT)]
    # Readable by a container running as another user.
    assert (job.out_dir / "model.safetensors").stat().st_mode & 0o777 == 0o644


def test_quantize_refuses_a_bad_scheme_before_making_any_environment(
    tmp_path: Path, project: Path
) -> None:
    job = fake_job(tmp_path, project, {"scheme": "INT2"}, [])
    with pytest.raises(QuantizeError, match="not one of"):
        llmcompressor.quantize(job)
    assert list(job.tools_dir.iterdir()) == []


def test_a_run_that_writes_no_checkpoint_fails(tmp_path: Path, project: Path) -> None:
    with pytest.raises(QuantizeError, match=r"no readable config\.json"):
        llmcompressor._check_output(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(QuantizeError, match="not a compressed-tensors checkpoint"):
        llmcompressor._check_output(tmp_path)
