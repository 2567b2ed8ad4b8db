"""Real images: the tiny cells validated in their own images (built on the real cpu base,
`pip install` and all), then `builder publish --target registry` pushes exactly those
images to a local registry and pulls them back by digest; an image nobody ran is refused."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import SECOND_RECIPE, release_overrides

pytestmark = pytest.mark.integration
CELL = "tiny-llama.cpu.bf16.transformers"
GGUF_CELL = "tiny-llama.cpu.gguf-q8_0.transformers"


def blob_bytes(storage: Path) -> int:
    """What the registry stores (layers and configs), as the measure of bytes pushed."""
    blobs = storage / "docker" / "registry" / "v2" / "blobs"
    return sum(p.stat().st_size for p in blobs.rglob("data")) if blobs.exists() else 0


def publish_images(project: Path, port: int, *selection: str, code: int = 0) -> str:
    argv = [sys.executable, "-m", "builder", "publish", "--root", str(project)]
    argv += ["--target", "registry", *selection, *release_overrides(port)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == code, done.stdout + done.stderr
    return done.stdout + done.stderr


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


def runtime(project: Path, cell: str) -> dict[str, Any]:
    recipe = cell.split(".")[0]
    data = json.loads((project / "out" / recipe / cell / "validation.json").read_text())
    return dict(data["runtime"])


def test_cells_are_validated_in_their_own_images(project_in_images: Path) -> None:
    found = runtime(project_in_images, CELL)
    assert found["kind"] == "container"
    assert found["image_id"].startswith("sha256:")
    assert found["engine_version"] == "5.23.0"  # probed inside the running container
    assert "engine_version_note" not in found
    assert found["docker_run"][:3] == ["docker", "run", "-d"]
    card = (project_in_images / "out" / "tiny-llama" / CELL / "README.md").read_text()
    assert f"in this cell's image `{found['image']}` (`{found['image_id']}`)" in card


def test_validated_images_are_pushed_pulled_by_digest_and_share_layers(
    project_in_images: Path, docker_host: str, registry: Path, registry_port: int
) -> None:
    import docker

    client = docker.DockerClient(base_url=docker_host)
    project = project_in_images
    repo = f"127.0.0.1:{registry_port}/flagrelease/tiny-llama"
    before = blob_bytes(registry)
    out = publish_images(project, registry_port, "recipe=tiny-llama", "quantization=bf16")
    first = blob_bytes(registry) - before
    assert f"{CELL} -> registry: published: {repo}@sha256:" in out, out
    digest = out.split(f"{repo}@")[1].split()[0]
    tags = httpx.get(f"http://127.0.0.1:{registry_port}/v2/flagrelease/tiny-llama/tags/list")
    readable = "cpu-bf16-transformers5.23.0-builder0.1.0"
    assert readable in tags.json()["tags"]

    # What comes back is the image the suites ran against, by id.
    validated = runtime(project, CELL)["image_id"]
    client.images.remove(f"{repo}:{readable}", force=True)
    image = client.images.pull(f"{repo}@{digest}")
    assert image.id == validated
    assert image.attrs["Config"]["Entrypoint"] == ["/opt/release/serve.sh"]
    names = layer_files(image)
    assert names["opt/release/serve.sh"] & 0o111
    assert not [n for n in names if n.endswith((".safetensors", "tokenizer.json", ".gguf"))]

    # The second recipe's image shares every layer but its own serve.sh and labels.
    before = blob_bytes(registry)
    publish_images(project, registry_port, f"recipe={SECOND_RECIPE}", "quantization=bf16")
    second = blob_bytes(registry) - before
    print(f"\nregistry bytes stored: first cell {first:,}, second cell {second:,}")
    assert first > 500_000_000  # Python, torch and the engine: the image that ran
    assert second < 64 * 1024, second

    # release.json has the digest; the README shows the tag now that it was pushed.
    index = json.loads((project / "out" / "release.json").read_text())
    entry = next(e for e in index["cells"] if e["id"] == CELL)
    assert entry["published"]["registry"]["commit"] == digest
    readme = (project / "README.md").read_text()
    row = next(line for line in readme.splitlines() if "Tiny-Llama-cpu-FlagOS" in line)
    assert f"`{repo}:{readable}`" in row
    again = publish_images(project, registry_port, "recipe=tiny-llama", "quantization=bf16")
    assert f"{CELL} -> registry: unchanged: {repo}@{digest}" in again, again


def test_an_image_nobody_ran_is_refused_unless_asked(
    project: Path, docker_host: str, registry: Path, registry_port: int, cpu_base: str
) -> None:
    """The host-validated release: its images were never started."""
    refused = publish_images(
        project, registry_port, "recipe=tiny-llama", "quantization=bf16", code=7
    )
    assert "was validated as a host process, not in its image" in refused
    assert "--runtime container" in refused
    argv = ["--allow-unqualified", "recipe=tiny-llama", "quantization=bf16"]
    out = publish_images(project, registry_port, *argv)
    assert f"{CELL} -> registry: published:" in out, out
    digest = out.split("@sha256:")[1].split()[0]
    pulled = subprocess.run(
        [
            "docker",
            "image",
            "inspect",
            "--format",
            "{{json .Config.Labels}}",
            f"127.0.0.1:{registry_port}/flagrelease/tiny-llama@sha256:{digest}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert pulled.returncode == 0, pulled.stderr
    assert json.loads(pulled.stdout)["io.llm-release.validated"] == "false"
