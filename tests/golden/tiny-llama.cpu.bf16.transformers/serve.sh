#!/bin/sh
# Starts Transformers for Tiny-Llama-cpu-FlagOS (cell tiny-llama.cpu.bf16.transformers).
# Rendered by llm-release-builder 0.1.0; the weights are expected at /models/Tiny-Llama-cpu-FlagOS.
# HOST, PORT and MODEL, when set, choose where the server listens and what it serves
# (builder deploy and the builder's validation in this image set them).
set -eu
exec transformers serve "${MODEL:-/models/Tiny-Llama-cpu-FlagOS}" --host "${HOST:-0.0.0.0}" --port "${PORT:-8000}" --dtype=bfloat16 "$@"
