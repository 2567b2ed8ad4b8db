"""The builder run by its full path, with the environment's bin/ not on PATH (a pipx
install, or ``/path/venv/bin/builder``), finds the tools installed beside it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration

# The console script pip put beside this Python (as written: a venv's python is a symlink).
BUILDER = Path(sys.executable).parent / "builder"


def _builder(*args: str, path: str) -> subprocess.CompletedProcess[str]:
    if not BUILDER.is_file():
        pytest.skip(f"no builder console script beside {sys.executable}")
    env = {"PATH": path, "HOME": os.environ.get("HOME", "/"), "HF_HUB_OFFLINE": "1"}
    # Where the caches of the test session are, and (when the tests run against another
    # checkout than the one installed) which builder to import.
    for name in ("XDG_CACHE_HOME", "PYTHONPATH", "LLMRB_TOOLS_DIR"):
        if name in os.environ:
            env[name] = os.environ[name]
    return subprocess.run(
        [str(BUILDER), *args, "--root", str(ROOT)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("path", ["", "/usr/bin:/bin"])
def test_lint_by_full_path_finds_hadolint_beside_the_builder(path: str) -> None:
    done = _builder("lint", path=path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(": ok (") == len(list((ROOT / "recipes").glob("*.yaml")))


def test_doctor_by_full_path_says_the_tools_are_beside_the_builder() -> None:
    done = _builder("doctor", "--format", "json", path="")
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(done.stdout)
    tools = {t["name"]: t for t in data["tools"]}
    assert tools["hadolint"]["found"], tools["hadolint"]
    assert tools["hadolint"]["where"] == str(BUILDER.parent / "hadolint")
    assert tools["hadolint"]["version"][0].isdigit()
    engines = {e["name"]: e for e in data["engines"]}
    assert engines["transformers"]["where"] == str(BUILDER.parent / "transformers")
    assert engines["transformers"]["version"], engines["transformers"]
    # The engine found where validation will find it: the tiny cells would run here.
    here = {c["cell"]: c["status"] for c in data["cells"]}
    assert here["tiny-llama.cpu.bf16.transformers"] == "runs-here"
    assert here["qwen3-8b.nvidia.bf16.vllm"] == "awaiting-runner"
