"""Real images: `builder publish --target registry` builds the tiny cells' Dockerfiles on a
private dockerd, pushes them to a local registry and pulls them back by digest."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import SECOND_RECIPE, release_overrides

pytestmark = pytest.mark.integration


def blob_bytes(storage: Path) -> int:
    """What the registry stores (layers and configs), as the measure of bytes pushed."""
    blobs = storage / "docker" / "registry" / "v2" / "blobs"
    return sum(p.stat().st_size for p in blobs.rglob("data")) if blobs.exists() else 0


def publish_images(project: Path, docker_host: str, port: int, recipe: str) -> str:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "builder",
            "publish",
            "--root",
            str(project),
            "--target",
            "registry",
            f"recipe={recipe}",
            "quantization=bf16",  # one image per recipe (tiny-llama also has a GGUF cell)
            *release_overrides(port),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "DOCKER_HOST": docker_host},
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def layer_files(image: Any) -> dict[str, int]:
    """Every file in the image's layers, with its mode."""
    names: dict[str, int] = {}
    with tarfile.open(fileobj=io.BytesIO(b"".join(image.save())), mode="r") as saved:
        for member in saved.getmembers():
            if member.name.endswith("layer.tar") or member.name.startswith("blobs/"):
                data = saved.extractfile(member)
                if data is None:
                    continue
                with tarfile.open(fileobj=io.BytesIO(data.read())) as layer:
                    names |= {m.name: m.mode for m in layer.getmembers()}
    return names


def test_images_push_pull_by_digest_and_share_layers(
    project: Path, docker_host: str, registry: Path, registry_port: int, base_image: str
) -> None:
    import docker

    client = docker.DockerClient(base_url=docker_host)
    cell = "tiny-llama.cpu.bf16.transformers"
    repo = f"127.0.0.1:{registry_port}/flagrelease/tiny-llama"
    before = blob_bytes(registry)
    out = publish_images(project, docker_host, registry_port, "tiny-llama")
    first = blob_bytes(registry) - before
    assert f"{cell} -> registry: published: {repo}@sha256:" in out, out
    digest = out.split(f"{repo}@")[1].split()[0]

    tags = httpx.get(f"http://127.0.0.1:{registry_port}/v2/flagrelease/tiny-llama/tags/list")
    readable = "cpu-bf16-transformers5.23.0-builder0.1.0"
    assert readable in tags.json()["tags"]
    [pinned] = [t for t in tags.json()["tags"] if t != readable]
    assert pinned.startswith(f"{readable}-")

    client.images.remove(f"{repo}:{readable}", force=True)
    client.images.remove(f"{repo}:{pinned}", force=True)
    image = client.images.pull(f"{repo}@{digest}")
    labels = image.attrs["Config"]["Labels"]
    manifest = project / "out" / "tiny-llama" / cell / "manifest.json"
    assert labels["io.llm-release.cell"] == cell
    assert labels["io.llm-release.recipe"] == "tiny-llama"
    assert (
        labels["io.llm-release.manifest-sha256"]
        == hashlib.sha256(manifest.read_bytes()).hexdigest()
    )
    assert labels["org.opencontainers.image.title"] == "Tiny-Llama-cpu-FlagOS"
    assert labels["org.opencontainers.image.base.name"] == base_image
    assert image.attrs["Config"]["Entrypoint"] == ["/opt/release/serve.sh"]

    # No weights in any layer; serve.sh is there and executable.
    names = layer_files(image)
    assert names["opt/release/serve.sh"] & 0o111
    assert not [
        n for n in names if n.endswith((".safetensors", ".bin.index.json", "tokenizer.json"))
    ]

    # A second cell with the same chip and engine shares every layer but its own serve.sh.
    before = blob_bytes(registry)
    out_b = publish_images(project, docker_host, registry_port, SECOND_RECIPE)
    second = blob_bytes(registry) - before
    print(f"\nregistry bytes stored: first cell {first}, second cell {second}")
    print(out.splitlines()[-3], out_b.splitlines()[-3], sep="\n")
    assert first > 4 * 1024 * 1024
    assert second < 64 * 1024, second

    # Unchanged: nothing is built or sent again.
    again = publish_images(project, docker_host, registry_port, "tiny-llama")
    assert f"{cell} -> registry: unchanged: {repo}@{digest}" in again, again
    assert json.loads((project / "out" / "release.json").read_text())["cells"]
