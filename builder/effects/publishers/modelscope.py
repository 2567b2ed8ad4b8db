"""The ``modelscope`` target, through the ModelScope SDK (modelscope-hub, which ``modelscope``
itself delegates to) against MODELSCOPE_ENDPOINT (or modelscope.cn).

The SDK has no branch API, so staging here is the SDK's own two phases: the large files go
up as blobs first (invisible until committed), then the release lands on ``master`` in one
commit. It is then listed and every sha256 compared, and tagged ``release-<content id>``.
Only the files that changed are put in the upload folder, so an unchanged release sends
nothing; the blob check skips large files the server already has, so a publish cut short
resumes.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from builder.core.model import Cell, PublishConf
from builder.core.uploads import LocalFile, RemoteFile, UploadPlan, same_content
from builder.effects.publishers import Context, Names, Published
from builder.effects.publishers._files import collect
from builder.effects.retry import with_retries
from builder.errors import PublishError


class ModelScopeHub:
    def __init__(self, conf: PublishConf, ctx: Context) -> None:
        try:
            from modelscope_hub import HubApi, HubConfig
        except ImportError:
            msg = "the modelscope target needs the ModelScope SDK: pip install modelscope-hub"
            raise PublishError(msg) from None
        self.conf = conf
        self.log = ctx.log
        self.work = ctx.out_dir / ".work" / "publish" / conf.name
        endpoint = conf.endpoint or os.environ.get("MODELSCOPE_ENDPOINT") or None
        token = os.environ.get(conf.token_env) if conf.token_env else None
        # The token goes to the SDK object only; it is never part of a message or a file.
        # "" (not None): without the variable no token is used, not even a stored login.
        config = HubConfig(endpoint=endpoint, token=token or "")
        self.endpoint = str(config.endpoint).rstrip("/")
        self.api: Any = HubApi(config=config)

    def files(self, cell: Cell, cell_dir: Path, model_dir: Callable[[], Path]) -> list[LocalFile]:
        return collect(cell_dir, model_dir())

    def names(self, cell: Cell, content: str) -> Names:
        return Names(
            repo=cell.release_repo,
            revision=self.conf.main_revision,
            staging="",
            tag=f"release-{content}",
        )

    def _retry(self, what: str, call: Callable[[], Any]) -> Any:
        return with_retries(call, what=what, log=self.log)

    def _files(self, repo: str, revision: str) -> dict[str, RemoteFile]:
        from modelscope_hub import NotExistError

        try:
            entries = self._retry(
                f"list {repo}@{revision}",
                lambda: self.api.list_repo_files(repo, "model", revision=revision),
            )
        except NotExistError:
            return {}
        return {
            e.path: RemoteFile(path=e.path, size=e.size, sha256=e.sha256 or "")
            for e in entries
            if not e.is_dir
        }

    def remote(self, names: Names) -> Mapping[str, RemoteFile]:
        if not self._retry(
            f"look up {names.repo}", lambda: self.api.repo_exists(names.repo, "model")
        ):
            return {}
        return self._files(names.repo, names.revision)

    def publish(self, plan: UploadPlan) -> Published:
        repo, main = plan.repo, plan.revision
        url = f"{self.endpoint}/models/{repo}"
        if not self._retry(f"look up {repo}", lambda: self.api.repo_exists(repo, "model")):
            visibility = "private" if self.conf.private else "public"
            self._retry(
                f"create {repo}",
                lambda: self.api.create_repo(repo, "model", visibility=visibility),
            )
        uploaded = 0
        if plan.uploads:
            folder = self.work / plan.cell
            shutil.rmtree(folder, ignore_errors=True)
            for op in plan.uploads:
                link = folder / op.file.path
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(Path(op.file.source).resolve())
            note = "" if plan.qualified else " [unqualified: did not pass its gates]"
            self.log(f"    uploading {len(plan.uploads)} file(s) to {repo}@{main}")
            try:
                self._retry(
                    f"upload to {repo}",
                    lambda: self.api.upload_folder(
                        repo,
                        "model",
                        folder,
                        commit_message=f"Release {plan.cell} ({plan.tag}){note}",
                        revision=main,
                        use_cache=False,
                        disable_tqdm=True,
                    ),
                )
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            uploaded = plan.upload_bytes
        landed = self._files(repo, main)
        wrong = [
            op.file.path
            for op in plan.ops
            if op.file.path not in landed or not same_content(op.file, landed[op.file.path])
        ]
        if wrong:
            msg = f"{repo}@{main}: not as uploaded: {', '.join(wrong)}"
            raise PublishError(msg)
        revisions = self._retry(
            f"revisions of {repo}", lambda: self.api.list_repo_revisions(repo, "model")
        )
        if plan.tag not in {str(r.get("Revision") or r.get("Name") or "") for r in revisions}:
            self._retry(
                f"tag {plan.tag}",
                lambda: self.api.create_repo_tag(repo, "model", plan.tag, revision=main),
            )
        return Published(url=url, revision=plan.tag, commit="", uploaded_bytes=uploaded)
