"""llama.cpp through llama-cpp-python's OpenAI-compatible server (``llama_cpp.server``)."""

from __future__ import annotations

from collections.abc import Mapping

from builder.core.engines._flags import as_flags
from builder.core.model import ScalarValue

FLAGS: Mapping[str, str | None] = {
    "max_model_len": "--n_ctx",
    "n_gpu_layers": "--n_gpu_layers",
    "seed": "--seed",
    "max_num_seqs": None,
    "chat_template": None,
}


def translate_args(args: Mapping[str, ScalarValue]) -> tuple[list[str], tuple[str, ...]]:
    return as_flags(args, FLAGS)
