"""SGLang (``sglang.launch_server``): its names differ from vLLM's for some settings.

``ARGUMENTS`` is every argument of SGLang 0.5.4's launch_server (the release
conf/engine/sglang.yaml pins), read from its ``ServerArgs.add_cli_args``; deprecated flags
(which only raise) are left out. Recipe arguments are vLLM's names: ``RENAMES`` gives
SGLang's argument for the settings SGLang names differently, and an argument SGLang has
under the same name passes as it is.
"""

from __future__ import annotations

from collections.abc import Mapping

from builder.core.engines._args import Argument, table, translate
from builder.core.model import ScalarValue

RENAMES: Mapping[str, str | None] = {
    "max_model_len": "context_length",
    "gpu_memory_utilization": "mem_fraction_static",
    "max_num_seqs": "max_running_requests",
    "seed": "random_seed",
    "tokenizer": "tokenizer_path",
}
# What the builder sets itself (conf/engine/sglang.yaml's serve line), under SGLang's names.
RESERVED = ("model_path", "host", "port", "served_model_name", "grpc_mode")
# SGLang's own names for arguments that load code, read or write host files, or reach other
# hosts (vLLM's names are refused by builder.core.model).
DENIED = (
    "api_key",
    "completion_template",
    "config",
    "crash_dump_folder",
    "custom_weight_loader",
    "debug_tensor_dump_inject",
    "debug_tensor_dump_input_file",
    "debug_tensor_dump_output_folder",
    "disaggregation_bootstrap_port",
    "dist_init_addr",
    "download_dir",
    "ds_channel_config_path",
    "enable_custom_logit_processor",
    "file_storage_path",
    "hicache_storage_backend_extra_config",
    "kt_amx_weight_path",
    "kv_events_config",
    "lora_paths",
    "modelopt_checkpoint_restore_path",
    "modelopt_checkpoint_save_path",
    "modelopt_export_path",
    "nccl_port",
    "nnodes",
    "node_rank",
    "oltp_traces_endpoint",
    "pdmux_config_path",
    "quantization_param_path",
    "remote_instance_weight_loader_seed_instance_ip",
    "remote_instance_weight_loader_seed_instance_service_port",
    "remote_instance_weight_loader_send_weights_group_ports",
    "speculative_token_map",
    "tool_server",
)
ARGUMENTS: Mapping[str, Argument] = table(
    """
abort_on_priority_when_disabled                          bool
allow_auto_truncate                                      bool
api_key                                                  str
attention_backend                                        str
base_gpu_id                                              int
bucket_e2e_request_latency                               float
bucket_inter_token_latency                               float
bucket_time_to_first_token                               float
chat_template                                            str
checkpoint_engine_wait_weights_before_ready              bool
chunked_prefill_size                                     int
collect_tokens_histogram                                 bool
completion_template                                      str
config                                                   str
constrained_json_disable_any_whitespace                  bool
constrained_json_whitespace_pattern                      str
context_length                                           int
cpu_offload_gb                                           int
crash_dump_folder                                        str
cuda_graph_bs                                            int
cuda_graph_max_bs                                        int
custom_weight_loader                                     str
data_parallel_size                                       int
debug_tensor_dump_inject                                 str
debug_tensor_dump_input_file                             str
debug_tensor_dump_output_folder                          str
decode_attention_backend                                 str
decode_log_interval                                      int
deepep_config                                            str
deepep_mode                                              str
delete_ckpt_after_loading                                bool
device                                                   str
disable_chunked_prefix_cache                             bool
disable_cuda_graph                                       bool
disable_cuda_graph_padding                               bool
disable_custom_all_reduce                                bool
disable_fast_image_processor                             bool
disable_flashinfer_cutlass_moe_fp4_allgather             bool
disable_hybrid_swa_memory                                bool
disable_outlines_disk_cache                              bool
disable_overlap_schedule                                 bool
disable_radix_cache                                      bool
disable_shared_experts_fusion                            bool
disable_tokenizer_batch_decode                           bool
disaggregation_bootstrap_port                            int
disaggregation_decode_dp                                 int
disaggregation_decode_enable_offload_kvcache             bool
disaggregation_decode_polling_interval                   int
disaggregation_decode_tp                                 int
disaggregation_ib_device                                 str
disaggregation_mode                                      str
disaggregation_prefill_pp                                int
disaggregation_transfer_backend                          str
dist_init_addr                                           str
dist_timeout                                             int
download_dir                                             str
ds_channel_config_path                                   str
ds_heavy_channel_num                                     int
ds_heavy_channel_type                                    str
ds_heavy_token_num                                       int
ds_sparse_decode_threshold                               int
dtype                                                    str
dynamic_batch_tokenizer_batch_size                       int
dynamic_batch_tokenizer_batch_timeout                    float
elastic_ep_backend                                       str
enable_beta_spec                                         bool
enable_cache_report                                      bool
enable_cudagraph_gc                                      bool
enable_custom_logit_processor                            bool
enable_deterministic_inference                           bool
enable_double_sparsity                                   bool
enable_dp_attention                                      bool
enable_dp_lm_head                                        bool
enable_dynamic_batch_tokenizer                           bool
enable_eplb                                              bool
enable_expert_distribution_metrics                       bool
enable_flashinfer_allreduce_fusion                       bool
enable_fp32_lm_head                                      bool
enable_hierarchical_cache                                bool
enable_lmcache                                           bool
enable_lora                                              bool
enable_memory_saver                                      bool
enable_metrics                                           bool
enable_metrics_for_all_schedulers                        bool
enable_mixed_chunk                                       bool
enable_mscclpp                                           bool
enable_multimodal                                        bool
enable_nan_detection                                     bool
enable_nccl_nvls                                         bool
enable_p2p_check                                         bool
enable_pdmux                                             bool
enable_piecewise_cuda_graph                              bool
enable_priority_scheduling                               bool
enable_profile_cuda_graph                                bool
enable_request_time_stats_logging                        bool
enable_return_hidden_states                              bool
enable_single_batch_overlap                              bool
enable_symm_mem                                          bool
enable_tokenizer_batch_encode                            bool
enable_torch_compile                                     bool
enable_torch_symm_mem                                    bool
enable_trace                                             bool
enable_two_batch_overlap                                 bool
enable_weights_cpu_backup                                bool
ep_dispatch_algorithm                                    str
ep_num_redundant_experts                                 int
eplb_algorithm                                           str
eplb_min_rebalancing_utilization_threshold               float
eplb_rebalance_layers_per_chunk                          int
eplb_rebalance_num_iterations                            int
expert_distribution_recorder_buffer_size                 int
expert_distribution_recorder_mode                        str
expert_parallel_size                                     int
file_storage_path                                        str
flashinfer_mla_disable_ragged                            bool
flashinfer_mxfp4_moe_precision                           str
gc_warning_threshold_secs                                float
generation_tokens_buckets                                str
gpu_id_step                                              int
grammar_backend                                          str
grpc_mode                                                bool
hicache_io_backend                                       str
hicache_mem_layout                                       str
hicache_ratio                                            float
hicache_size                                             int
hicache_storage_backend                                  str
hicache_storage_backend_extra_config                     str
hicache_storage_prefetch_policy                          str
hicache_write_policy                                     str
host                                                     str
hybrid_kvcache_ratio                                     float
init_expert_location                                     str
is_embedding                                             bool
json_model_override_args                                 str
keep_mm_feature_on_device                                bool
kt_amx_method                                            str
kt_amx_weight_path                                       str
kt_cpuinfer                                              int
kt_num_gpu_experts                                       int
kt_threadpool_count                                      int
kv_cache_dtype                                           str
kv_events_config                                         str
load_balance_method                                      str
load_format                                              str
load_watch_interval                                      float
log_level                                                str
log_level_http                                           str
log_requests                                             bool
log_requests_level                                       int
lora_backend                                             str
lora_eviction_policy                                     str
lora_paths                                               str
lora_target_modules                                      str
mamba_full_memory_ratio                                  float
mamba_ssm_dtype                                          str
max_loaded_loras                                         int
max_lora_chunk_size                                      int
max_lora_rank                                            int
max_loras_per_batch                                      int
max_mamba_cache_size                                     int
max_prefill_tokens                                       int
max_queued_requests                                      int
max_running_requests                                     int
max_total_tokens                                         int
mem_fraction_static                                      float
mm_attention_backend                                     str
model_impl                                               str
model_loader_extra_config                                str
model_path                                               str
modelopt_checkpoint_restore_path                         str
modelopt_checkpoint_save_path                            str
modelopt_export_path                                     str
modelopt_quant                                           str
moe_a2a_backend                                          str
moe_dense_tp_size                                        int
moe_runner_backend                                       str
mooncake_ib_device                                       str
multi_item_scoring_delimiter                             int
nccl_port                                                int
nnodes                                                   int
node_rank                                                int
nsa_decode_backend                                       str
nsa_prefill_backend                                      str
num_continuous_decode_steps                              int
num_reserved_decode_tokens                               int
numa_node                                                int
offload_group_size                                       int
offload_mode                                             str
offload_num_in_group                                     int
offload_prefetch_step                                    int
oltp_traces_endpoint                                     str
page_size                                                int
pdmux_config_path                                        str
piecewise_cuda_graph_compiler                            str
piecewise_cuda_graph_max_tokens                          int
piecewise_cuda_graph_tokens                              str
pipeline_parallel_size                                   int
port                                                     int
pp_max_micro_batch_size                                  int
preferred_sampling_params                                str
prefill_attention_backend                                str
prefill_round_robin_balance                              bool
priority_scheduling_preemption_threshold                 int
prompt_tokens_buckets                                    str
quantization                                             str
quantization_param_path                                  str
quantize_and_serve                                       bool
radix_eviction_policy                                    str
random_seed                                              int
reasoning_parser                                         str
remote_instance_weight_loader_seed_instance_ip           str
remote_instance_weight_loader_seed_instance_service_port int
remote_instance_weight_loader_send_weights_group_ports   str
revision                                                 str
sampling_backend                                         str
sampling_defaults                                        str
schedule_conservativeness                                float
schedule_low_priority_values_first                       bool
schedule_policy                                          str
scheduler_recv_interval                                  int
served_model_name                                        str
show_time_cost                                           bool
skip_server_warmup                                       bool
skip_tokenizer_init                                      bool
sleep_on_idle                                            bool
sm_group_num                                             int
speculative_accept_threshold_acc                         float
speculative_accept_threshold_single                      float
speculative_algorithm                                    str
speculative_attention_mode                               str
speculative_draft_load_format                            str
speculative_draft_model_path                             str
speculative_draft_model_revision                         str
speculative_eagle_topk                                   int
speculative_ngram_branch_length                          int
speculative_ngram_capacity                               int
speculative_ngram_match_type                             str
speculative_ngram_max_bfs_breadth                        int
speculative_ngram_max_match_window_size                  int
speculative_ngram_min_bfs_breadth                        int
speculative_ngram_min_match_window_size                  int
speculative_num_draft_tokens                             int
speculative_num_steps                                    int
speculative_token_map                                    str
stream_interval                                          int
stream_output                                            bool
swa_full_tokens_ratio                                    float
tbo_token_distribution_threshold                         float
tensor_parallel_size                                     int
tokenizer_metrics_allowed_custom_labels                  str
tokenizer_metrics_custom_labels_header                   str
tokenizer_mode                                           str
tokenizer_path                                           str
tokenizer_worker_num                                     int
tool_call_parser                                         str
tool_server                                              str
torch_compile_max_bs                                     int
torchao_config                                           str
triton_attention_num_kv_splits                           int
triton_attention_reduce_in_fp32                          bool
triton_attention_split_tile_size                         int
trust_remote_code                                        bool
warmups                                                  str
watchdog_timeout                                         float
weight_loader_disable_mmap                               bool
weight_version                                           str
"""
)


def translate_args(args: Mapping[str, ScalarValue]) -> tuple[list[str], tuple[str, ...]]:
    return translate(args, ARGUMENTS, RENAMES)
