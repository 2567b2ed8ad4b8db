"""The ``local`` target: a hub-like directory under out/ (nothing leaves the machine).

``out/<path>/<org>/<name>/`` holds the files as a model repo would; a publish builds the
new tree beside it and swaps it in whole, so a reader never sees half a release.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from builder.core.model import Cell, PublishConf
from builder.core.uploads import LocalFile, RemoteFile, UploadPlan, same_content
from builder.effects import fs
from builder.effects.publishers import Context, Names, Published
from builder.effects.publishers._files import collect, hash_file
from builder.errors import PublishError


class LocalHub:
    def __init__(self, conf: PublishConf, ctx: Context) -> None:
        self.root = ctx.out_dir / (conf.path or "hub")

    def files(self, cell: Cell, cell_dir: Path, model_dir: Callable[[], Path]) -> list[LocalFile]:
        return collect(cell_dir, model_dir())

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
        wrong = [
            op.file.path
            for op in plan.ops
            if op.file.path not in landed or not same_content(op.file, landed[op.file.path])
        ]
        if wrong:
            msg = f"{repo_dir}: files differ after writing: {', '.join(wrong)}"
            raise PublishError(msg)
        return Published(url=url, revision="main", commit="", uploaded_bytes=plan.upload_bytes)
