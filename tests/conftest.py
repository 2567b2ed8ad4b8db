"""Shared fixtures: the project root, its real catalog, a throwaway project, a small catalog
built in code, and a catalog cache of the test session's own."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.core.catalog_model import (
    Catalog,
    ChipConf,
    EngineConf,
    PublishConf,
    QuantizationConf,
    Settings,
    SuiteConf,
)
from builder.session import load_catalog

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def shared_caches_are_trusted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Test projects link out/.cache/models (and variants) to the session's one model cache,
    as a runner may link a shared cache: links into the session's folders are trusted
    (BUILDER_TRUSTED_LINKS; tests/unit/test_untrusted_out.py trusts none)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BUILDER_TRUSTED_LINKS", str(tmp_path_factory.getbasetemp()))
        yield


@pytest.fixture(scope="session", autouse=True)
def isolated_catalog_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The composed-catalog cache (and anything else under XDG_CACHE_HOME) in the session's
    own folder, never the user's: for every test and every builder process a test starts.
    Downloaded tools and the base image's rootfs stay where they were (both are checked
    against their keys), so the GGUF converter is fetched and mmdebstrap runs once a machine."""
    kept = {"LLMRB_TOOLS_DIR": "tools", "LLMRB_ROOTFS_CACHE": "rootfs"}
    saved = {k: os.environ.get(k) for k in ("XDG_CACHE_HOME", *kept)}
    base = saved["XDG_CACHE_HOME"] or str(Path.home() / ".cache")
    for variable, folder in kept.items():
        if not saved[variable]:
            os.environ[variable] = str(Path(base) / "llm-release-builder" / folder)
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class ProcessForbidden(AssertionError):
    """Raised for a process started by a test that is not marked ``integration``."""


@pytest.fixture(autouse=True)
def no_processes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit and property tests start no process (the fast lane, `nox -s quick`, depends on
    it); a test that needs one (git, hadolint, an engine) is marked ``integration``."""
    if request.node.get_closest_marker("integration") is not None:
        return
    if "integration" in Path(str(request.node.fspath)).parts:
        return

    def forbidden(*args: object, **kwargs: object) -> None:
        msg = f"{request.node.nodeid} starts a process ({args[:1]}); mark it integration"
        raise ProcessForbidden(msg)

    monkeypatch.setattr(subprocess, "Popen", forbidden)
    monkeypatch.setattr(os, "posix_spawn", forbidden)
    monkeypatch.setattr(os, "fork", forbidden)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A throwaway project: this repository's conf/, templates/, tasks/ and its embedded
    recipe (tiny-llama), and a README with the release table's markers."""
    from tests.support.project import new_project

    return new_project(tmp_path / "project", recipes=["tiny-llama"])


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
        # The mini quantizations' dtypes are their names.
        dtypes=quants,
        runner_labels=["self-hosted", name],
    )


def _engine(name: str, quants: list[str]) -> EngineConf:
    return EngineConf(
        name=name,
        display_name=name,
        package=f"{name}==1.0",
        version="1.0",
        serve=[name, "serve", "{model}", "--port", "{port}"],
        dtypes=quants,
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
            "vllm": _engine("vllm", ["bf16", "fp8"]),
            "llamacpp": _engine("llamacpp", ["gguf"]),
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
