"""The compiled llama.cpp path on the tiny model: Q4_K_M made by llama.cpp's own
llama_model_quantize, and every GGUF file served natively by llama_cpp.server beside the
transformers cells (`nox -s llamacpp`; skipped elsewhere).

llama-cpp-python has no CPU wheel on PyPI: installing it compiles llama.cpp (about 18.5
minutes on 2 cores), so the default test suite runs without it and proves the GGUF variants
through transformers' dequantizing reader only. This module runs one release of four cells
(bf16 and Q8_0 on transformers, Q8_0 and Q4_K_M on llama.cpp) and checks what only the
compiled path can show.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from gguf import GGMLQuantizationType, GGUFReader, LlamaFileType

from builder.cli import main
from builder.core.model import PerfScenario
from builder.effects.suites import perf
from builder.effects.tinymodel import sum_facts
from tests.conftest import ROOT
from tests.support.project import new_project

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        os.environ.get("LLMRB_LLAMACPP") != "1",
        reason="needs llama-cpp-python, which compiles llama.cpp on install (about 18 minutes): "
        "set LLMRB_LLAMACPP=1 where it is installed (`nox -s llamacpp` does both)",
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("llama_cpp") is None,
        reason="llama_cpp is not importable: pip install 'llama-cpp-python[server]==0.3.36' "
        "(`nox -s llamacpp` does)",
    ),
]

REFERENCE = "tiny-llama.cpu.bf16.transformers"
Q8_TRANSFORMERS = "tiny-llama.cpu.gguf-q8_0.transformers"
Q8_LLAMACPP = "tiny-llama.cpu.gguf-q8_0.llamacpp"
Q4_LLAMACPP = "tiny-llama.cpu.gguf-q4_k_m.llamacpp"
Q4_FILE = "Tiny-Llama-Q4_K_M.gguf"


@dataclass(frozen=True)
class Release:
    project: Path
    code: int

    def cell(self, cell_id: str) -> Path:
        return self.project / "out" / "tiny-llama" / cell_id

    def validation(self, cell_id: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.cell(cell_id) / "validation.json").read_text())
        return data

    def accuracy(self, cell_id: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.cell(cell_id) / "accuracy.json").read_text())
        return data


def sums(scenario: PerfScenario, count: int, seed: int = 0) -> list[str]:
    """Perf prompts the tiny model answers: the taught sums, in a seeded order."""
    facts = [prompt for prompt, _ in sum_facts()]
    random.Random(seed).shuffle(facts)
    return [facts[i % len(facts)] for i in range(count)]


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory, tiny_model_cache: Path) -> Release:
    """One release of the four cells; every test below reads its output."""
    project = new_project(tmp_path_factory.mktemp("llamacpp"), tiny_model_cache)
    recipe = yaml.safe_load((ROOT / "recipes" / "tiny-llama.yaml").read_text())
    # The catalogs drop bf16 on llama.cpp (GGUF only) and Q4_K_M on transformers (not in its
    # catalog entry): four cells remain.
    recipe["matrix"]["quantization"] = ["bf16", "gguf-q8_0", "gguf-q4_k_m"]
    recipe["matrix"]["engine"] = ["transformers", "llamacpp"]
    # Q8_0 is released by both engines: the names must differ.
    recipe["release"]["name"] = "{model}{quant_suffix}-{chip}-{engine}"
    # The reference is another engine and the answers are one or two tokens long: on two
    # shared cores the ratio swings (0.79x to 14x at one point); the gate here only guards
    # against a collapse, the figures are reported.
    recipe["validate"]["perf"]["min_ratio"] = 0.2
    (project / "recipes" / "tiny-llama.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    with pytest.MonkeyPatch.context() as patch:
        # The tiny model knows only the sums. Asked perf's random words it ends its turn at
        # once, and llama.cpp then streams no token at all, so there is nothing to time.
        # Asked sums, both engines generate real tokens (every cell gets the same prompts).
        patch.setattr(perf, "prompts", sums)
        code = main(["release", "--root", str(project)])
    if not (project / "out" / "release.json").is_file():
        pytest.fail(f"the release stopped with exit code {code} before judging any cell")
    return Release(project=project, code=code)


def test_every_cell_passes(release: Release) -> None:
    index = json.loads((release.project / "out" / "release.json").read_text())
    statuses = {c["id"]: c["status"] for c in index["cells"]}
    reasons = {c: release.validation(c)["reason"] for c in statuses}
    assert statuses == dict.fromkeys(
        (REFERENCE, Q8_LLAMACPP, Q8_TRANSFORMERS, Q4_LLAMACPP), "passed"
    ), reasons
    assert release.code == 0


def test_q4_k_m_is_made_by_llama_model_quantize(release: Release) -> None:
    weights = release.validation(Q4_LLAMACPP)["engine"]["weights"]
    # The converter writes f16, then llama.cpp's compiled quantizer makes the k-quants.
    assert "--outtype f16" in weights["tool"]
    assert "llama_model_quantize q4_k_m (llama-cpp-python 0.3.36)" in weights["tool"]
    assert list(weights["files"]) == [Q4_FILE]
    path = release.project / "out" / ".cache" / "variants" / weights["key"] / "weights" / Q4_FILE
    reader = GGUFReader(path)
    file_type = reader.fields["general.file_type"]
    assert int(file_type.parts[-1][0]) == LlamaFileType.MOSTLY_Q4_K_M
    types = {t.name: t.tensor_type for t in reader.tensors}
    # K-quant super-blocks are 256 values wide and most of the tiny model's rows are 128:
    # llama.cpp then falls back, by its own rules, to a 32-wide type of at least as many bits
    # (Q4_K -> Q5_0; the Q6_K that Q4_K_M gives output.weight and some attn_v -> Q8_0). Only
    # ffn_down's rows are 256 wide: they get the real k-quants, Q4_K and the Q6_K Q4_K_M
    # gives half of the ffn_down tensors. The norms stay F32.
    assert types["blk.0.ffn_down.weight"] == GGMLQuantizationType.Q4_K
    assert types["blk.1.ffn_down.weight"] == GGMLQuantizationType.Q6_K
    assert types["output.weight"] == GGMLQuantizationType.Q8_0
    assert types["blk.0.attn_q.weight"] == GGMLQuantizationType.Q5_0
    # So the measured bits per weight (tensor bytes over the source's parameters) sit between
    # Q5_0's 5.5 and Q8_0's 8.5 (6.27 here), not at Q4_K_M's usual 4.8 or so, and the file is
    # still smaller than the Q8_0 one.
    q8 = release.validation(Q8_LLAMACPP)["engine"]["weights"]
    assert 5.5 < weights["bits_per_weight"] < q8["bits_per_weight"]
    assert weights["bytes"] < q8["bytes"]


def test_llama_cpp_serves_the_gguf_file_itself(release: Release) -> None:
    for cell_id, name in ((Q4_LLAMACPP, Q4_FILE), (Q8_LLAMACPP, "Tiny-Llama-Q8_0.gguf")):
        engine = release.validation(cell_id)["engine"]
        argv = engine["argv"]
        assert argv[1:3] == ["-m", "llama_cpp.server"]
        model = Path(argv[argv.index("--model") + 1])
        # The file itself, not the dequantized folder the transformers cells get.
        assert model.name == name
        assert model.parent.name == "weights"
        assert "served_as" not in engine["weights"]
        assert engine["version"] == "0.3.36"
    served = release.validation(Q8_TRANSFORMERS)["engine"]["weights"]["served_as"]
    assert "dequantized" in served


def test_q8_0_is_made_once_for_both_engines(release: Release) -> None:
    by_transformers = release.validation(Q8_TRANSFORMERS)["engine"]["weights"]
    by_llamacpp = release.validation(Q8_LLAMACPP)["engine"]["weights"]
    assert by_transformers["key"] == by_llamacpp["key"]
    assert by_transformers["files"] == by_llamacpp["files"]
    # One Q8_0 file on disk, not one per cell: the variants cache holds one record for it.
    records = (release.project / "out" / ".cache" / "variants").glob("*/variant.json")
    specs = {r.parent.name: json.loads(r.read_text())["spec"] for r in records}
    q8 = [key for key, spec in specs.items() if spec["quantization"] == "gguf-q8_0"]
    assert q8 == [by_llamacpp["key"]]


@pytest.mark.parametrize("cell_id", [Q8_TRANSFORMERS, Q8_LLAMACPP, Q4_LLAMACPP])
def test_accuracy_is_gated_against_the_reference(release: Release, cell_id: str) -> None:
    gates = release.validation(cell_id)["gates"]
    assert gates["reference"] == f"{REFERENCE} (this run)"
    [gate] = gates["accuracy"]
    assert gate["task"] == "tiny_arith_gen"
    assert gate["paired"] is True
    assert gate["n"] == 100
    assert gate["verdict"] == "pass", gate
    assert release.accuracy(REFERENCE)["tasks"]["tiny_arith_gen"]["value"] == 1.0


def test_card_lists_the_q4_k_m_variant_with_measured_numbers(release: Release) -> None:
    weights = release.validation(Q4_LLAMACPP)["engine"]["weights"]
    [gate] = release.validation(Q4_LLAMACPP)["gates"]["accuracy"]
    sweep = json.loads((release.cell(Q4_LLAMACPP) / "perf.json").read_text())
    peak = max(p["output_throughput"] for p in sweep["points"])
    card = (release.cell(Q4_LLAMACPP) / "README.md").read_text()
    row = variant_row(card, "Tiny-Llama-GGUF-Q4_K_M")
    assert row[1] == "GGUF Q4_K_M"
    assert "llama_model_quantize q4_k_m" in row[2]
    assert row[3] == f"{weights['bytes'] / 1e6:.2f} MB"
    assert row[4] == f"{weights['bits_per_weight']:.2f}"
    assert row[5] == f"{gate['value']:.1%} tiny_arith_gen"
    assert row[6] == f"{gate['delta']:+.1%}"
    assert row[7].startswith(f"{peak:.1f} (")  # llama.cpp's own speed, the only engine for it
    assert "smaller" in row[8]
    # Q8_0 was served by both engines: its row has a peak for each.
    q8_throughput = variant_row(card, "Tiny-Llama-GGUF-Q8_0")[7]
    assert q8_throughput.startswith("llamacpp ")
    assert "; transformers " in q8_throughput


def variant_row(card: str, variant: str) -> list[str]:
    line = next(line for line in card.splitlines() if line.startswith(f"| {variant} |"))
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


@pytest.mark.parametrize("cell_id", [Q8_LLAMACPP, Q4_LLAMACPP])
def test_llama_cpp_throughput_is_measured_and_gated(release: Release, cell_id: str) -> None:
    sweep = json.loads((release.cell(cell_id) / "perf.json").read_text())
    for point in sweep["points"]:
        # Every streamed request completes at concurrency 4 too: the catalog starts the
        # server with --interrupt_requests false, or each new request cuts off the last.
        assert point["completed"] == point["num_prompts"], point["errors"]
        # No usage in llama.cpp's streams: the client counted the streamed tokens.
        assert point["mean_output_tokens"] >= 1
    gate = release.validation(cell_id)["gates"]["perf"]
    # The file itself on llama.cpp, not weights dequantized by transformers: its speed is
    # the format's, so it is gated against the reference on this same host.
    assert gate["verdict"] == "pass", gate


def test_figures(release: Release) -> None:
    """Prints what the run measured (`nox -s llamacpp` shows it), for the session's docstring."""
    for cell_id in (REFERENCE, Q8_TRANSFORMERS, Q8_LLAMACPP, Q4_LLAMACPP):
        validation = release.validation(cell_id)
        engine = validation["engine"]
        weights = engine["weights"]
        scores = {t: r.get("value") for t, r in release.accuracy(cell_id)["tasks"].items()}
        sweep = json.loads((release.cell(cell_id) / "perf.json").read_text())
        peak = max(p["output_throughput"] for p in sweep["points"])
        gate = validation["gates"]["perf"]
        print(
            f"\n{cell_id}: start-up {engine['startup_s']} s, {weights['bits_per_weight']} "
            f"bits/weight, {weights['bytes']:,} bytes, made in {weights['seconds']} s, "
            f"accuracy {scores}, peak {peak} tok/s, perf {gate['verdict']} "
            f"(worst ratio {gate['worst_ratio']})"
        )
