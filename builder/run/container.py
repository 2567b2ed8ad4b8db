"""Run a cell in its own image: build the image the release publishes (on the cpu chip's
locally made base where it names it), start it with the card's ``docker run`` on a free
loopback port, and find which engine version the image really holds.

The command comes from :mod:`builder.core.deploy`, as the card's does; only the network
differs (the host's, with the server bound to 127.0.0.1, so nothing listens beyond this
machine and no port mapping is needed).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from builder.core import deploy
from builder.core.catalog_model import Catalog
from builder.core.engines import ServeCommand, model_reference, serve_command
from builder.core.keys import ResolvedCell
from builder.core.log import Log
from builder.core.project import Project
from builder.core.render import render_cell
from builder.effects import baseimage, containers, images
from builder.effects.containers import Container
from builder.effects.engine_runtime import HOST, RunningEngine, free_port, running_container
from builder.effects.publishers import oci
from builder.effects.variants import Weights

# What validation tells the server in the container (it has everything it needs already).
OFFLINE = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_CACHE": "/tmp",
    "TOKENIZERS_PARALLELISM": "false",
}
PROBE = "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))"
HOST_CONTEXT_ENV = "LLMRB_HOST_CONTEXT"


def host_context(project: Project) -> Path | None:
    """What this machine needs in its images (a proxy's CA, local wheels), if staged:
    $LLMRB_HOST_CONTEXT, else <project>/host-context (.ci/stage-host-context writes it)."""
    named = os.environ.get(HOST_CONTEXT_ENV)
    folder = Path(named) if named else project.root / "host-context"
    return folder if folder.is_dir() else None


def make_base(project: Project, catalog: Catalog, log: Log) -> baseimage.Built:
    """The cpu chip's base image (settings.cpu_base_image), made or found up to date."""
    return baseimage.build(
        images.client(),
        catalog.settings.cpu_base_image,
        cache_dir=baseimage.default_cache_dir(),
        host_context=host_context(project),
        log=log,
    )


def build_image(
    project: Project, catalog: Catalog, resolved: ResolvedCell, work: Path, log: Log
) -> str:
    """Build the cell's image from its rendered Dockerfile and serve.sh (making the local
    base first when the cell starts FROM it); the image's ``sha256:`` id."""
    cell = resolved.cell
    docker = images.client()
    if cell.base_image == catalog.settings.cpu_base_image.tag:
        make_base(project, catalog, log)
    files = render_cell(
        project.templates_dir, cell, resolved.recipe, catalog, variant=resolved.variant
    )
    context = work / "image"
    context.mkdir(parents=True, exist_ok=True)
    for name in images.CONTEXT_FILES:
        (context / name).write_text(files[name], encoding="utf-8")
    (context / "serve.sh").chmod(0o755)
    # The Dockerfile labels the cell, recipe and builder; nothing run-specific goes in, so
    # an unchanged cell rebuilds to the same image id.
    labels = {"org.opencontainers.image.ref.name": images.split_ref(cell.image)[1]}
    image = images.build(docker, context, work / "build", tags=[cell.image], labels=labels, log=log)
    return str(image.id)


@contextlib.contextmanager
def engine_in_image(
    project: Project,
    catalog: Catalog,
    resolved: ResolvedCell,
    weights: Weights,
    work: Path,
    runtime: dict[str, Any],
) -> Iterator[RunningEngine]:
    """The cell's image serving ``weights`` (mounted read-only), healthy on loopback; what
    ran is recorded in ``runtime`` (image, its id, the engine version found in it)."""
    cell = resolved.cell
    engine = catalog.engines[cell.engine]
    runtime |= {"image": cell.image}
    runtime["image_id"] = build_image(project, catalog, resolved, work, lambda _: None)
    port = free_port()
    served = image_run(
        catalog,
        resolved,
        weights,
        deploy.place(cell, catalog.chips[cell.chip], engine, None),
        host=HOST,
        port=port,
        name=f"llmrb-{cell.id}-{os.getpid()}",
        labels=owner_labels(cell.id),
    )
    runtime["docker_run"] = served.argv
    command = served.command
    with running_container(
        engine,
        command,
        run_argv=served.argv,
        port=port,
        log_path=work / "engine.log",
        startup_timeout_s=catalog.settings.startup_timeout_s,
    ) as running:
        runtime |= probed_version(running, engine.package, cell.engine_version)
        yield running


@dataclass(frozen=True, kw_only=True)
class ImageRun:
    """How the cell's image serves some weights: the ``docker run`` and the serve command
    it runs inside (what clients send as the model comes from the command)."""

    argv: list[str]
    command: ServeCommand


def image_run(
    catalog: Catalog,
    resolved: ResolvedCell,
    weights: Weights,
    placement: deploy.Placement,
    *,
    host: str,
    port: int,
    name: str,
    labels: Mapping[str, str],
) -> ImageRun:
    """The card's ``docker run`` on the host's network, the server bound to ``host:port``,
    ``weights`` mounted read-only; validation and ``builder deploy`` both start this."""
    cell = resolved.cell
    chip, engine = catalog.chips[cell.chip], catalog.engines[cell.engine]
    model_dir = str(deploy.CONTAINER_MODEL_ROOT / cell.release_name)
    served = model_reference(engine, model_dir, weights.file)
    released = model_reference(engine, model_dir, resolved.variant.file)
    argv = deploy.docker_run(
        cell=cell,
        chip=chip,
        engine=engine,
        placement=placement,
        weights=str(weights.dir.resolve()),
        port=port,
        host_network=True,
        host=host,
        # A stand-in the engine can load (GGUF dequantized): the same one the host serves.
        model=served if served != released else "",
        name=name,
        env=OFFLINE,
        labels=labels,
    )
    command = serve_command(
        engine,
        {**cell.serve_args, **placement.extra_args},
        model=served,
        host=host,
        port=port,
        served_model_name=cell.release_name,
    )
    return ImageRun(argv=argv, command=command)


def owner_labels(cell_id: str) -> dict[str, str]:
    """Labels that say which cell a container serves and which builder process started it."""
    return {containers.CELL_LABEL: cell_id, containers.OWNER_LABEL: str(os.getpid())}


def distribution(package: str) -> str:
    """The distribution a catalog ``package`` pin installs: ``vllm==0.11.0`` -> ``vllm``."""
    found = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", package)
    return found.group(0) if found else package


def probed_version(running: RunningEngine, package: str, expected: str) -> Mapping[str, Any]:
    """The engine's version as the image's Python reports it, and whether it differs from
    the version the cell's name and tag carry."""
    server = running.server
    if not isinstance(server, Container):
        return {}
    done = containers.run_inside(server.id, ["python3", "-c", PROBE, distribution(package)])
    found = done.stdout.strip() if done.returncode == 0 else ""
    if not found:
        return {"engine_version": None, "engine_version_note": f"not found: {done.stderr[-300:]}"}
    if found == expected:
        return {"engine_version": found}
    note = f"the image has {found}; the catalog says {expected}: tags use {found} from now on"
    return {
        "engine_version": found,
        "engine_version_catalog": expected,
        "engine_version_note": note,
    }


def export_images(out_dir: Path, cells: Sequence[ResolvedCell], log: Log) -> list[Path]:
    """``docker save`` the image each cell was validated in, into out/images/<cell>.tar,
    for a publish job on another machine (cells validated on the host are skipped)."""
    docker = images.client()
    written = []
    for resolved in cells:
        cell_dir = out_dir / resolved.cell.recipe / resolved.id
        image_id = oci.validated_image(cell_dir)
        if not image_id:
            log(f"{resolved.id}: not validated in its image; nothing to export")
            continue
        path = oci.export_path(out_dir, resolved.id)
        size = images.save(docker, image_id, path)
        log(f"{resolved.id}: {image_id} -> {path} ({size:,} bytes)")
        written.append(path)
    return written
