"""Validation inside the image the release publishes (`--runtime container`): the same
verdicts as on the host, a crashing engine fails its cell with the container's own log, and
the container is removed on every way out (Ctrl-C included)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import release_overrides

pytestmark = pytest.mark.integration
CELL = "tiny-llama.cpu.bf16.transformers"
INTERRUPTIBLE_BUILDER = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from builder.cli import main; sys.exit(main(sys.argv[1:]))"
)


def validations(project: Path) -> dict[str, dict[str, Any]]:
    found = {}
    for path in (project / "out").glob("*/*/validation.json"):
        data = json.loads(path.read_text())
        found[data["cell"]] = data
    return found


def seconds(validation: dict[str, Any]) -> float:
    start = datetime.fromisoformat(validation["started_at"])
    return (datetime.fromisoformat(validation["finished_at"]) - start).total_seconds()


def containers_of_builder() -> list[str]:
    done = subprocess.run(
        ["docker", "ps", "-a", "-q", "--filter", "label=io.llm-release.owner-pid"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split()


def test_in_the_image_and_on_the_host_the_verdicts_agree(
    released: Path, released_in_images: Path
) -> None:
    host, image = validations(released), validations(released_in_images)
    assert set(host) == set(image)
    for cell, on_host in host.items():
        in_image = image[cell]
        assert (on_host["runtime"]["kind"], in_image["runtime"]["kind"]) == ("host", "container")
        assert in_image["status"] == on_host["status"] == "passed", (cell, in_image["reason"])
        verdicts = [(g["task"], g["value"], g["verdict"]) for g in in_image["gates"]["accuracy"]]
        assert verdicts == [
            (g["task"], g["value"], g["verdict"]) for g in on_host["gates"]["accuracy"]
        ], cell
    ratio = sum(seconds(v) for v in image.values()) / sum(seconds(v) for v in host.values())
    print(
        "\nvalidation time, container / host: "
        + ", ".join(
            f"{c}: {seconds(image[c]):.1f}s / {seconds(host[c]):.1f}s" for c in sorted(host)
        )
        + f" (ratio {ratio:.2f})"
    )
    assert not containers_of_builder()


def test_a_crashing_engine_fails_its_cell_with_the_containers_log(
    project_in_images: Path, registry_port: int
) -> None:
    recipe = project_in_images / "recipes" / "tiny-llama.yaml"
    recipe.write_text(recipe.read_text() + "serve: {dtype: float99}\n")
    # SIGINT as a terminal's Ctrl-C sends it, even when this suite runs where SIGINT is
    # ignored (a background job of a shell without job control passes SIG_IGN down).
    argv = [sys.executable, "-c", INTERRUPTIBLE_BUILDER, "validate", "--runtime", "container"]
    argv += ["--root", str(project_in_images), "recipe=tiny-llama", "quantization=bf16"]
    done = subprocess.run(
        [*argv, *release_overrides(registry_port)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 4, done.stdout + done.stderr
    validation = validations(project_in_images)[CELL]
    assert validation["status"] == "failed"
    assert "before it was healthy; last log lines:" in validation["reason"]
    # The engine's own complaint, read from the container before it was removed.
    assert "float99" in validation["reason"], validation["reason"]
    assert not containers_of_builder()


def test_ctrl_c_removes_the_container(project_in_images: Path, registry_port: int) -> None:
    recipe = project_in_images / "recipes" / "tiny-llama.yaml"
    recipe.write_text(recipe.read_text().replace("prompts_per_point: 2", "prompts_per_point: 3"))
    # SIGINT as a terminal's Ctrl-C sends it, even when this suite runs where SIGINT is
    # ignored (a background job of a shell without job control passes SIG_IGN down).
    argv = [sys.executable, "-c", INTERRUPTIBLE_BUILDER, "validate", "--runtime", "container"]
    argv += ["--root", str(project_in_images), "recipe=tiny-llama", "quantization=bf16"]
    builder = subprocess.Popen(
        [*argv, *release_overrides(registry_port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 600
        while not containers_of_builder():
            assert builder.poll() is None, builder.stdout.read() if builder.stdout else ""
            assert time.monotonic() < deadline, "no container was started"
            time.sleep(0.5)
        time.sleep(2)
        os.killpg(builder.pid, signal.SIGINT)
        assert builder.wait(timeout=120) == 130
    finally:
        if builder.poll() is None:
            os.killpg(builder.pid, signal.SIGKILL)
    assert not containers_of_builder()
