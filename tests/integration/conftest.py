"""Fixtures that start real servers: a Docker daemon, a registry, fake hubs, and a release.

dockerd and the registry come from Debian (docker.io, docker-registry); when they are
missing the fixtures install them with apt-get (as .ci/run does) and skip only if that is
impossible. Everything started here is stopped and its folders removed at teardown.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT
from tests.fakehub.server import FakeHub

BASE_IMAGE = "llm-release-test/base:1"
HF_TOKEN = "hf_PLANTEDtokenNEVERwrite0123456789"
MS_TOKEN = "ms-PLANTED-token-never-write-9876543210"
SECOND_RECIPE = "tiny-llama-b"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ensure_programs(*programs: str) -> str | None:
    """None when every program is there (installing docker.io/docker-registry if need be)."""
    if all(shutil.which(p) for p in programs):
        return None
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return f"{', '.join(programs)} missing and apt-get cannot install them (not root or no apt)"
    done = subprocess.run(
        ["apt-get", "install", "-y", "-q", "docker.io", "docker-registry"],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    if done.returncode != 0 or not all(shutil.which(p) for p in programs):
        return f"apt-get install docker.io docker-registry failed: {done.stderr[-500:]}"
    return None


def _stop(proc: subprocess.Popen[bytes], grace_s: float = 30) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="session")
def docker_host() -> Iterator[str]:
    """A private dockerd: own socket, data root, exec root and pid file; no iptables/bridge."""
    missing = _ensure_programs("dockerd", "containerd", "docker-registry")
    if missing:
        pytest.skip(missing)
    import docker

    work = Path(tempfile.mkdtemp(prefix="llmrb-dockerd-", dir="/tmp"))
    sock = work / "docker.sock"
    log = (work / "dockerd.log").open("wb")
    proc = subprocess.Popen(
        [
            "dockerd",
            "--iptables=false",
            "--bridge=none",
            "--host",
            f"unix://{sock}",
            "--data-root",
            str(work / "data"),
            "--exec-root",
            str(work / "exec"),
            "--pidfile",
            str(work / "docker.pid"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    host = f"unix://{sock}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                tail = (work / "dockerd.log").read_text(errors="replace")[-1500:]
                pytest.skip(f"dockerd exited with {proc.returncode}:\n{tail}")
            with contextlib.suppress(Exception):
                docker.DockerClient(base_url=host).ping()
                break
            if time.monotonic() > deadline:
                pytest.fail("dockerd did not answer within 90 s")
            time.sleep(0.5)
        yield host
    finally:
        _stop(proc)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="session")
def registry_port() -> int:
    """Chosen before the release so image names can carry it."""
    return free_port()


@pytest.fixture(scope="session")
def registry(docker_host: str, registry_port: int) -> Iterator[Path]:
    """Debian's distribution registry on 127.0.0.1; yields its storage folder."""
    work = Path(tempfile.mkdtemp(prefix="llmrb-registry-", dir="/tmp"))
    (work / "config.yml").write_text(
        "version: 0.1\n"
        f"storage:\n  filesystem:\n    rootdirectory: {work / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{registry_port}\n"
    )
    log = (work / "registry.log").open("wb")
    proc = subprocess.Popen(
        ["docker-registry", "serve", str(work / "config.yml")],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{registry_port}/v2/").status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the registry did not start: " + (work / "registry.log").read_text())
            time.sleep(0.2)
        yield work / "data"
    finally:
        _stop(proc, grace_s=10)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="session")
def base_image(docker_host: str) -> str:
    """A base image made here FROM scratch: 4 MiB of fixed bytes stand in for the engine."""
    import docker

    client = docker.DockerClient(base_url=docker_host)
    with tempfile.TemporaryDirectory(prefix="llmrb-base-") as ctx:
        engine = random.Random(0).randbytes(4 * 1024 * 1024)
        (Path(ctx) / "engine.bin").write_bytes(engine)
        (Path(ctx) / "Dockerfile").write_text(
            "FROM scratch\nCOPY engine.bin /opt/engine/engine.bin\n"
        )
        client.images.build(path=ctx, tag=BASE_IMAGE, rm=True)
    return BASE_IMAGE


def release_overrides(registry_port: int) -> list[str]:
    """The tiny cells with images for the local registry, on a base that ships the engine
    (so the Dockerfile has no `RUN pip install`, which cannot run in a scratch image)."""
    return [
        f"settings.registry=127.0.0.1:{registry_port}/flagrelease",
        f"chip.cpu.base_image.transformers={BASE_IMAGE}",
        "+chip.cpu.engine_versions.transformers=5.23.0",
    ]


@pytest.fixture(scope="session")
def released(tmp_path_factory: pytest.TempPathFactory, registry_port: int) -> Path:
    """A project whose two tiny recipes (same chip and engine) were released and passed; the
    first also has its GGUF Q8_0 variant."""
    from builder.cli import main

    project = tmp_path_factory.mktemp("released")
    for name in ("conf", "templates", "tasks"):
        shutil.copytree(ROOT / name, project / name)
    (project / "recipes").mkdir()
    text = (ROOT / "recipes" / "tiny-llama.yaml").read_text()
    (project / "recipes" / "tiny-llama.yaml").write_text(text)
    # The second recipe without the GGUF variant: one cell each for most publish tests.
    second = text.replace("name: Tiny-Llama\n", "name: Tiny-Llama-B\n").replace(
        "quantization: [bf16, gguf-q8_0]", "quantization: [bf16]"
    )
    (project / "recipes" / f"{SECOND_RECIPE}.yaml").write_text(second)
    (project / "README.md").write_text("# Demo\n\n<!-- START:models -->\n<!-- END:models -->\n")
    assert main(["release", "--root", str(project), *release_overrides(registry_port)]) == 0
    return project


@pytest.fixture
def project(released: Path, tmp_path: Path) -> Path:
    """A fresh copy of the released project for one test (the model and variant caches are
    shared: publishing reads the weights each cell was validated with from them)."""
    copy = tmp_path / "project"
    shutil.copytree(released, copy, symlinks=True, ignore=shutil.ignore_patterns(".cache", ".lock"))
    (copy / "out" / ".cache").mkdir()
    for shared in ("models", "variants"):
        (copy / "out" / ".cache" / shared).symlink_to(released / "out" / ".cache" / shared)
    return copy


@pytest.fixture
def fake_hf(tmp_path: Path) -> Iterator[FakeHub]:
    hub = FakeHub(tmp_path / "fake-hf", "hf", HF_TOKEN).start()
    yield hub
    hub.stop()


@pytest.fixture
def fake_ms(tmp_path: Path) -> Iterator[FakeHub]:
    hub = FakeHub(tmp_path / "fake-ms", "ms", MS_TOKEN).start()
    yield hub
    hub.stop()


def publish_env(fake_hf: FakeHub, fake_ms: FakeHub, **extra: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_TOKEN")}
    env.update(
        HF_ENDPOINT=fake_hf.url,
        MODELSCOPE_ENDPOINT=fake_ms.url,
        HF_TOKEN=HF_TOKEN,
        MODELSCOPE_API_TOKEN=MS_TOKEN,
        # The fake speaks plain LFS, not Xet.
        HF_HUB_DISABLE_XET="1",
        HF_HOME=str(Path(fake_hf.root) / "hf-home"),
        MODELSCOPE_HOME=str(Path(fake_ms.root) / "ms-home"),
        MODELSCOPE_CACHE=str(Path(fake_ms.root) / "ms-cache"),
        NO_PROXY="127.0.0.1,localhost",
    )
    env.update(extra)
    return env
