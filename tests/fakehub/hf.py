"""The Hugging Face Hub endpoints the fake answers (huggingface_hub's calls)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import TYPE_CHECKING, Any

from tests.fakehub.store import (
    LFS_SUFFIXES,
    LFS_THRESHOLD,
    REPO,
    Result,
    not_found,
    put_blob,
    resolve,
)

if TYPE_CHECKING:
    from tests.fakehub.server import FakeHub


def hf_create(hub: FakeHub, m: re.Match[str], q: dict[str, list[str]], body: bytes) -> Result:
    data = json.loads(body)
    repo_id = f"{data.get('organization') or 'user'}/{data['name']}"
    private = data.get("visibility", "private" if data.get("private") else "public") == "private"
    if not hub.create_repo(repo_id, private, "main"):
        return (
            409,
            {"error": "You already created this model repo", "url": f"{hub.url}/{repo_id}"},
            None,
        )
    return 200, {"url": f"{hub.url}/{repo_id}", "name": repo_id}, None


def hf_info(hub: FakeHub, m: re.Match[str], q: dict[str, list[str]], body: bytes) -> Result:
    repo, commit = resolve(hub, m["repo"], m["rev"] or "main")
    if repo is None:
        return not_found("RepoNotFound", "Repository not found")
    if commit is None:
        return not_found("RevisionNotFound", "Revision not found")
    siblings = [{"rfilename": p} for p in sorted(repo.commits[commit])]
    info = {"id": m["repo"], "sha": commit, "private": repo.private, "siblings": siblings}
    return 200, info, None


def hf_refs(hub: FakeHub, m: re.Match[str], q: dict[str, list[str]], body: bytes) -> Result:
    repo = hub.repos.get(m["repo"])
    if repo is None:
        return not_found("RepoNotFound", "Repository not found")

    def refs(kind: str, names: dict[str, str]) -> list[dict[str, str]]:
        return [
            {"name": n, "ref": f"refs/{kind}/{n}", "targetCommit": c}
            for n, c in sorted(names.items())
        ]

    return (
        200,
        {"branches": refs("heads", repo.branches), "tags": refs("tags", repo.tags), "converts": []},
        None,
    )


def hf_branch(hub: FakeHub, m: re.Match[str], q: dict[str, list[str]], body: bytes) -> Result:
    repo = hub.repos.get(m["repo"])
    if repo is None:
        return not_found("RepoNotFound", "Repository not found")
    with hub.lock:
        if m["name"] in repo.branches:
            return 409, {"error": "Reference already exists"}, None
        start = (json.loads(body or b"{}") or {}).get("startingPoint") or "main"
        _, commit = resolve(hub, m["repo"], start)
        if commit is None:
            return not_found("RevisionNotFound", "Revision not found")
        repo.branches[m["name"]] = commit
    return 200, {}, None


def hf_delete_branch(
    hub: FakeHub, m: re.Match[str], q: dict[str, list[str]], body: bytes
) -> Result:
    repo = hub.repos.get(m["repo"])
    if repo is None or m["name"] not in repo.branches:
        return not_found("RevisionNotFound", "Revision not found")
    del repo.branches[m["name"]]
    return 200, {}, None


def hf_tag(hub: FakeHub, m: re.Match[str], q: dict[str, list[str]], body: bytes) -> Result:
    repo, commit = resolve(hub, m["repo"], m["rev"])
    if repo is None or commit is None:
        return not_found("RevisionNotFound", "Revision not found")
    tag = json.loads(body)["tag"]
    with hub.lock:
        if tag in repo.tags:
            return 409, {"error": "Tag already exists"}, None
        repo.tags[tag] = commit
    return 200, {}, None


def hf_tree(hub: FakeHub, m: re.Match[str], q: dict[str, list[str]], body: bytes) -> Result:
    repo, commit = resolve(hub, m["repo"], m["rev"])
    if repo is None:
        return not_found("RepoNotFound", "Repository not found")
    if commit is None:
        return not_found("RevisionNotFound", "Revision not found")
    prefix = (m["path"] or "").strip("/")
    recursive = q.get("recursive", ["false"])[0].lower() == "true"
    entries: list[dict[str, Any]] = []
    folders: set[str] = set()
    for path, e in sorted(repo.commits[commit].items()):
        if prefix and not path.startswith(prefix + "/"):
            continue
        rest = path[len(prefix) + 1 :] if prefix else path
        if "/" in rest and not recursive:
            folders.add(f"{prefix}/{rest.split('/')[0]}" if prefix else rest.split("/")[0])
            continue
        parts = path.split("/")
        for i in range(1 if not prefix else len(prefix.split("/")) + 1, len(parts)):
            folders.add("/".join(parts[:i]))
        item: dict[str, Any] = {"type": "file", "oid": e.git_sha1, "size": e.size, "path": path}
        if e.lfs:
            item["lfs"] = {"oid": e.sha256, "size": e.size, "pointerSize": 134}
        entries.append(item)
    dirs = [
        {"type": "directory", "oid": hashlib.sha1(d.encode()).hexdigest(), "path": d}
        for d in sorted(folders)
    ]
    return 200, dirs + entries, None


def hf_preupload(hub: FakeHub, m: re.Match[str], q: dict[str, list[str]], body: bytes) -> Result:
    if m["repo"] not in hub.repos:
        return not_found("RepoNotFound", "Repository not found")
    files = []
    for f in json.loads(body)["files"]:
        lfs = f["path"].endswith(LFS_SUFFIXES) or int(f["size"]) >= LFS_THRESHOLD
        files.append(
            {"path": f["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False}
        )
    return 200, {"files": files, "commitOid": hub.repos[m["repo"]].branches.get(m["rev"], "")}, None


def hf_lfs_batch(hub: FakeHub, m: re.Match[str], q: dict[str, list[str]], body: bytes) -> Result:
    objects = []
    for obj in json.loads(body)["objects"]:
        if hub._lfs_entry(obj["oid"], int(obj["size"])) is not None:
            objects.append({"oid": obj["oid"], "size": obj["size"]})
        else:
            href = f"{hub.url}/_fake/lfs/{obj['oid']}"
            objects.append(
                {
                    "oid": obj["oid"],
                    "size": obj["size"],
                    "authenticated": True,
                    "actions": {"upload": {"href": href, "header": {}}},
                }
            )
    return (
        200,
        {"transfer": "basic", "objects": objects},
        {"Content-Type": "application/vnd.git-lfs+json"},
    )


def hf_commit(hub: FakeHub, m: re.Match[str], q: dict[str, list[str]], body: bytes) -> Result:
    repo, parent = resolve(hub, m["repo"], m["rev"])
    if repo is None:
        return not_found("RepoNotFound", "Repository not found")
    if parent is None or m["rev"] not in repo.branches:
        return not_found("RevisionNotFound", "Revision not found")
    lines = [json.loads(line) for line in body.splitlines() if line.strip()]
    with hub.lock:
        files = dict(repo.commits[parent])
        summary = ""
        for line in lines:
            key, value = line["key"], line["value"]
            if key == "header":
                summary = value.get("summary", "")
            elif key == "file":
                data = base64.b64decode(value["content"])
                hub.bytes_received += len(data)
                files[value["path"]] = hub._store_inline(data)
            elif key == "lfsFile":
                entry = hub._lfs_entry(value["oid"], int(value["size"]))
                if entry is None:
                    return 422, {"error": f"LFS object {value['oid']} was not uploaded"}, None
                files[value["path"]] = entry
            elif key in ("deletedFile", "deletedFolder"):
                files = {
                    p: e
                    for p, e in files.items()
                    if p != value["path"] and not p.startswith(value["path"] + "/")
                }
        oid = hub._new_commit(repo, parent, files, summary)
        repo.branches[m["rev"]] = oid
    return (
        200,
        {
            "commitUrl": f"{hub.url}/{m['repo']}/commit/{oid}",
            "commitOid": oid,
            "pullRequestUrl": None,
        },
        None,
    )


def hf_resolve(hub: FakeHub, m: re.Match[str], q: dict[str, list[str]], body: bytes) -> Result:
    repo, commit = resolve(hub, m["repo"], m["rev"])
    if repo is None or commit is None or m["path"] not in repo.commits[commit]:
        return not_found("EntryNotFound", "Entry not found")
    e = repo.commits[commit][m["path"]]
    return (
        200,
        hub.blob(e.sha256),
        {"X-Repo-Commit": commit, "ETag": f'"{e.sha256 if e.lfs else e.git_sha1}"'},
    )


def hf_validate_yaml(
    hub: FakeHub, m: re.Match[str], q: dict[str, list[str]], body: bytes
) -> Result:
    """Like the Hub: the card's front matter must parse to a mapping (else 400 with errors)."""
    import yaml

    content = json.loads(body)["content"]
    lines = content.splitlines()
    if not lines or lines[0].strip() != "---":
        return (
            200,
            {"errors": [], "warnings": [{"message": "empty or missing yaml metadata"}]},
            None,
        )
    end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() == "---"), None)
    try:
        data = yaml.safe_load("\n".join(lines[1:end])) if end else None
    except yaml.YAMLError as exc:
        return 400, {"errors": [{"message": f"invalid yaml: {exc}"}]}, None
    if not isinstance(data, dict):
        return 400, {"errors": [{"message": "metadata must be a mapping"}]}, None
    return 200, {"errors": [], "warnings": []}, None


def hf_harnesses(hub: FakeHub, m: re.Match[str], q: dict[str, list[str]], body: bytes) -> Result:
    return 200, {"standardEnvVars": [], "harnesses": {}}, None


HF_ROUTES = [
    ("POST", r"/api/validate-yaml", "validate_yaml", hf_validate_yaml),
    ("GET", r"/api/agent-harnesses", "harnesses", hf_harnesses),
    ("POST", r"/api/repos/create", "create", hf_create),
    ("GET", rf"/api/models/{REPO}(?:/revision/(?P<rev>.+))?", "info", hf_info),
    ("GET", rf"/api/models/{REPO}/refs", "refs", hf_refs),
    ("POST", rf"/api/models/{REPO}/branch/(?P<name>.+)", "branch", hf_branch),
    ("DELETE", rf"/api/models/{REPO}/branch/(?P<name>.+)", "delete_branch", hf_delete_branch),
    ("POST", rf"/api/models/{REPO}/tag/(?P<rev>.+)", "tag", hf_tag),
    ("GET", rf"/api/models/{REPO}/tree/(?P<rev>[^/]+)(?P<path>/.*)?", "tree", hf_tree),
    ("POST", rf"/api/models/{REPO}/preupload/(?P<rev>.+)", "preupload", hf_preupload),
    ("POST", rf"/{REPO}\.git/info/lfs/objects/batch", "lfs_batch", hf_lfs_batch),
    ("PUT", r"/_fake/lfs/(?P<oid>[0-9a-f]{64})", "lfs_put", put_blob),
    ("POST", rf"/api/models/{REPO}/commit/(?P<rev>.+)", "commit", hf_commit),
    ("GET", rf"/{REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "resolve", hf_resolve),
]
# The info route must not swallow /refs and /tree: more specific routes go first.
HF_ROUTES.sort(key=lambda r: r[2] == "info")
