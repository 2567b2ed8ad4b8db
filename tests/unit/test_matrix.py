"""Matrix expansion: include, exclude, incompatibility, overrides, selection, stable ids."""

from __future__ import annotations

from builder.core.catalog_model import Catalog
from builder.core.cells import LoadedRecipe
from builder.core.matrix import Selection, expand
from builder.core.recipes import parse_recipe

RECIPE = """\
model: {name: Demo-7B, source: "huggingface://org/demo@abc", license: mit}
matrix:
  chip: [nvidia, ascend]
  quantization: [bf16, fp8]
  engine: [vllm]
exclude:
  - {chip: nvidia, quantization: fp8}
include:
  - {chip: cpu, quantization: gguf, engine: llamacpp}
  - {chip: nvidia, quantization: fp8, engine: vllm}
serve: {max_model_len: 4096, tensor_parallel_size: 1}
overrides:
  - select: {chip: ascend}
    serve: {tensor_parallel_size: 2}
release: {org: Org, name: "{model}{quant_suffix}-{chip}"}
"""


def load(catalog: Catalog, text: str = RECIPE) -> LoadedRecipe:
    return parse_recipe(text, name="demo", file="recipes/demo.yaml", catalog=catalog)


def test_cells_and_exclusions(mini_catalog: Catalog) -> None:
    plan = expand([load(mini_catalog)], mini_catalog, Selection())
    assert [c.id for c in plan.cells] == [
        "demo.ascend.bf16.vllm",
        "demo.cpu.gguf.llamacpp",
        "demo.nvidia.bf16.vllm",
        # excluded by exclude[0], then explicitly included again (GitHub Actions order)
        "demo.nvidia.fp8.vllm",
    ]
    reasons = {e.id: e.reason for e in plan.excluded}
    assert reasons == {"demo.ascend.fp8.vllm": "chip ascend does not support fp8"}


def test_exclude_rule_is_reported(mini_catalog: Catalog) -> None:
    text = RECIPE.replace("  - {chip: nvidia, quantization: fp8, engine: vllm}\n", "")
    plan = expand([load(mini_catalog, text)], mini_catalog, Selection())
    (excluded,) = [e for e in plan.excluded if e.id == "demo.nvidia.fp8.vllm"]
    assert excluded.reason == "excluded by chip=nvidia, quantization=fp8"
    assert excluded.rule == "recipes/demo.yaml exclude[0]"


def test_engine_incompatibility_names_the_catalog(mini_catalog: Catalog) -> None:
    text = RECIPE.replace("engine: [vllm]", "engine: [vllm, llamacpp]")
    plan = expand([load(mini_catalog, text)], mini_catalog, Selection())
    excluded = {e.id: (e.reason, e.rule) for e in plan.excluded}
    assert excluded["demo.nvidia.bf16.llamacpp"] == (
        "engine llamacpp does not support quantization bf16",
        "conf/engine/llamacpp.yaml",
    )
    # A chip runs the engines it names a base image for: the chip's file is the rule.
    assert excluded["demo.ascend.bf16.llamacpp"] == (
        "chip ascend has no base image for engine llamacpp",
        "conf/chip/ascend.yaml",
    )


def test_overrides_and_quantization_args(mini_catalog: Catalog) -> None:
    plan = expand([load(mini_catalog)], mini_catalog, Selection())
    cells = {c.id: c for c in plan.cells}
    assert cells["demo.ascend.bf16.vllm"].serve_args == {
        "max_model_len": 4096,
        "tensor_parallel_size": 2,
    }
    assert cells["demo.nvidia.fp8.vllm"].serve_args == {
        "quantization": "fp8",
        "max_model_len": 4096,
        "tensor_parallel_size": 1,
    }


def test_release_names_and_images(mini_catalog: Catalog) -> None:
    plan = expand([load(mini_catalog)], mini_catalog, Selection())
    cell = next(c for c in plan.cells if c.id == "demo.nvidia.fp8.vllm")
    assert cell.release_repo == "Org/Demo-7B-FP8-nvidia"
    assert cell.image.startswith("registry.example/org/demo-7b:nvidia-fp8-vllm1.0-builder")


def test_selection_narrows_and_says_why(mini_catalog: Catalog) -> None:
    plan = expand([load(mini_catalog)], mini_catalog, Selection(chip=("ascend",)))
    assert [c.id for c in plan.cells] == ["demo.ascend.bf16.vllm"]
    assert {e.reason for e in plan.excluded} >= {"not selected (chip=ascend)"}


def test_ids_are_stable_across_axis_order(mini_catalog: Catalog) -> None:
    reordered = RECIPE.replace("[nvidia, ascend]", "[ascend, nvidia]").replace(
        "[bf16, fp8]", "[fp8, bf16]"
    )
    first = expand([load(mini_catalog)], mini_catalog, Selection())
    second = expand([load(mini_catalog, reordered)], mini_catalog, Selection())
    assert [c.id for c in first.cells] == [c.id for c in second.cells]
    assert first.to_json() == second.to_json()
