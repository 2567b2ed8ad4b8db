"""Catalog entries: what conf/ holds, as OmegaConf structured configs Hydra composes.

Every entry is frozen once typed. Which quantizations a chip and an engine can serve is a
rule over the quantization's own fields (its ``dtype`` and ``format``), and which engines a
chip runs is the chip's ``base_image`` map, so adding a chip, an engine or a quantization is
one file in conf/ (plus a module for the kinds that have code), never an edit of lists in
other files.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, kw_only=True)
class ChipConf:
    """A chip family: how to detect it, run containers on it, and which runners have it."""

    name: str
    vendor_en: str
    vendor_cn: str
    naming_suffix: str
    models: list[str] = field(default_factory=list)
    smi_command: str = ""
    sdk: str = ""
    visible_devices_env: str = ""
    docker_run_flags: list[str] = field(default_factory=list)
    # Device files every container of the chip gets (control devices, the render node).
    devices: list[str] = field(default_factory=list)
    # Device files given once per device used, "{index}" filled in (Ascend: /dev/davinci{index}).
    device_files: list[str] = field(default_factory=list)
    mounts: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    base_image: dict[str, str] = field(default_factory=dict)
    # Engines the base image already ships, with their version: the Dockerfile then installs
    # nothing over the vendor's build, and names and tags carry the vendor's version.
    engine_versions: dict[str, str] = field(default_factory=dict)
    # The weight data types the chip computes with (a quantization's ``dtype``): the chip
    # serves exactly the quantizations whose dtype is listed.
    dtypes: list[str] = field(default_factory=list)
    runner_labels: list[str] = field(default_factory=list)
    # Keys whose values could not be checked offline; users with the hardware correct them.
    unverified: list[str] = field(default_factory=list)
    notes: str = ""
    # hadolint rules this chip's Dockerfiles may break, each with the reason (rule id -> why).
    hadolint_waivers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class EngineConf:
    """A serving engine: how it is installed, started and probed."""

    name: str
    display_name: str
    package: str
    version: str
    serve: list[str]
    # The module in builder/engines/ that translates arguments; empty: the engine's name.
    # A vendor fork (vllm-ascend, vllm-musa) names the engine it follows.
    module: str = ""
    health_path: str = "/health"
    port: int = 8000
    # The "model" clients send: most engines take --served-model-name, some only the path.
    request_model: str = "{served_model_name}"
    # Whether GET /v1/models lists the served model (transformers serve lists its cache).
    lists_served_model: bool = True
    # How {model} names single-file weights (GGUF): {dir} the folder, {file} the file name.
    model_file: str = "{dir}/{file}"
    # "native": the engine loads GGUF files itself; "dequantize": the builder validates a
    # safetensors copy dequantized by transformers' GGUF reader (what the engine would load
    # if its own GGUF path worked); the card says so.
    gguf_load: str = "native"
    # Whether /v1/completions returns prompt log-probabilities (echo + logprobs), which
    # lm-eval's log-likelihood (multiple-choice) tasks need.
    prompt_logprobs: bool = True
    # The engine's own benchmark tool as an argv template ({base_url} {model} {tokenizer}
    # {input_len} {output_len} {concurrency} {num_prompts} {result_dir} {result_file});
    # empty: the builder's own client measures.
    benchmark: list[str] = field(default_factory=list)
    # Whether requests may carry ignore_eos (vLLM, SGLang, llama.cpp), which the perf sweep
    # sends so every request generates its full output length.
    accepts_ignore_eos: bool = True
    # How the perf sweep asks for exactly the scenario's output length: "ignore_eos",
    # "min_tokens" (the request field), "generation_config" (transformers serve: a JSON
    # generation config with min_new_tokens), "none"; empty: ignore_eos when
    # ``accepts_ignore_eos``, else none (the lengths generated are recorded either way).
    exact_length: str = ""
    # What the engine serves, by rule: the quantizations whose ``format`` is listed and, when
    # ``dtypes`` is not empty, whose ``dtype`` is listed too. Which chips run it is theirs to
    # say: a chip runs the engines it has a base image for.
    formats: list[str] = field(default_factory=lambda: ["safetensors"])
    dtypes: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    unverified: list[str] = field(default_factory=list)


# How a quantization's weights come to be (QuantizationConf.method).
METHODS = ("none", "prequantized", "quantize", "merge-adapter")
# The weight formats engines are told about (QuantizationConf.format).
FORMATS = ("safetensors", "gguf")


@dataclass(frozen=True, kw_only=True)
class QuantizationConf:
    """A weight format, how its weights are produced, and the suffix it gives release names.

    ``method``: ``none`` serves the source weights; ``prequantized`` serves the repository
    the recipe names under ``variants.<name>.source``; ``quantize`` runs the quantizer
    ``quantizer`` (conf/quantizer) with ``quantizer_args``; ``merge-adapter`` merges the
    recipe's LoRA adapter into the source weights.
    """

    name: str
    display_name: str
    suffix: str
    bits: int
    dtype: str
    method: str = "none"
    quantizer: str = ""
    quantizer_args: dict[str, str] = field(default_factory=dict)
    # Whether the quantizer needs calibration data (variants.<name>.calibration).
    calibrates: bool = False
    format: str = "safetensors"
    engine_args: dict[str, dict[str, str]] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True, kw_only=True)
class QuantizerConf:
    """A tool that produces quantized weights, and the exact release of it the builder runs.

    ``module`` names the plugin in builder/effects/quantizers. ``package`` is the pinned
    distribution; ``sha256`` its archive's hash where the builder fetches the archive itself;
    ``requirements`` the packages of the separate environment it runs in (empty: the
    builder's own).
    """

    name: str
    display_name: str
    module: str
    package: str
    version: str
    sha256: str = ""
    requirements: list[str] = field(default_factory=list)
    description: str = ""


@dataclass(frozen=True, kw_only=True)
class SuiteConf:
    """A validation suite."""

    name: str
    description: str
    timeout_s: float = 60.0
    # Project files and folders the suite reads (task data): part of every cell's cache key.
    inputs: list[str] = field(default_factory=list)
    # The files the suite writes into the cell's folder (accuracy.json, ...): kept with a
    # cached validation and carried through `builder assemble`. A suite that returns a file
    # not listed here fails the cell, so the list cannot go stale.
    files: list[str] = field(default_factory=list)
    # The gate that judges the suite's results against the reference cell (a name from
    # builder.core.judge.GATES, whose document must be among ``files``); "" for none.
    gate: str = ""


@dataclass(frozen=True, kw_only=True)
class PublishConf:
    """A publish target."""

    name: str
    # The publisher module in builder/effects/publishers that sends cells to this target.
    kind: str
    description: str = ""
    path: str = ""
    # Hub targets: the API endpoint (empty: the SDK's default or its environment variable),
    # the environment variable holding the token (never read from a file), new repos' privacy,
    # the branch users see, and the prefix of the staging branch uploads go to first.
    endpoint: str = ""
    token_env: str = ""
    private: bool = True
    main_revision: str = "main"
    staging_prefix: str = "staging-"


@dataclass(frozen=True, kw_only=True)
class BaseImageSettings:
    """The CPU chip's base image, made here rather than pulled (builder/effects/baseimage.py):
    a Debian rootfs by mmdebstrap, imported with ``docker import``, Python in a venv at
    /opt/venv that is first on PATH (Debian's own Python refuses pip installs, PEP 668).

    ``sources`` are apt lines; ``{suite}`` and ``{snapshot}`` in them are filled in. The
    snapshot names the archive state the image stands for: it keys the rootfs cache (with
    the suite, the sources, the packages and the builder code that makes the image) and sets
    SOURCE_DATE_EPOCH; point the sources at snapshot.debian.org/archive/debian/{snapshot}
    to fetch exactly that state. ``pip_extra_index_urls`` go to the image's /etc/pip.conf:
    PyTorch's CPU index, so ``pip install`` of an engine that needs torch takes the CPU
    build (``2.x+cpu`` sorts above PyPI's CUDA ``2.x``) instead of gigabytes of CUDA.
    """

    tag: str = "llm-release/cpu-base:bookworm-py3.11"
    suite: str = "bookworm"
    snapshot: str = "20250520T000000Z"
    sources: list[str] = field(
        default_factory=lambda: [
            "deb http://deb.debian.org/debian {suite} main",
            "deb http://deb.debian.org/debian {suite}-updates main",
            "deb http://deb.debian.org/debian-security {suite}-security main",
        ]
    )
    packages: list[str] = field(
        default_factory=lambda: ["python3", "python3-venv", "ca-certificates"]
    )
    pip_extra_index_urls: list[str] = field(
        default_factory=lambda: ["https://download.pytorch.org/whl/cpu"]
    )


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Run-wide settings from conf/config.yaml."""

    out_dir: str = "out"
    readme: str = "README.md"
    registry: str = "ghcr.io/flagrelease"
    startup_timeout_s: float = 600.0
    request_timeout_s: float = 120.0
    # How long one quantizer or adapter merge may run (a 70B GPTQ takes hours).
    quantize_timeout_s: float = 14400.0
    # The build cache (validation results and rendered cells by content key), relative to
    # the project root; CI saves and restores this folder between runs.
    cache_dir: str = "out/.cache/builds"
    # The only host folders a recipe's file:// source may name (a recipe must not make the
    # builder read, say, ~/.ssh as a model).
    local_model_roots: list[str] = field(default_factory=lambda: ["/data/models"])
    # The base image of the cpu chip's transformers cells (conf/chip/cpu.yaml names its tag).
    cpu_base_image: BaseImageSettings = field(default_factory=BaseImageSettings)


@dataclass(frozen=True, kw_only=True)
class Catalog:
    """Everything conf/ holds, composed once per run."""

    chips: dict[str, ChipConf]
    engines: dict[str, EngineConf]
    quantizations: dict[str, QuantizationConf]
    quantizers: dict[str, QuantizerConf]
    suites: dict[str, SuiteConf]
    publish: dict[str, PublishConf]
    settings: Settings
