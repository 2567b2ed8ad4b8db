#!/bin/sh
# Starts Transformers for Tiny-Llama-GGUF-Q8_0-cpu-FlagOS (cell tiny-llama.cpu.gguf-q8_0.transformers).
# Rendered by llm-release-builder 0.1.0; the weights are expected at /models/Tiny-Llama-GGUF-Q8_0-cpu-FlagOS.
# HOST, PORT and MODEL, when set, choose where the server listens and what it serves
# (builder deploy and the builder's validation in this image set them).
# Transformers 5.23.0 fails on GGUF files of text models (see
# conf/engine/transformers.yaml); the builder validated these weights dequantized instead.
set -eu
exec transformers serve "${MODEL:-/models/Tiny-Llama-GGUF-Q8_0-cpu-FlagOS:Tiny-Llama-Q8_0.gguf}" --host "${HOST:-0.0.0.0}" --port "${PORT:-8000}" "$@"
