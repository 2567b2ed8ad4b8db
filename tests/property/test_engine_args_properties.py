"""Property: whatever engine arguments a recipe names, either the recipe is refused with a
located error, or the argv the engine receives, read by a prefix-matching argparse parser
built from the engine's real argument list (as vLLM, SGLang and llama-cpp-python parse
theirs), sets exactly the arguments the recipe named, and never one the builder sets or
one that loads code, reads host files or reaches other hosts."""

from __future__ import annotations

import argparse
from typing import Any

from hypothesis import event, given, note
from hypothesis import strategies as st

from builder.core.catalog_model import Catalog
from builder.core.engines import REGISTRY as ENGINES
from builder.core.engines import EngineModule
from builder.core.engines._args import own_argument
from builder.core.matrix import Selection, expand
from builder.core.model import DENIED_SERVE_ARGS, RESERVED_SERVE_ARGS
from builder.core.recipes import parse_recipe
from builder.errors import RecipeError
from tests.property.strategies import dump

ENGINE_NAMES = ("vllm", "sglang", "llamacpp", "transformers")
MODULES: dict[str, Any] = {name: ENGINES.get(name) for name in ENGINE_NAMES}
DANGEROUS = sorted(
    {
        *RESERVED_SERVE_ARGS,
        *DENIED_SERVE_ARGS,
        *(
            name
            for module in MODULES.values()
            for name in (*getattr(module, "RESERVED", ()), *getattr(module, "DENIED", ()))
        ),
    }
)
ALL_NAMES = sorted({n for m in MODULES.values() for n in m.ARGUMENTS})


def prefix_parser(module: EngineModule) -> argparse.ArgumentParser:
    """An argparse parser with the engine's arguments, abbreviations allowed (the default
    of argparse, which the engines keep)."""
    parser = argparse.ArgumentParser(allow_abbrev=True, exit_on_error=False, add_help=False)
    for arg in module.ARGUMENTS.values():
        if arg.kind == "bool" and not arg.bool_value:
            parser.add_argument(arg.flag, dest=arg.name, action="store_true", default=None)
            if arg.negation:
                parser.add_argument(arg.negation, dest=arg.name, action="store_false")
        else:
            parser.add_argument(arg.flag, dest=arg.name, default=None)
    return parser


PARSERS = {name: prefix_parser(module) for name, module in MODULES.items()}


def abbreviation(name: str, cut: int) -> str:
    return name[: max(1, min(len(name), cut))]


keys = st.one_of(
    st.sampled_from(DANGEROUS),
    st.builds(abbreviation, st.sampled_from(DANGEROUS), st.integers(1, 30)),
    st.sampled_from(ALL_NAMES),
    st.builds(abbreviation, st.sampled_from(ALL_NAMES), st.integers(1, 30)),
    st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True),
)
values = st.one_of(
    st.booleans(),
    st.integers(-5, 70000),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(["auto", "bfloat16", "32k", "x", "0.0.0.0", "ray", "a.b.Cls"]),
)


def _kind(key: str) -> str:
    for module in MODULES.values():
        own = own_argument(key, module.ARGUMENTS, getattr(module, "RENAMES", {}))
        if own is not None:
            return own.kind
    return "str"


TYPED = {
    "bool": st.booleans(),
    "int": st.integers(-5, 70000),
    "size": st.one_of(st.integers(1, 70000), st.sampled_from(["32k", "4K"])),
    "float": st.floats(0, 1, allow_nan=False),
    "str": st.sampled_from(["auto", "bfloat16", "x", "ray", "mp"]),
}


def typed_or_not(key: str) -> st.SearchStrategy[Any]:
    """Mostly a value of the argument's type (so the recipe can load), sometimes any."""
    return st.one_of(TYPED[_kind(key)], TYPED[_kind(key)], values)


def names_for(engine: str) -> st.SearchStrategy[str]:
    """Names a recipe for ``engine`` might use: mostly real ones (vLLM's or the engine's),
    otherwise abbreviations, dangerous names and made-up ones."""
    real = sorted({*MODULES["vllm"].ARGUMENTS, *MODULES[engine].ARGUMENTS})
    return st.one_of(st.sampled_from(real), st.sampled_from(real), st.sampled_from(real), keys)


def cases(engine: str) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    names = st.lists(names_for(engine), min_size=1, max_size=3, unique=True)
    serve = names.flatmap(
        lambda chosen: st.fixed_dictionaries({name: typed_or_not(name) for name in chosen})
    )
    return st.tuples(st.just(engine), serve)


def assert_located(error: RecipeError) -> None:
    for problem in error.problems:
        assert problem.loc.file == "recipes/r.yaml"
        assert problem.loc.line is not None


def recipe(engine: str, serve: dict[str, Any]) -> str:
    return dump(
        {
            "model": {"name": "Tiny", "source": "generate://tiny-llama", "license": "mit"},
            "matrix": {
                "chip": ["nvidia"],
                "quantization": ["gguf-q8_0" if engine == "llamacpp" else "bf16"],
                "engine": [engine],
            },
            "serve": serve,
            "release": {"org": "Org", "name": "{model}-{chip}-{engine}"},
        }
    )


@given(case=st.sampled_from(ENGINE_NAMES).flatmap(cases))
def test_engine_arguments_reach_the_engine_as_themselves_or_not_at_all(
    catalog: Catalog, case: tuple[str, dict[str, Any]]
) -> None:
    engine, serve = case
    text = recipe(engine, serve)
    note(text)
    try:
        loaded = parse_recipe(text, name="r", file="recipes/r.yaml", catalog=catalog)
    except RecipeError as error:
        assert_located(error)
        event("refused with a located RecipeError")
        return
    module = MODULES[engine]
    renames = getattr(module, "RENAMES", {})
    for cell in expand([loaded], catalog, Selection()).cells:
        flags, ignored = module.translate_args(cell.serve_args)
        parsed = vars(PARSERS[engine].parse_args(flags))
        set_now = {dest for dest, value in parsed.items() if value is not None}
        wanted = {
            own.name
            for key in cell.serve_args
            if key not in ignored
            and (own := own_argument(key, module.ARGUMENTS, renames)) is not None
            and own.flags(cell.serve_args[key])
        }
        assert set_now == wanted, (flags, set_now, wanted)
        assert not set_now & set(DANGEROUS)
        for flag in flags:
            assert flag.split("=")[0] in {
                f for a in module.ARGUMENTS.values() for f in (a.flag, a.negation) if f
            }
    event("loaded; the engine reads exactly the named arguments")
