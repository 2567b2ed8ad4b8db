"""Serving engines: catalog data in conf/engine/ plus one small module each, in this package.

A module lists its server's arguments exactly (``ARGUMENTS``) and turns a cell's engine
arguments (written with vLLM's names, ``_`` for ``-``) into the argv of its own server, as
``--name=value`` with the full name. Arguments an engine has no equivalent for are reported
as ignored in the plan instead of crashing the server at start; a name no engine of the
recipe knows is refused when the recipe loads (:func:`argument_problems`). An engine's
``module`` in conf/ (default: its name) names the module; a vendor fork (vllm-ascend) names
the engine it follows. Adding an engine is conf/engine/<name>.yaml plus <name>.py here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Final, Protocol

from builder.core.catalog_model import EngineConf
from builder.core.engines import vllm
from builder.core.engines._args import Argument, own_argument
from builder.core.model import DENIED_SERVE_ARGS, RESERVED_SERVE_ARGS, SERVE_CHOICES, ScalarValue
from builder.core.registry import Registry
from builder.errors import did_you_mean
from builder.text import shown


class EngineModule(Protocol):
    """What each engine module provides (matched by module, as cibuildwheel's platforms).

    Optionally also ``RENAMES`` (recipe name -> the engine's own, None: no such setting),
    ``RESERVED`` (its own names for what the builder sets) and ``DENIED`` (its own names
    for arguments that load code, read host files or reach other hosts)."""

    ARGUMENTS: Mapping[str, Argument]

    def translate_args(self, args: Mapping[str, ScalarValue]) -> tuple[list[str], tuple[str, ...]]:
        """The flags for ``args`` (sorted by name) and the names the engine has no flag for."""
        ...


REGISTRY: Final = Registry[EngineModule](
    kind="engine module",
    package=__name__,
    path=__path__,
    provides=("ARGUMENTS", "translate_args"),
)
# Recipes speak vLLM's names: they are known whichever engines a recipe uses.
RECIPE_ARGUMENTS: Final = vllm.ARGUMENTS
DENIED_MESSAGE = "loads code or files of the host, or reaches other hosts; not in recipes"


def engine_module(name: str) -> EngineModule:
    return REGISTRY.get(name)


@dataclass(frozen=True, kw_only=True)
class ServeCommand:
    """The exact argv a cell's server runs, the arguments its engine ignores, and the
    model name clients must send."""

    argv: tuple[str, ...]
    ignored: tuple[str, ...]
    request_model: str


def serve_command(
    engine: EngineConf,
    args: Mapping[str, ScalarValue],
    *,
    model: str,
    host: str,
    port: int,
    served_model_name: str,
) -> ServeCommand:
    """Fill the catalog's serve template and append the translated engine arguments."""
    values = {
        "model": model,
        "host": host,
        "port": str(port),
        "served_model_name": served_model_name,
    }
    # Each template token is replaced whole: values are never parsed as format strings.
    base = [_fill(token, values) for token in engine.serve]
    flags, ignored = engine_module(engine.module or engine.name).translate_args(args)
    return ServeCommand(
        argv=(*base, *flags), ignored=ignored, request_model=_fill(engine.request_model, values)
    )


def _fill(token: str, values: Mapping[str, str]) -> str:
    return values.get(token[1:-1], token) if _placeholder(token) else token


def _placeholder(token: str) -> bool:
    return token.startswith("{") and token.endswith("}")


def model_reference(engine: EngineConf, folder: str, file: str = "") -> str:
    """What ``{model}`` is for ``engine``: the weights' folder, or for single-file weights
    (GGUF) the engine's ``model_file`` form (``{dir}/{file}``, or ``{dir}:{file}``)."""
    if not file:
        return folder
    return engine.model_file.replace("{dir}", folder).replace("{file}", file)


def argument_problems(
    args: Mapping[str, ScalarValue], modules: Mapping[str, EngineModule]
) -> Iterator[tuple[str, str]]:
    """(argument, message) for every recipe engine argument that ``modules`` (engine name
    -> its module: the engines the arguments are for) cannot take: an unknown name (with
    the closest known one), a value of the wrong type, an argument the builder sets, or
    one that loads code, reads host files or reaches other hosts."""
    vocabulary = _vocabulary(modules)
    for key in sorted(args):
        value = args[key]
        if key in RESERVED_SERVE_ARGS:
            yield key, "is set by the builder; a recipe cannot change it"
        elif key in DENIED_SERVE_ARGS:
            yield key, DENIED_MESSAGE
        elif key not in vocabulary:
            engines = ", ".join(sorted(modules)) or "any engine"
            hint = did_you_mean(key, vocabulary)
            yield key, f"unknown engine argument (not vLLM's nor one of {engines}){hint}"
        elif key in SERVE_CHOICES and value not in SERVE_CHOICES[key]:
            choices = ", ".join(SERVE_CHOICES[key])
            yield key, f"must be one of {choices}, got {shown(value)}"
        else:
            yield from _engine_problems(key, value, modules)


def _engine_problems(
    key: str, value: ScalarValue, modules: Mapping[str, EngineModule]
) -> Iterator[tuple[str, str]]:
    recipe_argument = RECIPE_ARGUMENTS.get(key)
    if recipe_argument is not None and not recipe_argument.accepts(value):
        yield key, f"expected {recipe_argument.expected()}, got {shown(value)}"
        return
    for name, module in sorted(modules.items()):
        own = own_argument(key, module.ARGUMENTS, getattr(module, "RENAMES", {}))
        if own is None:
            continue
        if own.name in getattr(module, "RESERVED", ()):
            yield key, f"is {name}'s {own.flag}, which the builder sets; a recipe cannot"
        elif own.name in getattr(module, "DENIED", ()):
            yield key, f"is {name}'s {own.flag}, which {DENIED_MESSAGE}"
        elif not own.accepts(value):
            yield key, f"{name}'s {own.flag} takes {own.expected()}, got {shown(value)}"


def _vocabulary(modules: Mapping[str, EngineModule]) -> set[str]:
    """Names a recipe may use for ``modules``: vLLM's, and each engine's own and renamed."""
    names = set(RECIPE_ARGUMENTS)
    for module in modules.values():
        names.update(module.ARGUMENTS)
        names.update(getattr(module, "RENAMES", {}))
    return names
