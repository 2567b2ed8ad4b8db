"""The ``local`` target: a hub-like directory under out/ (nothing leaves the machine).

``out/<path>/<org>/<name>/`` holds the files as a model repo would; a publish builds the
new tree beside it and swaps it in whole, so a reader never sees half a release.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from builder.core.catalog_model import PublishConf
from builder.core.cells import Cell
from builder.core.uploads import RemoteFile, UploadPlan
from builder.effects import fs
from builder.effects.publishers import Context, Names, Published
from builder.effects.publishers._files import hash_file
from builder.effects.publishers._hub import RepoTarget

SENDS_CARD = True


def connect(conf: PublishConf, ctx: Context) -> LocalHub:
    return LocalHub(conf, ctx)


class LocalHub(RepoTarget):
    def __init__(self, conf: PublishConf, ctx: Context) -> None:
        super().__init__(conf, ctx)
        self.root = ctx.out_dir / (conf.path or "hub")

    def names(self, cell: Cell, content: str) -> Names:
        return Names(repo=cell.release_repo, revision="main", staging="", tag="")

    def remote(self, names: Names) -> Mapping[str, RemoteFile]:
        repo_dir = self.root / names.repo
        if not repo_dir.is_dir():
            return {}
        found = {}
        for path in sorted(repo_dir.rglob("*")):
            if path.is_file():
                rel = path.relative_to(repo_dir).as_posix()
                local = hash_file(path, rel)
                found[rel] = RemoteFile(path=rel, size=local.size, sha256=local.sha256)
        return found

    def publish(self, plan: UploadPlan) -> Published:
        repo_dir = self.root / plan.repo
        url = repo_dir.as_uri()
        if not plan.uploads:
            return Published(url=url, revision="main", commit="", uploaded_bytes=0)
        fs.copy_tree_atomic(repo_dir, {op.file.path: Path(op.file.source) for op in plan.ops})
        landed = self.remote(Names(repo=plan.repo, revision="main", staging="", tag=""))
        self.check_landed(plan, landed, str(repo_dir))
        return Published(url=url, revision="main", commit="", uploaded_bytes=plan.upload_bytes)
