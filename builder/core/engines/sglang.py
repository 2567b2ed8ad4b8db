"""SGLang: its launch_server flags differ from vLLM's for the same settings."""

from __future__ import annotations

from collections.abc import Mapping

from builder.core.engines._flags import as_flags
from builder.core.model import ScalarValue

FLAGS: Mapping[str, str | None] = {
    "max_model_len": "--context-length",
    "tensor_parallel_size": "--tp-size",
    "pipeline_parallel_size": "--pp-size",
    "data_parallel_size": "--dp-size",
    "dtype": "--dtype",
    "quantization": "--quantization",
    "kv_cache_dtype": "--kv-cache-dtype",
    "trust_remote_code": "--trust-remote-code",
    "gpu_memory_utilization": "--mem-fraction-static",
    "max_num_seqs": "--max-running-requests",
    "seed": "--random-seed",
    "revision": "--revision",
    "tokenizer": "--tokenizer-path",
    "chat_template": "--chat-template",
}


def translate_args(args: Mapping[str, ScalarValue]) -> tuple[list[str], tuple[str, ...]]:
    return as_flags(args, FLAGS)
