"""Variants made for real: llama.cpp's converter on the tiny model (quantize once, fan out),
and a LoRA adapter merged with peft and validated like any other cell."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from builder.cli import main
from builder.core.catalog_model import Catalog
from builder.core.matrix import Selection, expand
from builder.core.recipes import parse_recipe
from builder.core.variants import plan_variants, variant_spec
from builder.effects import variants
from builder.effects.models import materialize
from builder.errors import QuantizeError
from tests.support.project import new_project

pytestmark = pytest.mark.integration

RECIPE = """\
model:
  name: Tiny-Llama
  source: generate://tiny-llama
  license: apache-2.0
  adapter: {source: "generate://tiny-lora"}
matrix:
  chip: [cpu, nvidia]
  quantization: [bf16, gguf-q8_0, lora-merged]
  engine: [transformers, llamacpp]
release:
  org: Org
  name: "{model}{quant_suffix}-{chip}-{engine}"
"""


def workshop(cache: Path, lines: list[str]) -> variants.Workshop:
    return variants.Workshop(
        cache_dir=cache,
        tools_dir=variants.default_tools_dir(),
        project_root=cache,
        work_dir=cache / "work",
        env=dict(os.environ),
        timeout_s=600,
        log=lines.append,
    )


@pytest.fixture
def cache(tmp_path: Path, tiny_model_cache: Path) -> Path:
    (tmp_path / "models").symlink_to(tiny_model_cache)
    return tmp_path


def test_gguf_is_made_once_for_every_cell_that_serves_it(catalog: Catalog, cache: Path) -> None:
    loaded = parse_recipe(RECIPE, name="tiny", file="recipes/tiny.yaml", catalog=catalog)
    plan = expand([loaded], catalog, Selection())
    [gguf] = [p for p in plan_variants(plan, catalog) if p.spec.quantization == "gguf-q8_0"]
    assert len(gguf.cells) == 4  # two chips x two engines
    lines: list[str] = []
    shop = workshop(cache, lines)
    made: list[variants.Weights] = []
    # Four cells ask at once (as launcher jobs would): one makes it, the others wait for it.
    threads = [
        threading.Thread(
            target=lambda: made.append(
                variants.prepare(variant_spec(loaded, catalog, "gguf-q8_0"), shop)
            )
        )
        for _ in gguf.cells
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(w.produced_now for w in made) == 1
    assert len([line for line in lines if "convert_hf_to_gguf.py" in line]) == 1
    assert len({w.dir for w in made}) == 1
    weights = made[0]
    path = weights.dir / weights.file
    record = weights.record
    assert record["files"][weights.file] == {
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "bytes": path.stat().st_size,
    }
    assert 8.4 < record["bits_per_weight"] < 8.7
    assert record["parameters"] == variants.parameter_count(weights.tokenizer_dir)
    assert path.read_bytes()[:4] == b"GGUF"
    # Later runs find it by key; a damaged copy is made again instead of being served.
    again = variants.prepare(variant_spec(loaded, catalog, "gguf-q8_0"), shop)
    assert not again.produced_now
    path.write_bytes(b"GGUF")
    repaired = variants.prepare(variant_spec(loaded, catalog, "gguf-q8_0"), shop)
    assert repaired.produced_now
    assert repaired.record["files"] == record["files"]  # the converter is deterministic


def test_a_failed_quantizer_leaves_no_variant(catalog: Catalog, cache: Path) -> None:
    loaded = parse_recipe(RECIPE, name="tiny", file="recipes/tiny.yaml", catalog=catalog)
    spec = variant_spec(loaded, catalog, "gguf-q8_0")
    broken = type(spec)(**{**spec.__dict__, "args": {"outtype": "q8_0", "type": "q4_k_m"}})
    lines: list[str] = []
    with pytest.raises(QuantizeError, match=r"compiled quantizer"):
        variants.prepare(broken, workshop(cache, lines))
    assert (cache / "work" / "convert_hf_to_gguf.log").is_file()  # kept for the reader
    left = sorted(p.name for p in (cache / "variants").iterdir() if not p.name.endswith(".lock"))
    assert left == []


KILLED_PRODUCER = """
import sys
from pathlib import Path
from builder.session import load_catalog
from builder.effects import variants
from builder.core.recipes import parse_recipe
from builder.core.variants import variant_spec
from tests.integration.test_variants import RECIPE

root, cache = Path(sys.argv[1]), Path(sys.argv[2])
catalog = load_catalog(root / "conf")
loaded = parse_recipe(RECIPE, name="tiny", file="recipes/tiny.yaml", catalog=catalog)
shop = variants.Workshop(
    cache_dir=cache, tools_dir=variants.default_tools_dir(), project_root=cache,
    work_dir=cache / "work", env={}, timeout_s=600, log=print,
)
variants.prepare(variant_spec(loaded, catalog, "gguf-q8_0"), shop)
"""


def test_a_kill_while_quantizing_leaves_nothing_to_serve(catalog: Catalog, cache: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "BUILDER_TEST_KILL_AT": "variant-made", "PYTHONPATH": str(root)}
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_PRODUCER, str(root), str(cache)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    folder = cache / "variants"
    assert not [p for p in folder.iterdir() if not p.name.startswith(".") and p.is_dir()]
    assert [p for p in folder.iterdir() if p.name.endswith(".tmp")]  # the killed staging
    loaded = parse_recipe(RECIPE, name="tiny", file="recipes/tiny.yaml", catalog=catalog)
    made = variants.prepare(variant_spec(loaded, catalog, "gguf-q8_0"), workshop(cache, []))
    assert made.produced_now
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]  # and cleaned


def test_lora_merge_matches_the_adapter(catalog: Catalog, cache: Path) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    loaded = parse_recipe(RECIPE, name="tiny", file="recipes/tiny.yaml", catalog=catalog)
    merged = variants.prepare(variant_spec(loaded, catalog, "lora-merged"), workshop(cache, []))
    assert "merge_and_unload" in merged.record["tool"]
    assert (merged.dir / "tokenizer.json").is_file()
    base_dir = materialize("generate://tiny-llama", cache / "models")
    adapter_dir = materialize("generate://tiny-lora", cache / "models")
    ids = torch.tensor([[1, 733, 853, 49, 810, 67]])
    with torch.no_grad():
        base = AutoModelForCausalLM.from_pretrained(base_dir)
        plain = base(ids).logits
        with_adapter = PeftModel.from_pretrained(base, adapter_dir)(ids).logits
        from_merged = AutoModelForCausalLM.from_pretrained(merged.dir)(ids).logits
    assert torch.allclose(from_merged, with_adapter, atol=1e-4)
    assert not torch.allclose(from_merged, plain, atol=1e-3)  # the adapter did something
    # W' = W + B·A·alpha/r for a targeted projection.
    from safetensors.torch import load_file

    adapter = json.loads((adapter_dir / "adapter_config.json").read_text())
    lora = load_file(adapter_dir / "adapter_model.safetensors")
    prefix = "base_model.model.model.layers.0.self_attn.q_proj"
    delta = lora[f"{prefix}.lora_B.weight"] @ lora[f"{prefix}.lora_A.weight"]
    name = "model.layers.0.self_attn.q_proj.weight"
    expected = load_file(base_dir / "model.safetensors")[name] + delta * (
        adapter["lora_alpha"] / adapter["r"]
    )
    assert torch.allclose(load_file(merged.dir / "model.safetensors")[name], expected, atol=1e-6)


def test_a_pickled_adapter_is_refused(tmp_path: Path) -> None:
    from builder.effects.adapters import check_adapter

    (tmp_path / "adapter_config.json").write_text('{"peft_type": "LORA"}')
    (tmp_path / "adapter_model.bin").write_bytes(b"\x80\x04pickle")
    with pytest.raises(QuantizeError, match=r"pickled \.bin adapters are refused"):
        check_adapter(tmp_path)
    (tmp_path / "adapter_model.safetensors").write_bytes(b"")
    (tmp_path / "adapter_config.json").write_text('{"peft_type": "PREFIX_TUNING"}')
    with pytest.raises(QuantizeError, match="only LORA adapters"):
        check_adapter(tmp_path)


def test_the_merged_variant_is_validated_like_the_others(
    tmp_path: Path, tiny_model_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = new_project(tmp_path, tiny_model_cache)
    recipe = (Path(__file__).resolve().parents[2] / "recipes" / "tiny-llama.yaml").read_text()
    recipe = recipe.replace(
        "  description:", '  adapter: {source: "generate://tiny-lora"}\n  description:'
    ).replace("quantization: [bf16, gguf-q8_0]", "quantization: [bf16, lora-merged]")
    recipe = recipe.replace("suites: [smoke, accuracy, perf]", "suites: [smoke, accuracy]")
    (project / "recipes" / "tiny-llama.yaml").write_text(recipe)
    assert main(["release", "--root", str(project)]) == 0, capsys.readouterr()
    cell = project / "out" / "tiny-llama" / "tiny-llama.cpu.lora-merged.transformers"
    validation = json.loads((cell / "validation.json").read_text())
    assert validation["status"] == "passed"
    assert validation["gates"]["accuracy"][0]["verdict"] == "pass"
    card = (cell / "README.md").read_text()
    assert "## LoRA adapter" in card
    assert "merge_and_unload()" in card
    assert "base_model_relation: merge" not in card  # generate:// has no Hub base model
    assert "| Tiny-Llama-LoRA-Merged | LoRA merged (BF16) | peft" in card
