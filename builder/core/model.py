"""The recipe model: what a recipe (untrusted input, from pull requests) may say.

The classes are read by :mod:`builder.core.typed` with file/line errors and also generate
the recipe JSON Schema; the patterns beside the fields drive both. Catalog entries (conf/)
are in :mod:`builder.core.catalog_model`, the cells of a plan in :mod:`builder.core.cells`.
All of them are frozen: once loaded, nothing mutates them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Patterns for values that end up in shell lines, Dockerfiles, paths and repo names.
NAME = r"[a-z0-9][a-z0-9_-]{0,63}"
# Words joined by single separators: also a valid Docker image path once lowercased, and a
# valid Hugging Face repo name (no "..", "--", leading or trailing separator).
MODEL_NAME = r"(?=.{1,96}$)[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*"
REPO_PART = r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}"
REVISION = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
SOURCE = (
    rf"(?:huggingface|modelscope)://{REPO_PART}/{REPO_PART}(?:@{REVISION})?"
    r"|file:///(?!.*(?:^|/)\.\.(?:/|$))[A-Za-z0-9._/-]{1,255}"
    r"|generate://tiny-llama"
)
# An adapter's source: as a model's, or the tiny LoRA the builder makes for its own tests.
ADAPTER_SOURCE = SOURCE.replace("generate://tiny-llama", "generate://tiny-lora")
# Calibration data: a JSON-lines file of the project ({"text": ...} per line) or a Hub data set.
CALIBRATION = (
    r"calibration/(?!.*(?:^|/)\.\.(?:/|$))[A-Za-z0-9._/-]{1,200}\.jsonl"
    rf"|huggingface://{REPO_PART}/{REPO_PART}(?:@{REVISION})?"
)
LICENSE = r"[a-z0-9][a-z0-9.+-]{0,63}"
LANGUAGE = r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?"
ARG_NAME = r"[a-z][a-z0-9_]{0,63}"
SAFE_TEXT = r"[^\x00-\x1f\x7f]{0,2000}"
# One line of prose for the model card: it starts with a letter, digit, quote or
# parenthesis (so it cannot open a Markdown heading, list, quote or code block), holds no
# HTML or code spans, no control characters and nothing invisible that changes how text
# reads (bidirectional overrides, zero-width characters, line separators).
DESCRIPTION = (
    r"(?:[A-Za-z0-9\u00c0-\u1fff\u3040-\ud7ff\"'(]"
    r"[^\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff<>`]{0,1999})?"
)
RELEASE_NAME = r"[A-Za-z0-9{}._-]{1,96}"
# What a release name must be once its placeholders are filled (a Hub repository name).
REPO_NAME = r"(?=.{1,96}$)[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*"
# A string engine argument: one token with no shell, Markdown or path-escape meaning. It
# cannot start with "-" (another flag), "/" or "~" (a file of the host), nor hold "..".
SERVE_VALUE = r"(?![-/~.])(?!.*\.\.)[A-Za-z0-9_.,:=+@%{}\[\]\" /-]{0,256}"
# Engine arguments the builder sets itself: a recipe must not move the server off loopback
# (or onto a Unix socket), change its port or swap the model it validates.
RESERVED_SERVE_ARGS = ("host", "port", "model", "served_model_name", "uds")
# Engine arguments (vLLM's names) that load code, read or write files of the host, or reach
# other hosts: a recipe must not reach the runner's file system or network through the
# engine. Each engine module lists the same for its own names (builder/core/engines/).
DENIED_SERVE_ARGS = (
    "allowed_local_media_path",
    "api_key",
    "config",
    "data_parallel_address",
    "data_parallel_rpc_port",
    "default_mm_loras",
    "download_dir",
    "hf_config_path",
    "hf_token",
    "io_processor_plugin",
    "kv_events_config",
    "kv_transfer_config",
    "log_config_file",
    "logits_processor_pattern",
    "logits_processors",
    "lora_modules",
    "middleware",
    "model_loader_extra_config",
    "otlp_traces_endpoint",
    "reasoning_parser_plugin",
    "scheduler_cls",
    "ssl_ca_certs",
    "ssl_certfile",
    "ssl_keyfile",
    "tool_parser_plugin",
    "tool_server",
    "worker_cls",
    "worker_extension_cls",
)
# Engine arguments that take either a name or the dotted path of a class to import: only
# the names are allowed.
SERVE_CHOICES: dict[str, tuple[str, ...]] = {
    "distributed_executor_backend": ("external_launcher", "mp", "ray", "uni"),
}
# lm-eval gets generation arguments as one "k=v,k=v" string (--gen_kwargs): a string value
# is one token that cannot end its pair or start another (no "," "=" quotes or spaces).
GEN_VALUE = r"[A-Za-z0-9_.:+@%-]{0,64}"
# Generation arguments lm-eval's API models send, with their type and bounds (others pass
# as they are, still one token or a finite number).
GEN_KWARGS: dict[str, tuple[str, float, float]] = {
    "max_gen_toks": ("int", 1, 1 << 20),
    "temperature": ("float", 0, 100),
    "top_p": ("float", 0, 1),
    "top_k": ("int", 0, 1 << 20),
    "seed": ("int", 0, 2**63 - 1),
    "do_sample": ("bool", 0, 0),
}
TASK_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}"
BASELINE_PATH = r"baselines/(?!.*(?:^|/)\.\.(?:/|$))[A-Za-z0-9._/-]{1,200}\.json"

ScalarValue = str | int | float | bool


def _doc(text: str, pattern: str | None = None, values: str | None = None) -> dict[str, str]:
    meta = {"doc": text}
    if pattern is not None:
        meta["pattern"] = pattern
    if values is not None:
        meta["value_pattern"] = values  # for mappings: what string values must match
    return meta


# ---------------------------------------------------------------------------------- recipes


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """The model a recipe releases."""

    name: str = field(metadata=_doc("Model name used in release names, e.g. Qwen3-8B", MODEL_NAME))
    source: str = field(
        metadata=_doc(
            "Where the weights come from: huggingface://org/name@rev, modelscope://org/name@rev, "
            "file:///path or generate://tiny-llama",
            SOURCE,
        )
    )
    license: str = field(metadata=_doc("SPDX-style license id, e.g. apache-2.0", LICENSE))
    languages: list[str] = field(default_factory=list, metadata=_doc("ISO codes", LANGUAGE))
    description: str = field(
        default="", metadata=_doc("One line of prose for the card", DESCRIPTION)
    )
    adapter: AdapterSpec | None = field(
        default=None,
        metadata=_doc("A LoRA adapter released with the model (merged by lora-merged cells)"),
    )


@dataclass(frozen=True, kw_only=True)
class AdapterSpec:
    """A LoRA adapter for the model's weights (peft format: adapter_config.json + weights)."""

    source: str = field(
        metadata=_doc(
            "Where the adapter comes from: huggingface://, modelscope://, file:/// "
            "or generate://tiny-lora",
            ADAPTER_SOURCE,
        )
    )


@dataclass(frozen=True, kw_only=True)
class CalibrationSpec:
    """Calibration data for quantizers that need it (GPTQ, SmoothQuant)."""

    dataset: str = field(
        metadata=_doc(
            'calibration/<file>.jsonl (one {"text": ...} per line) or huggingface://org/name',
            CALIBRATION,
        )
    )
    samples: int = field(default=256, metadata=_doc("Calibration samples (1-100000)"))
    max_seq_length: int = field(
        default=2048, metadata=_doc("Tokens per calibration sample (16-1048576)")
    )


@dataclass(frozen=True, kw_only=True)
class VariantSource:
    """What the catalog leaves to the recipe for one quantization's weights."""

    source: str | None = field(
        default=None,
        metadata=_doc("Prequantized quantizations: the repository holding the weights", SOURCE),
    )
    calibration: CalibrationSpec | None = field(
        default=None, metadata=_doc("Quantizers that calibrate: the data they use")
    )


@dataclass(frozen=True, kw_only=True)
class Axes:
    """The axes whose product is the build matrix."""

    chip: list[str] = field(metadata=_doc("Chip names from conf/chip", NAME))
    quantization: list[str] = field(metadata=_doc("Quantizations from conf/quantization", NAME))
    engine: list[str] = field(metadata=_doc("Serving engines from conf/engine", NAME))


@dataclass(frozen=True, kw_only=True)
class Selector:
    """Matches cells: every axis given must be equal; an axis left out matches anything."""

    chip: str | None = field(default=None, metadata=_doc("Chip name", NAME))
    quantization: str | None = field(default=None, metadata=_doc("Quantization name", NAME))
    engine: str | None = field(default=None, metadata=_doc("Engine name", NAME))

    def matches(self, chip: str, quantization: str, engine: str) -> bool:
        return (
            self.chip in (None, chip)
            and self.quantization in (None, quantization)
            and self.engine in (None, engine)
        )

    def given(self) -> dict[str, str]:
        values = {"chip": self.chip, "quantization": self.quantization, "engine": self.engine}
        return {k: v for k, v in values.items() if v is not None}


@dataclass(frozen=True, kw_only=True)
class Override:
    """Engine arguments for the cells a selector matches (later entries win)."""

    select: Selector
    serve: dict[str, ScalarValue] = field(
        default_factory=dict,
        metadata=_doc("Engine arguments (vLLM names, _ for -)", ARG_NAME, SERVE_VALUE),
    )


@dataclass(frozen=True, kw_only=True)
class AccuracySpec:
    """The accuracy suite: lm-eval tasks run against the cell's own server, and their gate."""

    tasks: list[str] = field(
        default_factory=lambda: ["tiny_arith_gen"],
        metadata=_doc("lm-eval task names, or tasks bundled in tasks/", TASK_NAME),
    )
    limit: int | None = field(
        default=None, metadata=_doc("Samples per task (all when unset); at least 1")
    )
    num_fewshot: int | None = field(default=None, metadata=_doc("Few-shot examples per prompt"))
    apply_chat_template: bool = field(
        default=False, metadata=_doc("Send prompts through the chat endpoint and template")
    )
    gen_kwargs: dict[str, ScalarValue] = field(
        default_factory=dict,
        metadata=_doc(
            "Generation arguments for generative tasks (lm-eval --gen_kwargs)", ARG_NAME, GEN_VALUE
        ),
    )
    max_drop: float = field(
        default=0.05, metadata=_doc("Largest tolerated drop against the reference, relative (0-1)")
    )
    confidence: float = field(
        default=0.95, metadata=_doc("Confidence of the interval the gate decides on (0.5-0.999)")
    )
    baseline: str | None = field(
        default=None,
        metadata=_doc(
            "A stored reference result (baselines/...json), used when the reference cell "
            "did not run in this release",
            BASELINE_PATH,
        ),
    )


@dataclass(frozen=True, kw_only=True)
class PerfScenario:
    """One request shape of the performance sweep."""

    input_len: int = field(metadata=_doc("Prompt tokens per request"))
    output_len: int = field(metadata=_doc("Generated tokens per request"))


@dataclass(frozen=True, kw_only=True)
class PerfSpec:
    """The performance suite: a concurrency sweep against the cell's server, and its gate."""

    scenarios: list[PerfScenario] = field(
        default_factory=lambda: [
            PerfScenario(input_len=1024, output_len=1024),
            PerfScenario(input_len=1024, output_len=8192),
            PerfScenario(input_len=8192, output_len=1024),
        ],
        metadata=_doc("Request shapes (FlagRelease and InferenceX: 1k/1k, 1k/8k, 8k/1k)"),
    )
    concurrency: list[int] = field(
        default_factory=lambda: [1, 2, 4, 8, 16, 32, 64, 128, 256],
        metadata=_doc("Concurrent requests per point (InferenceX sweeps 1 to 256)"),
    )
    prompts_per_point: int = field(
        default=4, metadata=_doc("Requests per point and trial, as a multiple of its concurrency")
    )
    trials: int = field(
        default=3,
        metadata=_doc(
            "Times each point is measured (3-100); the gate compares the medians of the "
            "trials with an interval"
        ),
    )
    min_ratio: float = field(
        default=0.8,
        metadata=_doc("Throughput each point must reach, as a share of the reference's (0-1)"),
    )
    confidence: float = field(
        default=0.95,
        metadata=_doc("Confidence of the throughput ratio's interval (0.5-0.999)"),
    )
    interleave: bool = field(
        default=True,
        metadata=_doc(
            "Measure the reference again in alternation with the cell (ABAB) when its chip "
            "and engine are on the same host"
        ),
    )


@dataclass(frozen=True, kw_only=True)
class ValidateSpec:
    """How cells are validated."""

    reference: Selector | None = field(
        default=None, metadata=_doc("The cell others are compared with")
    )
    suites: list[str] = field(
        default_factory=lambda: ["smoke"], metadata=_doc("Suites from conf/suite", NAME)
    )
    accuracy: AccuracySpec = field(default_factory=AccuracySpec)
    perf: PerfSpec = field(default_factory=PerfSpec)


@dataclass(frozen=True, kw_only=True)
class ReleaseSpec:
    """How released artifacts are named."""

    org: str = field(metadata=_doc("Hub organisation", REPO_PART))
    name: str = field(
        default="{model}{quant_suffix}-{chip}",
        metadata=_doc(
            "Repo name; placeholders {model} {quant_suffix} {chip} {engine} {quantization}",
            RELEASE_NAME,
        ),
    )


@dataclass(frozen=True, kw_only=True)
class Recipe:
    """A release recipe: one model across chips, quantizations and engines."""

    model: ModelSpec
    matrix: Axes
    exclude: list[Selector] = field(default_factory=list, metadata=_doc("Cells to drop"))
    include: list[Selector] = field(
        default_factory=list, metadata=_doc("Extra cells; all three axes required")
    )
    serve: dict[str, ScalarValue] = field(
        default_factory=dict,
        metadata=_doc("Engine arguments (vLLM names, _ for -)", ARG_NAME, SERVE_VALUE),
    )
    overrides: list[Override] = field(default_factory=list)
    variants: dict[str, VariantSource] = field(
        default_factory=dict,
        metadata=_doc(
            "Per quantization: prequantized sources and quantizers' calibration data", NAME
        ),
    )
    validate: ValidateSpec = field(default_factory=ValidateSpec)
    release: ReleaseSpec


RELEASE_PLACEHOLDERS = ("model", "quant_suffix", "chip", "engine", "quantization")
