"""Engine arguments are matched exactly against each engine's own list: an abbreviation of
a reserved or denied argument (which vLLM's, SGLang's and llama-cpp-python's argparse would
expand) is refused with a did-you-mean, values must have the argument's type, and what
reaches the engine is always ``--full-name=value``."""

from __future__ import annotations

import pytest

from builder.core.catalog_model import Catalog
from builder.core.engines import REGISTRY as ENGINES
from builder.core.matrix import Selection, expand
from builder.core.recipes import parse_recipe
from builder.errors import RecipeError

ALL_ENGINES = """\
model:
  name: Tiny
  source: generate://tiny-llama
  license: apache-2.0
matrix: {chip: [nvidia], quantization: [bf16, gguf-q8_0], engine: [vllm, sglang, llamacpp, transformers]}
serve: {max_model_len: 4096}
release:
  org: Org
  name: "{model}{quant_suffix}-{chip}-{engine}"
"""


def load(serve: str, catalog: Catalog, engines: str = "vllm, sglang, llamacpp, transformers"):  # type: ignore[no-untyped-def]
    text = ALL_ENGINES.replace("{max_model_len: 4096}", serve).replace(
        "vllm, sglang, llamacpp, transformers", engines
    )
    return parse_recipe(text, name="r", file="recipes/r.yaml", catalog=catalog)


def refused(
    serve: str, catalog: Catalog, engines: str = "vllm, sglang, llamacpp, transformers"
) -> str:
    with pytest.raises(RecipeError) as info:
        load(serve, catalog, engines)
    problem = info.value.problems[0]
    assert (problem.loc.file, problem.loc.line) == ("recipes/r.yaml", 6)
    return str(info.value)


@pytest.mark.parametrize(
    "key",
    [
        "ho",
        "hos",
        "po",
        "por",
        "served_model",
        "served_model_nam",
        "mod",
        "tool_parser_plug",
        "worker_extension",
        "allowed_local_media",
        "middlewar",
        "download_di",
        "config_f",
    ],
)
def test_abbreviations_of_reserved_or_denied_arguments_are_refused(
    catalog: Catalog, key: str
) -> None:
    error = refused(f"{{{key}: x}}", catalog)
    assert f"serve.{key}: unknown engine argument" in error


def test_an_unknown_name_gets_the_closest_known_one(catalog: Catalog) -> None:
    error = refused("{max_modle_len: 4096}", catalog)
    assert "did you mean 'max_model_len'?" in error


@pytest.mark.parametrize(
    ("serve", "message"),
    [
        ("{max_model_len: 1.0e+300}", "expected an integer (or a size such as 32k)"),
        ("{max_model_len: 40.5}", "expected an integer"),
        ("{max_model_len: true}", "expected an integer"),
        ("{tensor_parallel_size: '2'}", "expected an integer"),
        ("{enforce_eager: 'yes'}", "expected true or false"),
        ("{gpu_memory_utilization: fast}", "expected a number"),
        ("{n_gpu_layers: 1.5}", "takes an integer"),
        ("{distributed_executor_backend: evil.module.Executor}", "must be one of"),
    ],
)
def test_values_must_have_the_arguments_type(catalog: Catalog, serve: str, message: str) -> None:
    assert message in refused(serve, catalog)


@pytest.mark.parametrize(
    ("serve", "engine", "message"),
    [
        # SGLang's own names for what the builder sets, or what loads code or host files.
        (
            "{model_path: x}",
            "sglang",
            "is sglang's --model-path, which the builder sets",
        ),
        ("{enable_custom_logit_processor: true}", "sglang", "is sglang's"),
        ("{custom_weight_loader: a.b}", "sglang", "loads code"),
        ("{model_alias: x}", "llamacpp", "is llamacpp's --model_alias, which the builder sets"),
        ("{rpc_servers: x}", "llamacpp", "reaches other hosts"),
        ("{interrupt_requests: true}", "llamacpp", "which the builder sets"),
        ("{decision_config: x}", "transformers", "is transformers's --decision-config"),
        ("{uds: x}", "vllm", "is set by the builder"),
        ("{scheduler_cls: a.b}", "vllm", "loads code"),
    ],
)
def test_each_engines_own_dangerous_names_are_refused(
    catalog: Catalog, serve: str, engine: str, message: str
) -> None:
    assert message in refused(serve, catalog, engines=engine)


def test_arguments_reach_the_engine_by_their_full_names(catalog: Catalog) -> None:
    loaded = load(
        "{max_model_len: 32k, enforce_eager: true, enable_prefix_caching: false, seed: 3}",
        catalog,
        engines="vllm",
    )
    (cell,) = expand([loaded], catalog, Selection()).cells
    flags, ignored = ENGINES.get("vllm").translate_args(cell.serve_args)
    assert flags == [
        "--dtype=bfloat16",
        "--no-enable-prefix-caching",
        "--enforce-eager",
        "--max-model-len=32k",
        "--seed=3",
    ]
    assert ignored == ()


@pytest.mark.parametrize(
    ("engine", "args", "flags", "ignored"),
    [
        ("sglang", {"max_model_len": 8, "seed": 1}, ["--context-length=8", "--random-seed=1"], ()),
        ("sglang", {"tensor_parallel_size": 2}, ["--tensor-parallel-size=2"], ()),
        (
            "llamacpp",
            {"max_model_len": 8, "flash_attn": True},
            ["--flash_attn=true", "--n_ctx=8"],
            (),
        ),
        ("llamacpp", {"enforce_eager": True}, [], ("enforce_eager",)),
        (
            "transformers",
            {"seed": 4, "trust_remote_code": False},
            ["--default-seed=4", "--no-trust-remote-code"],
            (),
        ),
        ("transformers", {"quantization": "fp8"}, [], ("quantization",)),
    ],
)
def test_each_engine_gets_its_own_names(
    engine: str, args: dict[str, object], flags: list[str], ignored: tuple[str, ...]
) -> None:
    assert ENGINES.get(engine).translate_args(args) == (flags, ignored)  # type: ignore[arg-type]


def test_an_argument_only_one_engine_has_is_ignored_by_the_others(catalog: Catalog) -> None:
    loaded = load("{n_gpu_layers: -1}", catalog, engines="vllm, llamacpp")
    cells = {c.engine: c for c in expand([loaded], catalog, Selection()).cells}
    assert "n_gpu_layers" in cells["vllm"].ignored_args
    assert "n_gpu_layers" not in cells["llamacpp"].ignored_args


def test_an_override_is_checked_against_the_engine_it_selects(catalog: Catalog) -> None:
    text = (
        ALL_ENGINES + "overrides:\n  - select: {engine: llamacpp}\n    serve: {context_length: 8}\n"
    )
    with pytest.raises(RecipeError, match=r"overrides\[0\].serve.context_length: unknown engine"):
        parse_recipe(text, name="r", file="recipes/r.yaml", catalog=catalog)
    # SGLang's own name is fine in an override for SGLang.
    ok = ALL_ENGINES + "overrides:\n  - select: {engine: sglang}\n    serve: {context_length: 8}\n"
    parse_recipe(ok, name="r", file="recipes/r.yaml", catalog=catalog)
