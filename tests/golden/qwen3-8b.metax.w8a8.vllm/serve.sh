#!/bin/sh
# Starts vLLM for Qwen3-8B-W8A8-metax-FlagOS (cell qwen3-8b.metax.w8a8.vllm).
# Rendered by llm-release-builder 0.1.0; the weights are expected at /models/Qwen3-8B-W8A8-metax-FlagOS.
# HOST, PORT and MODEL, when set, choose where the server listens and what it serves
# (builder deploy and the builder's validation in this image set them).
set -eu
exec vllm serve "${MODEL:-/models/Qwen3-8B-W8A8-metax-FlagOS}" --host "${HOST:-0.0.0.0}" --port "${PORT:-8000}" --served-model-name Qwen3-8B-W8A8-metax-FlagOS --gpu-memory-utilization=0.9 --max-model-len=32768 --quantization=compressed-tensors --tensor-parallel-size=2 "$@"
