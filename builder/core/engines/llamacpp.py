"""llama.cpp through llama-cpp-python's OpenAI-compatible server (``llama_cpp.server``).

``ARGUMENTS`` is every setting of llama-cpp-python 0.3.36's server (the release
conf/engine/llamacpp.yaml pins): the fields of ``ModelSettings`` and ``ServerSettings`` in
``llama_cpp/server/settings.py``, which its argparse turns into ``--<field>`` flags
(underscores kept, booleans given as a value: ``--flash_attn=true``), plus ``--config_file``.
"""

from __future__ import annotations

from collections.abc import Mapping

from builder.core.engines._args import Argument, table, translate, underscored
from builder.core.model import ScalarValue

RENAMES: Mapping[str, str | None] = {
    "max_model_len": "n_ctx",
    # One request at a time; chat templates come from the GGUF file (chat_format differs).
    "max_num_seqs": None,
    "chat_template": None,
}
# What the builder sets itself (conf/engine/llamacpp.yaml's serve line).
RESERVED = ("model", "model_alias", "host", "port", "interrupt_requests")
# Settings that read host files, download other models or reach other hosts.
DENIED = (
    "api_key",
    "clip_model_path",
    "config_file",
    "hf_model_repo_id",
    "hf_pretrained_model_name_or_path",
    "hf_tokenizer_config_path",
    "lora_base",
    "lora_path",
    "rpc_servers",
    "ssl_certfile",
    "ssl_keyfile",
)
ARGUMENTS: Mapping[str, Argument] = table(
    """
api_key                          str
cache                            bool
cache_size                       int
cache_type                       str
chat_format                      str
chat_template_kwargs             str
clip_model_path                  str
config_file                      str
disable_ping_events              bool
draft_model                      str
draft_model_num_pred_tokens      int
embedding                        bool
flash_attn                       bool
hf_model_repo_id                 str
hf_pretrained_model_name_or_path str
hf_tokenizer_config_path         str
host                             str
interrupt_requests               bool
kv_overrides                     str
last_n_tokens_size               int
logits_all                       bool
lora_base                        str
lora_path                        str
main_gpu                         int
model                            str
model_alias                      str
mul_mat_q                        bool
n_batch                          int
n_ctx                            int
n_gpu_layers                     int
n_threads                        int
n_threads_batch                  int
n_ubatch                         int
numa                             bool
offload_kqv                      bool
port                             int
root_path                        str
rope_freq_base                   float
rope_freq_scale                  float
rope_scaling_type                int
rpc_servers                      str
seed                             int
split_mode                       int
ssl_certfile                     str
ssl_keyfile                      str
tensor_split                     float
type_k                           int
type_v                           int
use_mlock                        bool
use_mmap                         bool
verbose                          bool
vocab_only                       bool
yarn_attn_factor                 float
yarn_beta_fast                   float
yarn_beta_slow                   float
yarn_ext_factor                  float
yarn_orig_ctx                    int
""",
    flag=underscored,
    bool_value=True,
)


def translate_args(args: Mapping[str, ScalarValue]) -> tuple[list[str], tuple[str, ...]]:
    return translate(args, ARGUMENTS, RENAMES)
