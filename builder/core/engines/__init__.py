"""Serving engines: catalog data in conf/engine/ plus one small module each, in this package.

A module turns a cell's engine arguments (written with vLLM's flag names, ``_`` for ``-``)
into the argv of its own server. Arguments an engine has no equivalent for are reported as
ignored in the plan instead of crashing the server at start. An engine's ``module`` in
conf/ (default: its name) names the module; a vendor fork (vllm-ascend) names the engine it
follows. Adding an engine is conf/engine/<name>.yaml plus <name>.py here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Protocol

from builder.core.catalog_model import EngineConf
from builder.core.model import ScalarValue
from builder.core.registry import Registry


class EngineModule(Protocol):
    """What each engine module provides (matched by module, as cibuildwheel's platforms)."""

    def translate_args(self, args: Mapping[str, ScalarValue]) -> tuple[list[str], tuple[str, ...]]:
        """The flags for ``args`` (sorted by name) and the names the engine has no flag for."""
        ...


REGISTRY: Final = Registry[EngineModule](
    kind="engine module", package=__name__, path=__path__, provides=("translate_args",)
)


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
