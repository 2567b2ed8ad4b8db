"""The builder run by its full path, with the environment's bin/ not on PATH (a pipx
install, or ``/path/venv/bin/builder``), finds the tools installed beside it."""

from __future__ import annotations

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
