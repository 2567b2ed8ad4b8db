#!/bin/sh
# Starts Transformers for Tiny-Llama-cpu-FlagOS (cell tiny-llama.cpu.bf16.transformers).
# Rendered by llm-release-builder 0.1.0; the weights are expected at /models/Tiny-Llama-cpu-FlagOS.
set -eu
exec transformers serve /models/Tiny-Llama-cpu-FlagOS --host 0.0.0.0 --port 8000 --dtype=bfloat16 "$@"
