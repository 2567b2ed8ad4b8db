"""The cpu base image for real, on the private dockerd: made by builder/effects/baseimage.py
(mmdebstrap from the Debian archive, docker import, the host layer of whatever
.ci/stage-host-context stages here), then the rendered Dockerfile of the tiny transformers
cell built on it unchanged with its `pip install` really running, and the engine started in
a container from that image, serving the tiny model.

Needs mmdebstrap, the Debian archive the settings name and the package index (pip in the
build). The rootfs tarball is kept in LLMRB_ROOTFS_CACHE (default
~/.cache/llm-release-builder/rootfs): only the first run on a machine runs mmdebstrap.
Timings and sizes are printed (pytest -s shows them).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from builder.cli import main
from builder.core.catalog_model import BaseImageSettings
from builder.effects import baseimage
from builder.effects.models import materialize
from builder.session import load_catalog
from tests.conftest import ROOT
from tests.integration.conftest import archive_problem, free_port
from tests.support.project import new_project

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("mmdebstrap") is None,
        reason="mmdebstrap is not installed (apt-get install mmdebstrap): it makes the rootfs",
    ),
]

CELL = "tiny-llama.cpu.bf16.transformers"
CELL_TAG = "llm-release-test/tiny-cell:1"
MODEL_DIR = "/models/Tiny-Llama-cpu-FlagOS"
T = TypeVar("T")


def timed(make: Callable[[], T]) -> tuple[T, float]:
    start = time.monotonic()
    result = make()
    return result, time.monotonic() - start


def mb(size: int) -> str:
    return f"{size / 1e6:.0f} MB"


@dataclass(frozen=True)
class Base:
    client: Any
    spec: BaseImageSettings
    first: baseimage.Built
    second: baseimage.Built
    seconds: tuple[float, float]


@pytest.fixture(scope="module")
def base(docker_host: str, tmp_path_factory: pytest.TempPathFactory) -> Base:
    """The base image built twice: the second build must find the first."""
    import docker

    spec = load_catalog(ROOT / "conf").settings.cpu_base_image
    problem = archive_problem(spec)
    if problem:
        pytest.skip(problem)
    staged = tmp_path_factory.mktemp("host-context")
    subprocess.run([str(ROOT / ".ci" / "stage-host-context"), str(staged)], check=True, timeout=300)
    client = docker.DockerClient(base_url=docker_host, timeout=1800)

    def build() -> baseimage.Built:
        cache = baseimage.default_cache_dir()
        return baseimage.build(client, spec, cache_dir=cache, host_context=staged, log=print)

    first, cold = timed(build)
    second, warm = timed(build)
    print(f"\nbase image: first build {cold:.1f} s (ran {', '.join(first.ran) or 'nothing'})")
    print(f"base image: second build {warm:.1f} s (ran {', '.join(second.ran) or 'nothing'})")
    return Base(client, spec, first, second, (cold, warm))


def run(client: Any, image: str, script: str) -> str:
    """What ``sh -c script`` prints in a container of ``image`` (host network)."""
    out = client.containers.run(
        image, ["-c", script], entrypoint="sh", network_mode="host", remove=True
    )
    return str(out.decode())


def test_the_base_image_is_built_once_and_found_again(base: Base) -> None:
    assert base.second.ran == ()
    assert base.second.image_id == base.first.image_id
    assert base.seconds[1] < 15, base.seconds
    image = base.client.images.get(base.spec.tag)
    labels = image.attrs["Config"]["Labels"]
    assert labels["io.llm-release.base-key"] == base.first.key
    assert ("io.llm-release.base.host-layer" in labels) == base.first.host_layer
    print(f"base image {base.spec.tag}: {mb(image.attrs['Size'])}")
    facts = run(
        base.client,
        base.spec.tag,
        "python3 -c 'import sys; print(sys.version.split()[0], sys.prefix)'; "
        "command -v python3; command -v pip; test -f /usr/lib/python3.11/EXTERNALLY-MANAGED && echo pep668",
    ).split()
    assert facts[0].startswith("3.11."), facts
    # The venv's Python first on PATH; the system Python keeps its PEP 668 marker.
    assert facts[1:] == ["/opt/venv", "/opt/venv/bin/python3", "/opt/venv/bin/pip", "pep668"]


@dataclass(frozen=True)
class Cell:
    image: Any
    seconds: tuple[float, float]


@pytest.fixture(scope="module")
def cell(
    base: Base, tmp_path_factory: pytest.TempPathFactory, tiny_model_cache: Path
) -> Iterator[Cell]:
    """The rendered tiny cell's Dockerfile built on the base, unchanged, twice."""
    project = new_project(tmp_path_factory.mktemp("project"), tiny_model_cache)
    shutil.copy(ROOT / "recipes" / "tiny-llama.yaml", project / "recipes")
    assert main(["render", "--root", str(project), "recipe=tiny-llama"]) == 0
    rendered = project / "out" / "tiny-llama" / CELL
    dockerfile = (rendered / "Dockerfile").read_text()
    assert dockerfile == (ROOT / "tests" / "golden" / CELL / "Dockerfile").read_text()
    assert f"FROM {base.spec.tag}\n" in dockerfile
    assert "RUN python3 -m pip install --no-cache-dir 'transformers[serving]==5.23.0'" in dockerfile
    context = tmp_path_factory.mktemp("context")
    for name in ("Dockerfile", "serve.sh"):
        shutil.copy2(rendered / name, context / name)

    def build() -> Any:
        image, _ = base.client.images.build(
            path=str(context), tag=CELL_TAG, rm=True, forcerm=True, pull=False, network_mode="host"
        )
        return image

    cold_image, cold = timed(build)
    image, cached = timed(build)
    assert image.id == cold_image.id
    print(f"\ncell image: first build {cold:.1f} s, again with the pip layer cached {cached:.1f} s")
    print(f"cell image {CELL_TAG}: {mb(image.attrs['Size'])}")
    yield Cell(image, (cold, cached))
    base.client.images.remove(CELL_TAG, force=True)


def test_the_cell_image_has_the_engine_and_a_cpu_torch(base: Base, cell: Cell) -> None:
    assert cell.seconds[1] < 30, cell.seconds
    script = (
        "python3 -c 'import json, torch, transformers; "
        "print(json.dumps([torch.__version__, transformers.__version__, torch.cuda.is_available()]))'; "
        "python3 -m pip list --format=json; transformers serve --help >/dev/null && echo serve-ok"
    )
    versions, installed, ok = run(base.client, CELL_TAG, script).strip().splitlines()[-3:]
    torch_version, transformers_version, cuda = json.loads(versions)
    assert torch_version.endswith("+cpu"), torch_version
    assert (transformers_version, cuda) == ("5.23.0", False)
    names = [p["name"].lower() for p in json.loads(installed)]
    assert not [n for n in names if n.startswith(("nvidia-", "triton"))], names
    assert ok == "serve-ok"
    print(f"\ncell image: torch {torch_version}, transformers {transformers_version}")


def test_the_cell_image_serves_the_tiny_model(
    base: Base, cell: Cell, tiny_model_cache: Path
) -> None:
    weights = materialize("generate://tiny-llama", tiny_model_cache)
    port = free_port()
    container = base.client.containers.run(
        CELL_TAG,
        ["--port", str(port)],  # serve.sh passes its arguments on: the last --port wins
        detach=True,
        network_mode="host",
        environment={"HF_HUB_OFFLINE": "1"},
        volumes={str(weights): {"bind": MODEL_DIR, "mode": "ro"}},
    )
    try:
        url = f"http://127.0.0.1:{port}"
        started = time.monotonic()
        while True:
            container.reload()
            assert container.status in ("created", "running"), container.logs()[-2000:]
            try:
                if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() - started < 300, container.logs()[-2000:]
            time.sleep(1)
        print(f"\ncell container healthy after {time.monotonic() - started:.1f} s")
        answer = httpx.post(
            f"{url}/v1/completions",
            json={"model": MODEL_DIR, "prompt": "2+3=", "max_tokens": 3, "temperature": 0},
            timeout=120,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["choices"][0]["text"].strip().startswith("5"), answer.text
    finally:
        container.remove(force=True)
