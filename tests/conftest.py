"""Shared fixtures: the project root, its real catalog, and a small catalog built in code."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.core.catalog import load_catalog
from builder.core.model import (
    Catalog,
    ChipConf,
    EngineConf,
    PublishConf,
    QuantizationConf,
    Settings,
    SuiteConf,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def tiny_model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One models cache for the session: the tiny model is generated once (deterministic)."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    """The catalog in conf/, composed once for the session."""
    return load_catalog(ROOT / "conf")


def _chip(name: str, quants: list[str], engines: list[str]) -> ChipConf:
    return ChipConf(
        name=name,
        vendor_en=name.title(),
        vendor_cn=name,
        naming_suffix=name,
        smi_command="" if name == "cpu" else f"{name}-smi",
        base_image={e: f"example/{name}-{e}:1" for e in engines},
        quantizations=quants,
        runner_labels=["self-hosted", name],
    )


def _engine(name: str, quants: list[str], chips: list[str]) -> EngineConf:
    return EngineConf(
        name=name,
        display_name=name,
        package=f"{name}==1.0",
        version="1.0",
        serve=[name, "serve", "{model}", "--port", "{port}"],
        quantizations=quants,
        chips=chips,
    )


def _quant(name: str, suffix: str) -> QuantizationConf:
    return QuantizationConf(
        name=name,
        display_name=name.upper(),
        suffix=suffix,
        bits=8,
        dtype=name,
        engine_args={"vllm": {"quantization": name}} if suffix else {},
    )


@pytest.fixture
def mini_catalog() -> Catalog:
    """Three chips, two engines, three quantizations, with known incompatibilities."""
    return Catalog(
        chips={
            "nvidia": _chip("nvidia", ["bf16", "fp8", "gguf"], ["vllm", "llamacpp"]),
            "ascend": _chip("ascend", ["bf16", "gguf"], ["vllm"]),
            "cpu": _chip("cpu", ["bf16", "gguf"], ["llamacpp"]),
        },
        engines={
            "vllm": _engine("vllm", ["bf16", "fp8"], ["nvidia", "ascend"]),
            "llamacpp": _engine("llamacpp", ["gguf"], ["nvidia", "cpu"]),
        },
        quantizations={
            "bf16": _quant("bf16", ""),
            "fp8": _quant("fp8", "-FP8"),
            "gguf": _quant("gguf", "-GGUF"),
        },
        quantizers={},
        suites={"smoke": SuiteConf(name="smoke", description="smoke")},
        publish={"local": PublishConf(name="local", kind="local")},
        settings=Settings(registry="registry.example/org"),
    )
