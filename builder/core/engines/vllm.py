"""vLLM (``vllm serve``): recipe arguments already use its names.

``ARGUMENTS`` is every argument of ``vllm serve`` 0.11.0 (the release conf/engine/vllm.yaml
pins), read from the parser vLLM itself builds (``make_arg_parser``); a name that is not
here is refused at recipe load, so an abbreviation can never reach vLLM's prefix-matching
argparse. Three deprecated ``--guided-decoding-disable-*`` flags are left out: they take
``type=bool``, which reads any text (``false`` too) as true. What the builder sets
itself and what loads code or reads host files are refused by name (builder.core.model).
"""

from __future__ import annotations

from collections.abc import Mapping

from builder.core.engines._args import Argument, table, translate
from builder.core.model import ScalarValue

ARGUMENTS: Mapping[str, Argument] = table(
    """
additional_config                       str
allow_credentials                       bool no
allowed_headers                         str
allowed_local_media_path                str
allowed_media_domains                   str
allowed_methods                         str
allowed_origins                         str
api_key                                 str
api_server_count                        int
async_scheduling                        bool no
block_size                              int
calculate_kv_scales                     bool no
chat_template                           str
chat_template_content_format            str
code_revision                           str
collect_detailed_traces                 str
compilation_config                      str
config                                  str
config_format                           str
convert                                 str
cpu_offload_gb                          float
cuda_graph_sizes                        int
data_parallel_address                   str
data_parallel_backend                   str
data_parallel_hybrid_lb                 bool no
data_parallel_rank                      int
data_parallel_rpc_port                  int
data_parallel_size                      int
data_parallel_size_local                int
data_parallel_start_rank                int
dbo_decode_token_threshold              int
dbo_prefill_token_threshold             int
decode_context_parallel_size            int
default_mm_loras                        str
disable_cascade_attn                    bool no
disable_chunked_mm_input                bool no
disable_custom_all_reduce               bool no
disable_fastapi_docs                    bool no
disable_frontend_multiprocessing        bool no
disable_hybrid_kv_cache_manager         bool no
disable_log_requests                    bool no
disable_log_stats                       bool
disable_mm_preprocessor_cache           bool
disable_sliding_window                  bool no
disable_uvicorn_access_log              bool no
distributed_executor_backend            str
download_dir                            str
dtype                                   str
enable_auto_tool_choice                 bool no
enable_chunked_prefill                  bool no
enable_dbo                              bool no
enable_eplb                             bool no
enable_expert_parallel                  bool no
enable_force_include_usage              bool no
enable_log_outputs                      bool no
enable_log_requests                     bool no
enable_lora                             bool no
enable_lora_bias                        bool no
enable_multimodal_encoder_data_parallel bool
enable_prefix_caching                   bool no
enable_prompt_embeds                    bool no
enable_prompt_tokens_details            bool no
enable_request_id_headers               bool no
enable_server_load_tracking             bool no
enable_sleep_mode                       bool no
enable_ssl_refresh                      bool no
enable_tokenizer_info_endpoint          bool no
enforce_eager                           bool no
eplb_config                             str
eplb_log_balancedness                   bool no
eplb_step_interval                      int
eplb_window_size                        int
exclude_tools_when_tool_choice_none     bool no
expert_placement_strategy               str
fully_sharded_loras                     bool no
generation_config                       str
gpu_memory_utilization                  float
guided_decoding_backend                 str
h11_max_header_count                    int
h11_max_incomplete_event_size           int
headless                                bool
hf_config_path                          str
hf_overrides                            str
hf_token                                str
host                                    str
ignore_patterns                         str
interleave_mm_strings                   bool no
io_processor_plugin                     str
kv_cache_dtype                          str
kv_cache_memory_bytes                   size
kv_events_config                        str
kv_sharing_fast_prefill                 bool no
kv_transfer_config                      str
limit_mm_per_prompt                     str
load_format                             str
log_config_file                         str
log_error_stack                         bool no
logits_processor_pattern                str
logits_processors                       str
logprobs_mode                           str
long_prefill_token_threshold            int
lora_dtype                              str
lora_extra_vocab_size                   int
lora_modules                            str
mamba_cache_dtype                       str
mamba_ssm_cache_dtype                   str
max_cpu_loras                           int
max_log_len                             int
max_logprobs                            int
max_long_partial_prefills               int
max_lora_rank                           int
max_loras                               int
max_model_len                           size
max_num_batched_tokens                  size
max_num_partial_prefills                int
max_num_seqs                            int
max_parallel_loading_workers            int
media_io_kwargs                         str
middleware                              str
mm_encoder_tp_mode                      str
mm_processor_cache_gb                   float
mm_processor_cache_type                 str
mm_processor_kwargs                     str
mm_shm_cache_max_object_size_mb         int
model                                   str
model_impl                              str
model_loader_extra_config               str
num_gpu_blocks_override                 int
num_lookahead_slots                     int
num_redundant_experts                   int
otlp_traces_endpoint                    str
override_attention_dtype                str
override_generation_config              str
override_pooler_config                  str
pipeline_parallel_size                  int
pooler_config                           str
port                                    int
prefix_caching_hash_algo                str
pt_load_map_location                    str
quantization                            str
ray_workers_use_nsight                  bool no
reasoning_parser                        str
response_role                           str
return_tokens_as_token_ids              bool no
revision                                str
root_path                               str
rope_scaling                            str
rope_theta                              float
runner                                  str
safetensors_load_strategy               str
scheduler_cls                           str
scheduling_policy                       str
seed                                    int
served_model_name                       str
show_hidden_metrics_for_version         str
skip_mm_profiling                       bool no
skip_tokenizer_init                     bool no
speculative_config                      str
ssl_ca_certs                            str
ssl_cert_reqs                           int
ssl_certfile                            str
ssl_keyfile                             str
structured_outputs_config               str
swap_space                              float
task                                    str
tensor_parallel_size                    int
tokenizer                               str
tokenizer_mode                          str
tokenizer_revision                      str
tool_call_parser                        str
tool_parser_plugin                      str
tool_server                             str
trust_remote_code                       bool no
trust_request_chat_template             bool no
uds                                     str
use_tqdm_on_load                        bool no
uvicorn_log_level                       str
video_pruning_rate                      float
worker_cls                              str
worker_extension_cls                    str
"""
)
RENAMES: Mapping[str, str | None] = {}


def translate_args(args: Mapping[str, ScalarValue]) -> tuple[list[str], tuple[str, ...]]:
    return translate(args, ARGUMENTS, RENAMES)
