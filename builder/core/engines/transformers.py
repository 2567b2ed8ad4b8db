"""Hugging Face Transformers' own OpenAI-compatible server (``transformers serve``).

It serves one forced model, takes no parallelism or context-length settings, and names
the model in requests by the path (or id) it was started with. ``ARGUMENTS`` is every
option of ``transformers serve`` 5.23.0 (the release conf/engine/transformers.yaml pins),
read from the parameters of its ``Serve`` command (typer: booleans are ``--x``/``--no-x``).
"""

from __future__ import annotations

from collections.abc import Mapping

from builder.core.engines._args import Argument, table, translate
from builder.core.model import ScalarValue

RENAMES: Mapping[str, str | None] = {
    "seed": "default_seed",
    # vLLM's quantization methods (fp8, awq, ...) are not transformers serve's (bnb-4bit).
    "quantization": None,
    "max_model_len": None,
    "tensor_parallel_size": None,
    "pipeline_parallel_size": None,
    "gpu_memory_utilization": None,
    "max_num_seqs": None,
}
# What the builder sets itself (the positional model and the serve line's options).
RESERVED = ("force_model", "host", "port")
# Reads a file of the host (decision labels and a chat template).
DENIED = ("decision_config",)
ARGUMENTS: Mapping[str, Argument] = table(
    """
attn_implementation   str
cb_block_size         int
cb_max_batch_tokens   int
cb_max_memory_percent float
cb_num_blocks         int
cb_use_cuda_graph     bool no
chat_template_kwargs  str
compile               bool no
continuous_batching   bool no
decision_config       str
default_seed          int
device                str
dtype                 str
enable_cors           bool no
host                  str
log_level             str
model_timeout         int
port                  int
quantization          str
reasoning             str
trust_remote_code     bool no
"""
)


def translate_args(args: Mapping[str, ScalarValue]) -> tuple[list[str], tuple[str, ...]]:
    return translate(args, ARGUMENTS, RENAMES)
