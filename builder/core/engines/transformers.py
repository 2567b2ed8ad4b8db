"""Hugging Face Transformers' own OpenAI-compatible server (``transformers serve``).

It serves one forced model, takes no parallelism or context-length settings, and names
the model in requests by the path (or id) it was started with.
"""

from __future__ import annotations

from collections.abc import Mapping

from builder.core.engines._flags import as_flags
from builder.core.model import ScalarValue

FLAGS: Mapping[str, str | None] = {
    "dtype": "--dtype",
    "trust_remote_code": "--trust-remote-code",
    "device": "--device",
    "attn_implementation": "--attn-implementation",
    "max_model_len": None,
    "tensor_parallel_size": None,
    "pipeline_parallel_size": None,
    "gpu_memory_utilization": None,
    "max_num_seqs": None,
}


def translate_args(args: Mapping[str, ScalarValue]) -> tuple[list[str], tuple[str, ...]]:
    return as_flags(args, FLAGS)
