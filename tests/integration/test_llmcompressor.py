"""A real llm-compressor run on the tiny model: W8A8, W4A16 and FP8 dynamic checkpoints, checked
byte-wise and loaded back on the CPU (`nox -s llmcompressor`; skipped elsewhere).

The tool environment (torch, llm-compressor and its own transformers: about 1.5 GB) is made
once under the tools folder (LLMRB_TOOLS_DIR, else ~/.cache/llm-release-builder/tools) and
kept, so a rerun only quantizes. The tiny model is float32 with 128-wide layers: GPTQ's
default group of 128 columns fits it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from safetensors import safe_open

from builder.core.variants import VariantSpec
from builder.effects.quantizers import QuantizeJob, llmcompressor
from builder.effects.tinymodel import generate_tiny_llama, sum_facts
from builder.effects.variants import default_tools_dir
from tests.conftest import ROOT

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        os.environ.get("LLMRB_LLMCOMPRESSOR") != "1",
        reason="makes a 1.5 GB llm-compressor environment: set LLMRB_LLMCOMPRESSOR=1 "
        "(`nox -s llmcompressor` does)",
    ),
]

CONF = yaml.safe_load((ROOT / "conf" / "quantizer" / "llmcompressor.yaml").read_text())
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
# scheme -> (catalog args, weight bits, safetensors dtype of the quantized Linear weights)
SCHEMES = {
    "W8A8": ({"scheme": "W8A8", "algorithm": "smoothquant+gptq"}, 8, "I8"),
    # Eight 4-bit values packed in each int32 (compressed-tensors' pack-quantized format).
    "W4A16": ({"scheme": "W4A16", "algorithm": "gptq"}, 4, "I32"),
    # Not in the catalog (fp8 there is prequantized), but the plugin makes it, with no data.
    "FP8_DYNAMIC": ({"scheme": "FP8_DYNAMIC"}, 8, "F8_E4M3"),
}
# Greedy answers of a model folder to the hundred sums, run in the tool environment: its
# transformers loads compressed-tensors checkpoints and decompresses them to dense weights.
ANSWERS = """
import json, sys
from transformers import AutoModelForCausalLM, AutoTokenizer
tok = AutoTokenizer.from_pretrained(sys.argv[2])
model = AutoModelForCausalLM.from_pretrained(sys.argv[2])
answers = []
for prompt in json.loads(sys.argv[1]):
    ids = tok(prompt, return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=4, do_sample=False)
    answers.append(tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True))
print(json.dumps(answers))
"""


@dataclass(frozen=True)
class Run:
    scheme: str
    out: Path
    seconds: float


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model: the release's cached copy when there is one (generating takes ~20 s)."""
    dest = tmp_path_factory.mktemp("models") / "tiny-llama"
    cached = ROOT / "out" / ".cache" / "models" / "tiny-llama-seed0"
    if (cached / "model.safetensors").is_file():
        shutil.copytree(cached, dest)
    else:
        generate_tiny_llama(dest, seed=0)
    return dest


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project")
    (root / "calibration").mkdir()
    lines = [json.dumps({"text": prompt + answer}) for prompt, answer in sum_facts()]
    (root / "calibration" / "tiny.jsonl").write_text("\n".join(lines) + "\n")
    return root


def new_job(root: Path, source: Path, project: Path, args: dict[str, str]) -> QuantizeJob:
    (root / "out").mkdir(parents=True)
    (root / "work").mkdir()
    return QuantizeJob(
        spec=VariantSpec(
            recipe="tiny-llama",
            quantization=args["scheme"].lower(),
            method="quantize",
            source="generate://tiny-llama",
            quantizer=dict(CONF),
            args=args,
            calibration={"dataset": "calibration/tiny.jsonl", "samples": 100, "max_seq_length": 32},
        ),
        source_dir=source,
        out_dir=root / "out",
        work_dir=root / "work",
        tools_dir=default_tools_dir(),
        project_root=project,
        env=ENV,
        # Making the environment downloads torch and llm-compressor when pip has no cache.
        timeout_s=3600,
        log=print,
    )


@pytest.fixture(scope="module")
def tool_python(tmp_path_factory: pytest.TempPathFactory, source: Path, project: Path) -> Path:
    job = new_job(tmp_path_factory.mktemp("venv"), source, project, SCHEMES["W8A8"][0])
    started = time.monotonic()
    python = llmcompressor.tool_python(job)
    print(f"\nllmcompressor tool environment ready in {time.monotonic() - started:.1f}s")
    return python


@pytest.fixture(scope="module", params=sorted(SCHEMES))
def run(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    tool_python: Path,
    source: Path,
    project: Path,
) -> Run:
    scheme = str(request.param)
    job = new_job(tmp_path_factory.mktemp(scheme), source, project, SCHEMES[scheme][0])
    started = time.monotonic()
    produced = llmcompressor.quantize(job)
    seconds = time.monotonic() - started
    assert produced.tool == f"llmcompressor {CONF['version']} ({scheme})"
    print(
        f"\n{scheme}: quantized in {seconds:.1f}s; weights {weight_bytes(job.out_dir):,} bytes "
        f"(source {weight_bytes(source):,})"
    )
    return Run(scheme, job.out_dir, seconds)


def weight_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("*.safetensors"))


def tensors(folder: Path) -> dict[str, tuple[str, list[int]]]:
    """name -> (dtype, shape) of every tensor, from the safetensors headers."""
    found = {}
    for path in folder.glob("*.safetensors"):
        with safe_open(str(path), framework="pt") as f:
            for name in f.keys():  # noqa: SIM118 -- safe_open has keys(), not iteration
                part = f.get_slice(name)
                found[name] = (part.get_dtype(), list(part.get_shape()))
    return found


def test_config_says_compressed_tensors_with_the_schemes_bits(run: Run) -> None:
    quant: dict[str, Any] = json.loads((run.out / "config.json").read_text())["quantization_config"]
    assert quant["quant_method"] == "compressed-tensors"
    [group] = quant["config_groups"].values()
    assert group["weights"]["num_bits"] == SCHEMES[run.scheme][1]
    assert quant["ignore"] == ["lm_head"]


def test_linear_weights_are_stored_as_integers(run: Run) -> None:
    found = tensors(run.out)
    dtype = SCHEMES[run.scheme][2]
    name = "weight_packed" if run.scheme == "W4A16" else "weight"
    quantized = {k: v for k, v in found.items() if k.endswith(f"_proj.{name}")}
    assert len(quantized) == 2 * 7  # q k v o gate up down, in both layers
    assert {v[0] for v in quantized.values()} == {dtype}
    if run.scheme == "W4A16":  # eight values per int32: a 128-wide row is 16 words
        assert found["model.layers.0.self_attn.q_proj.weight_packed"][1] == [128, 16]
    assert found["lm_head.weight"][0] == "F32"  # ignored: left as the source had it
    assert all(f"{k.rsplit('.', 1)[0]}.weight_scale" in found for k in quantized)


def test_tokenizer_is_saved_beside_the_weights(run: Run) -> None:
    for name in ("tokenizer.json", "tokenizer_config.json"):
        assert (run.out / name).is_file(), name


PROMPTS = [prompt for prompt, _ in sum_facts()]


def answers(tool_python: Path, folder: Path) -> list[str]:
    done = subprocess.run(
        [str(tool_python), "-I", "-c", ANSWERS, json.dumps(PROMPTS), str(folder)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found: list[str] = json.loads(done.stdout.splitlines()[-1])
    return found


@pytest.fixture(scope="module")
def source_answers(tool_python: Path, source: Path) -> list[str]:
    """The source's answers, in the same environment as the checkpoints' (same transformers)."""
    return answers(tool_python, source)


def test_checkpoint_loads_on_the_cpu_and_answers_like_the_source(
    run: Run, tool_python: Path, source_answers: list[str]
) -> None:
    before, after = source_answers, answers(tool_python, run.out)
    same = sum(a == b for a, b in zip(before, after, strict=True))
    print(f"\n{run.scheme}: {same}/100 greedy answers as the source's")
    # Quantization may flip a borderline sum or two; a broken checkpoint answers garbage.
    assert same >= 95, list(zip(PROMPTS, before, after, strict=True))
