"""The ``oci`` kind: each cell's container image, built with the Docker SDK and pushed to
an OCI registry (settings.registry names it; the ``registry`` target in conf/ uses it).

Two tags: the cell's readable one (chip, quantization, engine and version, builder version)
and a pinned one that adds the content id of the build context (Dockerfile and serve.sh,
which name the base image, the engine package and every label), so a pinned tag always means
exactly one stack. The image carries OCI labels from the Dockerfile plus the recipe, cell,
manifest hash and recipe commit. It is pulled back by digest to check what landed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path

from builder.core.catalog_model import PublishConf
from builder.core.cells import Cell
from builder.core.uploads import LocalFile, RemoteFile, UploadPlan
from builder.effects import images
from builder.effects.publishers import Context, Names, Published
from builder.effects.publishers._files import hash_file
from builder.errors import PublishError


def image_labels(cell: Cell, cell_dir: Path) -> dict[str, str]:
    """Labels added at build time: what the Dockerfile cannot know about itself."""
    manifest_bytes = (cell_dir / "manifest.json").read_bytes()
    recipe = json.loads(manifest_bytes).get("recipe", {})
    return {
        "io.llm-release.recipe": cell.recipe,
        "io.llm-release.cell": cell.id,
        "io.llm-release.manifest-sha256": hashlib.sha256(manifest_bytes).hexdigest(),
        "org.opencontainers.image.revision": str(recipe.get("commit", "unknown")),
        "org.opencontainers.image.ref.name": images.split_ref(cell.image)[1],
    }


# An image carries no model card (the model repositories do).
SENDS_CARD = False


def connect(conf: PublishConf, ctx: Context) -> ImageRegistry:
    return ImageRegistry(conf, ctx)


class ImageRegistry:
    def __init__(self, conf: PublishConf, ctx: Context) -> None:
        self.ctx = ctx
        self.docker = images.client()
        self._local: dict[str, tuple[Cell, Path, list[LocalFile]]] = {}
        self._pinned: dict[tuple[str, str], str] = {}

    def files(self, cell: Cell, cell_dir: Path, model_dir: Callable[[], Path]) -> list[LocalFile]:
        files = [hash_file(cell_dir / name, name) for name in images.CONTEXT_FILES]
        self._local[cell.id] = (cell, cell_dir, files)
        return files

    def names(self, cell: Cell, content: str) -> Names:
        repo, tag = images.split_ref(cell.image)
        self._pinned[repo, f"{tag}-{content}"] = cell.id
        return Names(repo=repo, revision=f"{tag}-{content}", staging="", tag=tag)

    def remote(self, names: Names) -> Mapping[str, RemoteFile]:
        digest = images.remote_digest(self.docker, f"{names.repo}:{names.revision}")
        if not digest:
            return {}
        # The pinned tag names the content: if the registry has it, it has these files.
        local = self._local[self._pinned[names.repo, names.revision]][2]
        return {f.path: RemoteFile(path=f.path, size=f.size, sha256=f.sha256) for f in local}

    def publish(self, plan: UploadPlan) -> Published:
        cell, cell_dir, _ = self._local[plan.cell]
        pinned = f"{plan.repo}:{plan.revision}"
        if not plan.uploads:
            digest = images.remote_digest(self.docker, pinned)
            return Published(
                url=f"{plan.repo}@{digest}", revision=plan.revision, commit=digest, uploaded_bytes=0
            )
        labels = image_labels(cell, cell_dir)
        work = self.ctx.out_dir / ".work" / "images" / cell.id
        images.build(
            self.docker, cell_dir, work, tags=[cell.image, pinned], labels=labels, log=self.ctx.log
        )
        first = images.push(self.docker, pinned)
        images.push(self.docker, cell.image)
        self.ctx.log(
            f"    pushed {pinned}: {first.layers_pushed} layer(s) sent "
            f"({first.pushed_bytes} bytes), {first.layers_existing} already there"
        )
        landed = images.pull_by_digest(self.docker, plan.repo, first.digest)
        wrong = sorted(k for k, v in labels.items() if landed.get(k) != v)
        if wrong:
            msg = f"{plan.repo}@{first.digest}: labels differ after pull: {', '.join(wrong)}"
            raise PublishError(msg)
        return Published(
            url=f"{plan.repo}@{first.digest}",
            revision=plan.revision,
            commit=first.digest,
            uploaded_bytes=first.pushed_bytes,
        )
