"""Variant specs and their content keys: which cells share weights, and recipe mistakes."""

from __future__ import annotations

import dataclasses

import pytest

from builder.core.catalog_model import Catalog
from builder.core.matrix import Selection, expand
from builder.core.recipes import parse_recipe
from builder.core.variants import plan_variants, variant_spec
from builder.errors import RecipeError

RECIPE = """\
model:
  name: Tiny-Llama
  source: generate://tiny-llama
  license: apache-2.0
{adapter}matrix:
  chip: [cpu, nvidia]
  quantization: {quantizations}
  engine: [transformers, llamacpp]
{variants}release:
  org: Org
  name: "{{model}}{{quant_suffix}}-{{chip}}-{{engine}}"
"""


def load(catalog: Catalog, quantizations: str, variants: str = "", adapter: str = "") -> object:
    text = RECIPE.format(quantizations=quantizations, variants=variants, adapter=adapter)
    return parse_recipe(text, name="tiny", file="recipes/tiny.yaml", catalog=catalog)


def test_one_gguf_variant_is_shared_by_every_chip_and_engine(catalog: Catalog) -> None:
    loaded = load(catalog, "[bf16, gguf-q8_0]")
    plan = expand([loaded], catalog, Selection())  # type: ignore[list-item]
    planned = {p.spec.quantization: p for p in plan_variants(plan, catalog)}
    gguf = planned["gguf-q8_0"]
    # transformers on cpu and nvidia, llama.cpp on cpu and nvidia: four cells, one file.
    assert gguf.cells == (
        "tiny.cpu.gguf-q8_0.llamacpp",
        "tiny.cpu.gguf-q8_0.transformers",
        "tiny.nvidia.gguf-q8_0.llamacpp",
        "tiny.nvidia.gguf-q8_0.transformers",
    )
    assert gguf.spec.method == "quantize"
    assert gguf.spec.produced
    assert gguf.spec.file == "Tiny-Llama-Q8_0.gguf"
    assert gguf.spec.args == {"outtype": "q8_0"}
    assert gguf.spec.quantizer["package"] == "llama-cpp-python==0.3.36"
    assert "llama-cpp-python==0.3.36 (outtype=q8_0)" in gguf.spec.describe()
    assert not planned["bf16"].spec.produced


def test_the_key_changes_with_what_makes_the_weights(catalog: Catalog) -> None:
    loaded = load(catalog, "[gguf-q8_0]")
    spec = variant_spec(loaded, catalog, "gguf-q8_0")  # type: ignore[arg-type]
    assert spec.key == variant_spec(loaded, catalog, "gguf-q8_0").key  # type: ignore[arg-type]
    other_args = dataclasses.replace(spec, args={"outtype": "f16"})
    other_tool = dataclasses.replace(spec, quantizer={**spec.quantizer, "version": "0.3.37"})
    other_source = dataclasses.replace(spec, source="huggingface://org/model@abc")
    keys = {spec.key, other_args.key, other_tool.key, other_source.key}
    assert len(keys) == 4


def test_calibration_files_are_part_of_the_key(catalog: Catalog) -> None:
    variants = (
        "variants:\n  w8a8:\n    calibration: {dataset: calibration/tiny.jsonl, samples: 8}\n"
    )
    loaded = load(catalog, "[bf16, w8a8]", variants)
    before = variant_spec(loaded, catalog, "w8a8", "digest-a")  # type: ignore[arg-type]
    after = variant_spec(loaded, catalog, "w8a8", "digest-b")  # type: ignore[arg-type]
    assert before.calibration == {
        "dataset": "calibration/tiny.jsonl",
        "samples": 8,
        "max_seq_length": 2048,
    }
    assert before.key != after.key


@pytest.mark.parametrize(
    ("quantizations", "variants", "adapter", "line", "message"),
    [
        ("[bf16, fp8]", "", "", 7, "fp8 is prequantized (FP8): set variants.fp8.source"),
        ("[bf16, w8a8]", "", "", 7, "set variants.w8a8.calibration.dataset"),
        (
            "[bf16, w8a8]",
            "variants:\n  w8a8: {source: 'huggingface://a/b'}\n",
            "",
            10,
            "made by the builder (quantize); no source",
        ),
        ("[bf16, lora-merged]", "", "", 7, "set model.adapter.source"),
        (
            "[bf16]",
            "variants:\n  gguf-q8-0: {}\n",
            "",
            10,
            "did you mean 'gguf-q8_0'?",
        ),
        (
            "[bf16]",
            "variants:\n  fp8: {source: 'huggingface://a/b'}\n",
            "",
            10,
            "'fp8' is not in matrix.quantization nor include",
        ),
        (
            "[bf16, lora-merged]",
            "",
            "  adapter: {source: 'file:///root/.ssh'}\n",
            5,
            "outside settings.local_model_roots",
        ),
    ],
)
def test_recipe_mistakes_name_their_line(
    catalog: Catalog, quantizations: str, variants: str, adapter: str, line: int, message: str
) -> None:
    with pytest.raises(RecipeError) as caught:
        load(catalog, quantizations, variants, adapter)
    text = str(caught.value)
    assert message in text
    assert f"recipes/tiny.yaml:{line}" in text


def test_an_adapter_makes_the_merged_variant(catalog: Catalog) -> None:
    adapter = "  adapter: {source: 'generate://tiny-lora'}\n"
    loaded = load(catalog, "[bf16, lora-merged]", adapter=adapter)
    spec = variant_spec(loaded, catalog, "lora-merged")  # type: ignore[arg-type]
    assert (spec.method, spec.adapter) == ("merge-adapter", "generate://tiny-lora")
    assert spec.describe() == "merge LoRA generate://tiny-lora into generate://tiny-llama (peft)"
    # The base variant does not depend on the adapter: changing it keeps bf16's cache.
    base = variant_spec(loaded, catalog, "bf16")  # type: ignore[arg-type]
    plain = variant_spec(load(catalog, "[bf16]"), catalog, "bf16")  # type: ignore[arg-type]
    assert base.key == plain.key
