"""Fixtures that start real servers: a Docker daemon, a registry, fake hubs, and a release.

dockerd and the registry come from Debian (docker.io, docker-registry); when they are
missing the fixtures install them with apt-get (as .ci/run does) and skip only if that is
impossible. Everything started here is stopped and its folders removed at teardown.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.conftest import ROOT
from tests.fakehub.server import FakeHub

if TYPE_CHECKING:
    from builder.core.catalog_model import BaseImageSettings

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
        # The builder's docker commands and the SDK (docker.from_env) reach this daemon.
        saved = os.environ.get("DOCKER_HOST")
        os.environ["DOCKER_HOST"] = host
        try:
            yield host
        finally:
            if saved is None:
                os.environ.pop("DOCKER_HOST", None)
            else:
                os.environ["DOCKER_HOST"] = saved
    finally:
        _stop(proc)
        log.close()
        _unmount_below(work)
        shutil.rmtree(work, ignore_errors=True)


def _unmount_below(folder: Path) -> None:
    """Unmount what the daemon left mounted under its folders (overlay layers, shm)."""
    prefix = str(folder.resolve())
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m.startswith(prefix)), reverse=True):
        subprocess.run(["umount", "-l", mount], check=False, capture_output=True)


def archive_problem(spec: BaseImageSettings) -> str:
    """Why the Debian archive the base image's sources name cannot be reached ("" if it can)."""
    from builder.effects import baseimage

    for line in baseimage.filled_sources(spec):
        words = [w for w in line.split() if not w.startswith("[")]
        url = f"{words[1]}/dists/{words[2]}/InRelease"
        try:
            httpx.head(url, timeout=15, follow_redirects=True).raise_for_status()
        except httpx.HTTPError as exc:
            return f"the Debian archive is not reachable ({url}: {exc})"
    return ""


@pytest.fixture(scope="session")
def cpu_base(docker_host: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The cpu chip's real base image, made here (mmdebstrap, docker import, the host layer
    .ci/stage-host-context stages: this machine's proxy CA and CPU torch wheel), as
    `builder base-image` makes it; its tag."""
    from builder.session import load_catalog

    if shutil.which("mmdebstrap") is None:
        pytest.skip("mmdebstrap is not installed (apt-get install mmdebstrap): it makes the rootfs")
    spec = load_catalog(ROOT / "conf").settings.cpu_base_image
    problem = archive_problem(spec)
    if problem:
        pytest.skip(problem)
    staged = tmp_path_factory.mktemp("host-context")
    stage = [str(ROOT / ".ci" / "stage-host-context"), str(staged)]
    subprocess.run(stage, check=True, timeout=300, capture_output=True)
    os.environ["LLMRB_HOST_CONTEXT"] = str(staged)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "builder", "base-image", "--root", str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    print(
        f"\ncpu base image: {done.stdout.strip().splitlines()[-1]} in {time.monotonic() - started:.1f}s"
    )
    return spec.tag


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


def release_overrides(registry_port: int) -> list[str]:
    """The tiny cells with images named for the local registry."""
    return [f"settings.registry=127.0.0.1:{registry_port}/flagrelease"]


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


def copy_project(released: Path, copy: Path) -> Path:
    """A copy of a released project whose model and variant caches are the original's (a
    test can publish or deploy the weights each cell was validated with)."""
    shutil.copytree(released, copy, symlinks=True, ignore=shutil.ignore_patterns(".cache", ".lock"))
    (copy / "out" / ".cache").mkdir()
    for shared in ("models", "variants"):
        (copy / "out" / ".cache" / shared).symlink_to(released / "out" / ".cache" / shared)
    return copy


@pytest.fixture
def project(released: Path, tmp_path: Path) -> Path:
    """A fresh copy of the released project for one test."""
    return copy_project(released, tmp_path / "project")


@pytest.fixture(scope="session")
def released_in_images(
    released: Path, cpu_base: str, registry_port: int, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The released project released again with ``--runtime container``: every cell
    validated in its own image (built on the real cpu base), as the workflow's cell jobs do."""
    from builder.cli import main

    project = copy_project(released, tmp_path_factory.mktemp("released-in-images") / "project")
    argv = ["release", "--runtime", "container", "--root", str(project)]
    assert main([*argv, *release_overrides(registry_port)]) == 0
    return project


@pytest.fixture
def project_in_images(released_in_images: Path, tmp_path: Path) -> Path:
    """A fresh copy of the project released in images, for one test."""
    return copy_project(released_in_images, tmp_path / "project")


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
