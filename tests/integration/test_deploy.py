"""`builder deploy`: the released tiny cell started on this host and in its own image,
answering chat completions, listed by `status`, its output in `logs`, and `stop` leaving the
port free and nothing running; a deploy killed halfway leaves nothing `stop --all` misses."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import free_port, release_overrides


def overrides(registry_port: int) -> list[str]:
    """The release's catalog overrides, as deploy takes them (--override, repeatable)."""
    return [a for o in release_overrides(registry_port) for a in ("--override", o)]


pytestmark = pytest.mark.integration
CELL = "tiny-llama.cpu.bf16.transformers"


def builder(
    project: Path, *argv: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "builder", argv[0], "--root", str(project), *argv[1:]],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={**os.environ, **(env or {})},
    )


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def engine_processes(cell: str) -> list[int]:
    """Processes that carry the deployment's token in their environment."""
    token = f"LLMRB_DEPLOYMENT=llmrb-deploy-{cell}".encode()
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if token in environ.read_bytes().split(b"\0"):
                found.append(int(environ.parent.name))
        except OSError:
            continue
    return found


def deployed_containers() -> list[str]:
    done = subprocess.run(
        ["docker", "ps", "-a", "-q", "--filter", "label=io.llm-release.deployment"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.split()


def deploy_and_use(project: Path, runtime: str, registry_port: int) -> None:
    port = free_port()
    started = time.monotonic()
    done = builder(
        project,
        "deploy",
        CELL,
        "--runtime",
        runtime,
        "--port",
        str(port),
        *overrides(registry_port),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    print(f"\ndeploy ({runtime}): healthy after {time.monotonic() - started:.1f}s")
    assert f"endpoint: http://127.0.0.1:{port}/v1" in done.stdout
    curl = re.search(r"try it:\s+(curl .*)", done.stdout)
    assert curl is not None, done.stdout
    request = json.loads(curl.group(1).split("-d '")[1].rstrip("'"))
    answer = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=request, timeout=120)
    assert answer.status_code == 200, answer.text
    assert answer.json()["choices"][0]["message"]["role"] == "assistant", answer.text
    # The tiny model learned bare sums, not chat: the completions endpoint shows it is the
    # released model that answers (its chat replies may be empty).
    completion = httpx.post(
        f"http://127.0.0.1:{port}/v1/completions",
        json={"model": request["model"], "prompt": "2+3=", "max_tokens": 4, "temperature": 0},
        timeout=120,
    )
    assert completion.status_code == 200, completion.text
    assert completion.json()["choices"][0]["text"].strip().startswith("5"), completion.text
    status = builder(project, "status")
    row = next(line for line in status.stdout.splitlines() if line.startswith(CELL))
    assert row.split()[1] == runtime
    assert row.split()[-1] == "healthy", status.stdout
    logs = builder(project, "logs", CELL, "--tail", "5")
    assert logs.returncode == 0
    assert logs.stdout.strip(), "the engine printed nothing"
    stopped = builder(project, "stop", CELL)
    assert stopped.returncode == 0, stopped.stderr
    assert f"stopped {CELL}" in stopped.stdout
    assert "no deployment" in builder(project, "status").stdout
    assert not listening(port)
    assert not engine_processes(CELL)
    assert not deployed_containers()


def test_deploy_on_the_host(project: Path, registry_port: int) -> None:
    deploy_and_use(project, "host", registry_port)


def test_deploy_in_the_image(project_in_images: Path, registry_port: int) -> None:
    deploy_and_use(project_in_images, "container", registry_port)


@pytest.mark.parametrize("runtime", ["host", "container"])
def test_a_deploy_killed_halfway_is_cleaned_by_stop_all(
    project_in_images: Path, registry_port: int, runtime: str
) -> None:
    port = free_port()
    killed = builder(
        project_in_images,
        "deploy",
        CELL,
        "--runtime",
        runtime,
        "--port",
        str(port),
        *overrides(registry_port),
        env={"BUILDER_TEST_KILL_AT": "deploy-started"},
    )
    assert killed.returncode == -9, killed.stdout + killed.stderr
    assert engine_processes(CELL) or deployed_containers(), "nothing was started"
    assert CELL in builder(project_in_images, "status").stdout
    stopped = builder(project_in_images, "stop", "--all")
    assert stopped.returncode == 0, stopped.stderr
    deadline = time.monotonic() + 30
    while (listening(port) or engine_processes(CELL)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not listening(port)
    assert not engine_processes(CELL)
    assert not deployed_containers()


def test_deploy_refuses_what_it_cannot_do_well(project: Path, registry_port: int) -> None:
    flags = overrides(registry_port)
    gguf = "tiny-llama.cpu.gguf-q8_0.transformers"
    index = project / "out" / "release.json"
    data = json.loads(index.read_text())
    for entry in data["cells"]:
        if entry["id"] == gguf:
            entry["status"] = "failed"
    index.write_text(json.dumps(data))
    refused = builder(project, "deploy", gguf, *flags)
    assert refused.returncode == 2
    assert "not passed" in refused.stderr
    assert "--allow-unqualified" in refused.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = builder(project, "deploy", CELL, "--port", str(port), *flags)
    assert busy.returncode == 2
    assert f"--port {port}: something already listens" in busy.stderr
    devices = builder(project, "deploy", CELL, "--devices", "2", *flags)
    assert devices.returncode == 2
    assert "has no devices to choose" in devices.stderr
    unknown = builder(project, "deploy", "tiny-llama.cpu.bf16.transformer", *flags)
    assert "did you mean 'tiny-llama.cpu.bf16.transformers'" in unknown.stderr
