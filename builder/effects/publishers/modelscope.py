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

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from builder.core.catalog_model import PublishConf
from builder.core.cells import Cell
from builder.core.uploads import RemoteFile, UploadPlan
from builder.effects.publishers import Context, Names, Published
from builder.effects.publishers._hub import RepoTarget, endpoint, token
from builder.errors import PublishError

SENDS_CARD = True


def connect(conf: PublishConf, ctx: Context) -> ModelScopeHub:
    return ModelScopeHub(conf, ctx)


class ModelScopeHub(RepoTarget):
    def __init__(self, conf: PublishConf, ctx: Context) -> None:
        try:
            from modelscope_hub import HubApi, HubConfig
        except ImportError:
            msg = "the modelscope target needs the ModelScope SDK: pip install modelscope-hub"
            raise PublishError(msg) from None
        super().__init__(conf, ctx)
        self.work = ctx.out_dir / ".work" / "publish" / conf.name
        # "" (not None): without the variable no token is used, not even a stored login.
        config = HubConfig(endpoint=endpoint(conf, "MODELSCOPE_ENDPOINT"), token=token(conf) or "")
        self.endpoint = str(config.endpoint).rstrip("/")
        self.api: Any = HubApi(config=config)

    def names(self, cell: Cell, content: str) -> Names:
        return Names(
            repo=cell.release_repo,
            revision=self.conf.main_revision,
            staging="",
            tag=f"release-{content}",
        )

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
        self.check_landed(plan, self._files(repo, main), f"{repo}@{main}")
        revisions = self._retry(
            f"revisions of {repo}", lambda: self.api.list_repo_revisions(repo, "model")
        )
        if plan.tag not in {str(r.get("Revision") or r.get("Name") or "") for r in revisions}:
            self._retry(
                f"tag {plan.tag}",
                lambda: self.api.create_repo_tag(repo, "model", plan.tag, revision=main),
            )
        return Published(url=url, revision=plan.tag, commit="", uploaded_bytes=uploaded)
