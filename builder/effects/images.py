"""Container images through the Docker SDK: build a cell's Dockerfile, push, pull by digest.

The daemon is the one DOCKER_HOST names (docker.from_env); registry credentials are the
Docker client's own (``docker login``). The build context holds only what the Dockerfile
copies (the Dockerfile and serve.sh), never the weights, so images of cells that share a
chip and an engine share every layer but the small last ones.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from builder.errors import PublishError

CONTEXT_FILES = ("Dockerfile", "serve.sh")


@dataclass(frozen=True, kw_only=True)
class Pushed:
    """A pushed image: its digest and how many layer bytes actually went to the registry."""

    digest: str
    pushed_bytes: int
    layers_pushed: int
    layers_existing: int


def client() -> Any:
    try:
        import docker
    except ImportError:
        msg = "the registry target needs the Docker SDK: pip install docker"
        raise PublishError(msg) from None
    try:
        return docker.from_env(timeout=300)
    except docker.errors.DockerException as exc:
        msg = f"cannot reach the Docker daemon (DOCKER_HOST): {exc}"
        raise PublishError(msg) from None


def split_ref(ref: str) -> tuple[str, str]:
    """``host:port/org/name:tag`` -> (``host:port/org/name``, ``tag``)."""
    repo, _, tag = ref.rpartition(":")
    if not repo or "/" in tag:
        return ref, "latest"
    return repo, tag


def build(
    docker_client: Any,
    cell_dir: Path,
    work: Path,
    *,
    tags: Iterable[str],
    labels: Mapping[str, str],
    log: Callable[[str], None],
    network_mode: str = "host",
) -> Any:
    """Build the image of the cell whose files are in ``cell_dir``; returns the SDK image.

    ``RUN`` steps use the host's network (``pip install`` reaches the index as the host
    does, with no bridge needed on the daemon)."""
    import docker

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for name in CONTEXT_FILES:
        shutil.copy2(cell_dir / name, work / name)
    tags = list(tags)
    try:
        image, stream = docker_client.images.build(
            path=str(work),
            tag=tags[0],
            labels=dict(labels),
            rm=True,
            forcerm=True,
            pull=False,
            network_mode=network_mode,
        )
    except docker.errors.BuildError as exc:
        tail = "".join(str(c.get("stream", "")) for c in exc.build_log)[-2000:]
        msg = f"docker build of {tags[0]} failed: {exc.msg}\n{tail}"
        raise PublishError(msg) from None
    except docker.errors.APIError as exc:
        msg = f"docker build of {tags[0]} failed: {exc}"
        raise PublishError(msg) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for ref in tags[1:]:
        repo, tag = split_ref(ref)
        image.tag(repo, tag)
    for chunk in stream:
        if "stream" in chunk and chunk["stream"].strip().startswith("Step"):
            log(f"    {chunk['stream'].strip()}")
    return image


def push(docker_client: Any, ref: str) -> Pushed:
    """Push ``ref``; counts the layer bytes sent (layers the registry has are not sent)."""
    repo, tag = split_ref(ref)
    sent: dict[str, int] = {}
    pushed: set[str] = set()
    existing: set[str] = set()
    digest = ""
    for event in docker_client.api.push(repo, tag=tag, stream=True, decode=True):
        if "error" in event:
            msg = f"docker push {ref}: {event['error']}"
            raise PublishError(msg)
        layer = str(event.get("id", ""))
        status = str(event.get("status", ""))
        detail = event.get("progressDetail") or {}
        if status == "Pushing" and "current" in detail:
            sent[layer] = max(sent.get(layer, 0), int(detail["current"]))
        elif status == "Pushed":
            pushed.add(layer)
        elif status == "Layer already exists" or status.startswith("Mounted from"):
            existing.add(layer)
        aux = event.get("aux") or {}
        if "Digest" in aux:
            digest = str(aux["Digest"])
    if not digest:
        msg = f"docker push {ref}: the registry did not report a digest"
        raise PublishError(msg)
    return Pushed(
        digest=digest,
        pushed_bytes=sum(sent.get(layer, 0) for layer in pushed),
        layers_pushed=len(pushed),
        layers_existing=len(existing),
    )


@dataclass(frozen=True, kw_only=True)
class Pulled:
    """An image pulled back from the registry: its id and labels."""

    image_id: str
    labels: Mapping[str, str]


def pull_by_digest(docker_client: Any, repo: str, digest: str) -> Pulled:
    """Pull ``repo@digest`` back (the check that the push landed)."""
    image = docker_client.images.pull(f"{repo}@{digest}")
    labels = image.attrs.get("Config", {}).get("Labels") or {}
    return Pulled(image_id=str(image.id), labels={str(k): str(v) for k, v in labels.items()})


def has_image(docker_client: Any, image_id: str) -> bool:
    import docker

    try:
        docker_client.images.get(image_id)
    except docker.errors.ImageNotFound:
        return False
    return True


def tag(docker_client: Any, image_id: str, refs: Iterable[str]) -> None:
    image = docker_client.images.get(image_id)
    for ref in refs:
        repo, name = split_ref(ref)
        image.tag(repo, name)


def save(docker_client: Any, image_id: str, path: Path) -> int:
    """``docker save`` of one image into ``path`` (written whole or not at all); its size."""
    image = docker_client.images.get(image_id)
    staged = path.with_name(f".{path.name}.tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with staged.open("wb") as out:
            for chunk in image.save(named=False):
                out.write(chunk)
        staged.replace(path)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    return path.stat().st_size


def load(docker_client: Any, path: Path) -> list[str]:
    """``docker load`` of an exported image; the ids it holds."""
    with path.open("rb") as data:
        loaded = docker_client.images.load(data)
    return [str(image.id) for image in loaded]


def remote_digest(docker_client: Any, ref: str) -> str:
    """The digest the registry has for ``ref``, or "" when it has none."""
    import docker

    try:
        return str(docker_client.images.get_registry_data(ref).id)
    except docker.errors.NotFound:
        return ""
    except docker.errors.APIError as exc:
        if "not found" in str(exc).lower() or "unknown" in str(exc).lower():
            return ""
        raise


def labels_json(labels: Mapping[str, str]) -> str:
    return json.dumps(dict(labels), sort_keys=True)
