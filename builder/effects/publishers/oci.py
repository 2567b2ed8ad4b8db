"""The ``oci`` kind: each cell's container image, pushed to an OCI registry (settings.registry
names it; the ``registry`` target in conf/ uses it).

What is pushed is the image the cell was validated in (``--runtime container``): its id is
recorded in the cell's validation.json, the daemon (or an image exported by the cell's CI
job under ``out/images/``) must hold exactly that id, and the image pulled back by digest
must have it too. A cell validated only as a host process has an image nobody ran: it is
refused, unless ``--allow-unqualified``, which builds it from the cell's Dockerfile and marks
it ``io.llm-release.validated=false``.

Two tags: the cell's readable one (chip, quantization, engine and version, builder version)
and a pinned one that adds the content id (the image id), so a pinned tag always means
exactly one image.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from builder.core.catalog_model import PublishConf
from builder.core.cells import Cell
from builder.core.uploads import LocalFile, RemoteFile, UploadPlan
from builder.effects import fs, images
from builder.effects.publishers import Context, Names, Published
from builder.errors import PublishError

# An image carries no model card (the model repositories do).
SENDS_CARD = False
# Exported images (docker save) a CI job hands to the publish job, by cell id.
EXPORTS = "images"


def connect(conf: PublishConf, ctx: Context) -> ImageRegistry:
    return ImageRegistry(conf, ctx)


@dataclass(frozen=True, kw_only=True)
class _Cell:
    cell: Cell
    cell_dir: Path
    image_id: str
    validated: bool


def validated_image(cell_dir: Path) -> str:
    """The id of the image the cell's suites ran against ("" when they ran on the host)."""
    runtime = (fs.read_json(cell_dir / "validation.json") or {}).get("runtime") or {}
    return str(runtime.get("image_id") or "") if runtime.get("kind") == "container" else ""


def export_path(out_dir: Path, cell_id: str) -> Path:
    return out_dir / EXPORTS / f"{cell_id}.tar"


class ImageRegistry:
    def __init__(self, conf: PublishConf, ctx: Context) -> None:
        self.ctx = ctx
        self.docker = images.client()
        self._cells: dict[str, _Cell] = {}
        self._pinned: dict[tuple[str, str], str] = {}

    def files(self, cell: Cell, cell_dir: Path, model_dir: Callable[[], Path]) -> list[LocalFile]:
        image_id = validated_image(cell_dir)
        if not image_id and not self.ctx.allow_unqualified:
            msg = (
                f"{cell.id} was validated as a host process, not in its image: validate it "
                "with --runtime container before its image is pushed (--allow-unqualified "
                "pushes an unvalidated build, marked as such)"
            )
            raise PublishError(msg)
        if image_id:
            self._load(cell.id, image_id)
        else:
            image_id = str(self._build_unvalidated(cell, cell_dir).id)
        self._cells[cell.id] = _Cell(
            cell=cell,
            cell_dir=cell_dir,
            image_id=image_id,
            validated=bool(validated_image(cell_dir)),
        )
        digest = image_id.removeprefix("sha256:")
        return [LocalFile(path="image", source=image_id, size=0, sha256=digest, git_sha1="")]

    def _load(self, cell_id: str, image_id: str) -> None:
        """The validated image in the daemon: already there, or loaded from its export."""
        if images.has_image(self.docker, image_id):
            return
        exported = export_path(self.ctx.out_dir, cell_id)
        if not exported.is_file():
            msg = (
                f"{cell_id}: the validated image {image_id} is not in this Docker daemon and "
                f"{exported} does not exist (the cell job exports it: builder export-image)"
            )
            raise PublishError(msg)
        loaded = images.load(self.docker, exported)
        if image_id not in loaded:
            msg = f"{exported} holds {', '.join(loaded)}, not the validated {image_id}"
            raise PublishError(msg)

    def _build_unvalidated(self, cell: Cell, cell_dir: Path) -> Any:
        manifest_bytes = (cell_dir / "manifest.json").read_bytes()
        recipe = json.loads(manifest_bytes).get("recipe", {})
        labels = {
            "io.llm-release.recipe": cell.recipe,
            "io.llm-release.cell": cell.id,
            "io.llm-release.validated": "false",
            "io.llm-release.manifest-sha256": hashlib.sha256(manifest_bytes).hexdigest(),
            "org.opencontainers.image.revision": str(recipe.get("commit", "unknown")),
        }
        work = self.ctx.out_dir / ".work" / "images" / cell.id
        return images.build(
            self.docker, cell_dir, work, tags=[cell.image], labels=labels, log=self.ctx.log
        )

    def names(self, cell: Cell, content: str) -> Names:
        repo, tag = images.split_ref(cell.image)
        self._pinned[repo, f"{tag}-{content}"] = cell.id
        return Names(repo=repo, revision=f"{tag}-{content}", staging="", tag=tag)

    def remote(self, names: Names) -> Mapping[str, RemoteFile]:
        digest = images.remote_digest(self.docker, f"{names.repo}:{names.revision}")
        if not digest:
            return {}
        # The pinned tag names the image id: if the registry has it, it has this image.
        found = self._cells[self._pinned[names.repo, names.revision]]
        sha = found.image_id.removeprefix("sha256:")
        return {"image": RemoteFile(path="image", size=0, sha256=sha)}

    def publish(self, plan: UploadPlan) -> Published:
        found = self._cells[plan.cell]
        pinned = f"{plan.repo}:{plan.revision}"
        if not plan.uploads:
            digest = images.remote_digest(self.docker, pinned)
            return Published(
                url=f"{plan.repo}@{digest}", revision=plan.revision, commit=digest, uploaded_bytes=0
            )
        images.tag(self.docker, found.image_id, [found.cell.image, pinned])
        first = images.push(self.docker, pinned)
        images.push(self.docker, found.cell.image)
        self.ctx.log(
            f"    pushed {pinned}: {first.layers_pushed} layer(s) sent "
            f"({first.pushed_bytes} bytes), {first.layers_existing} already there"
        )
        landed = images.pull_by_digest(self.docker, plan.repo, first.digest)
        if landed.image_id != found.image_id:
            msg = f"{plan.repo}@{first.digest} is {landed.image_id}, not {found.image_id} as pushed"
            raise PublishError(msg)
        return Published(
            url=f"{plan.repo}@{first.digest}",
            revision=plan.revision,
            commit=first.digest,
            uploaded_bytes=first.pushed_bytes,
        )
