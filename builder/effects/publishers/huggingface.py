"""The ``huggingface`` target, through huggingface_hub against HF_ENDPOINT (or the Hub).

Stage, verify, promote: the files go in one commit to a staging branch named after the
content (``staging-<content id>``, so an interrupted publish resumes on the same branch and
the Hub skips the large files it already has), the branch is listed and every hash compared,
then one commit on ``main`` reuses the uploaded blobs, the release is tagged
``release-<content id>`` and the staging branch is deleted. Users never see a half release.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from builder.core.catalog_model import PublishConf
from builder.core.cells import Cell
from builder.core.uploads import LocalFile, RemoteFile, UploadPlan, diff
from builder.effects.publishers import Context, Names, Published
from builder.effects.publishers._hub import RepoTarget, endpoint, token
from builder.errors import PublishError

SENDS_CARD = True


def connect(conf: PublishConf, ctx: Context) -> HuggingFaceHub:
    return HuggingFaceHub(conf, ctx)


class HuggingFaceHub(RepoTarget):
    def __init__(self, conf: PublishConf, ctx: Context) -> None:
        try:
            from huggingface_hub import HfApi
        except ImportError:
            msg = "the huggingface target needs huggingface_hub: pip install huggingface_hub"
            raise PublishError(msg) from None
        super().__init__(conf, ctx)
        # False (not None): without the variable no token is used, not even a stored login.
        self.api: Any = HfApi(endpoint=endpoint(conf, "HF_ENDPOINT"), token=token(conf) or False)

    def names(self, cell: Cell, content: str) -> Names:
        return Names(
            repo=cell.release_repo,
            revision=self.conf.main_revision,
            staging=f"{self.conf.staging_prefix}{content}",
            tag=f"release-{content}",
        )

    def _tree(self, repo: str, revision: str) -> dict[str, RemoteFile]:
        from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

        try:
            entries = self._retry(
                f"list {repo}@{revision}",
                lambda: list(self.api.list_repo_tree(repo, revision=revision, recursive=True)),
            )
        except (RepositoryNotFoundError, RevisionNotFoundError):
            return {}
        found = {}
        for entry in entries:
            if not hasattr(entry, "blob_id"):
                continue  # a folder
            sha256 = entry.lfs.sha256 if entry.lfs is not None else ""
            found[entry.path] = RemoteFile(
                path=entry.path, size=entry.size, sha256=sha256, git_sha1=entry.blob_id
            )
        return found

    def remote(self, names: Names) -> Mapping[str, RemoteFile]:
        return self._tree(names.repo, names.revision)

    def _commit(self, repo: str, revision: str, files: list[LocalFile], message: str) -> str:
        from huggingface_hub import CommitOperationAdd

        operations = [
            CommitOperationAdd(path_in_repo=f.path, path_or_fileobj=f.source) for f in files
        ]
        info = self._retry(
            f"commit to {repo}@{revision}",
            lambda: self.api.create_commit(
                repo, operations=operations, commit_message=message, revision=revision
            ),
        )
        return str(info.oid)

    def _check(self, plan: UploadPlan, revision: str) -> None:
        self.check_landed(plan, self._tree(plan.repo, revision), f"{plan.repo}@{revision}")

    def publish(self, plan: UploadPlan) -> Published:
        repo, main = plan.repo, plan.revision
        url = f"{self.api.endpoint}/{repo}"
        note = "" if plan.qualified else " [unqualified: did not pass its gates]"
        message = f"Release {plan.cell} ({plan.tag}){note}"
        self._retry(
            f"create {repo}",
            lambda: self.api.create_repo(repo, private=self.conf.private, exist_ok=True),
        )
        uploaded = 0
        if plan.uploads:
            self._retry(
                f"branch {plan.staging}",
                lambda: self.api.create_branch(
                    repo, branch=plan.staging, revision=main, exist_ok=True
                ),
            )
            staged, _ = diff([op.file for op in plan.ops], self._tree(repo, plan.staging))
            todo = [op.file for op in staged if op.state != "unchanged"]
            if todo:
                self.log(f"    staging {len(todo)} file(s) on {repo}@{plan.staging}")
                self._commit(repo, plan.staging, todo, message)
                uploaded = sum(f.size for f in todo)
            self._check(plan, plan.staging)
            # Promote: the large files are on the Hub already, so this commit sends only the
            # small ones again and main changes in one step.
            self._commit(repo, main, [op.file for op in plan.uploads], message)
        self._check(plan, main)
        refs = self._retry(f"refs of {repo}", lambda: self.api.list_repo_refs(repo))
        if plan.tag not in {t.name for t in refs.tags}:
            self._retry(
                f"tag {plan.tag}",
                lambda: self.api.create_tag(repo, tag=plan.tag, revision=main, exist_ok=True),
            )
        if plan.staging in {b.name for b in refs.branches}:
            self._retry(
                f"delete {plan.staging}",
                lambda: self.api.delete_branch(repo, branch=plan.staging),
            )
        commit = next((b.target_commit for b in refs.branches if b.name == main), "")
        return Published(url=url, revision=plan.tag, commit=commit, uploaded_bytes=uploaded)
