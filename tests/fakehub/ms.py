"""The ModelScope endpoints the fake answers (modelscope-hub's calls)."""

from __future__ import annotations

import base64
import json
import re
from typing import TYPE_CHECKING, Any

from tests.fakehub.store import REPO, Result, put_blob, resolve

if TYPE_CHECKING:
    from tests.fakehub.server import FakeHub


# ---------------------------------------------------------------------- ModelScope routes
def _ms(data: Any, status: int = 200) -> Result:
    return status, {"Code": status, "Success": status < 400, "Data": data, "Message": ""}, None


def ms_get(hub: FakeHub, m: re.Match[str], q: dict[str, list[str]], body: bytes) -> Result:
    repo = hub.repos.get(m["repo"])
    if repo is None:
        return (
            404,
            {"Code": 404, "Success": False, "Message": "model not found", "success": False},
            None,
        )
    owner, name = m["repo"].split("/")
    data = {"Path": owner, "Name": name, "Id": m["repo"], "Visibility": 1 if repo.private else 5}
    if self_openapi(m):
        return 200, {"success": True, "data": {"id": m["repo"], "owner": owner, "name": name}}, None
    return _ms(data)


def self_openapi(m: re.Match[str]) -> bool:
    return m.string.startswith("/openapi/")


def ms_create(hub: FakeHub, m: re.Match[str], q: dict[str, list[str]], body: bytes) -> Result:
    data = json.loads(body)
    repo_id = f"{data['Path']}/{data['Name']}"
    if not hub.create_repo(repo_id, int(data.get("Visibility", 5)) != 5, "master"):
        return 400, {"Code": 10010205001, "Success": False, "Message": "repo already exists"}, None
    return _ms({"Path": data["Path"], "Name": data["Name"]})


def ms_files(hub: FakeHub, m: re.Match[str], q: dict[str, list[str]], body: bytes) -> Result:
    repo, commit = resolve(hub, m["repo"], q.get("Revision", ["master"])[0])
    if repo is None or commit is None:
        return 404, {"Code": 404, "Success": False, "Message": "not found"}, None
    files = [
        {
            "Path": p,
            "Name": p.rsplit("/", 1)[-1],
            "Size": e.size,
            "Sha256": e.sha256,
            "Type": "blob",
            "IsLFS": e.lfs,
        }
        for p, e in sorted(repo.commits[commit].items())
    ]
    return _ms({"Files": files})


def ms_revisions(hub: FakeHub, m: re.Match[str], q: dict[str, list[str]], body: bytes) -> Result:
    repo = hub.repos.get(m["repo"])
    if repo is None:
        return 404, {"Code": 404, "Success": False, "Message": "not found"}, None
    branches = [{"Revision": n, "CreatedAt": 0} for n in sorted(repo.branches)]
    tags = [{"Revision": n, "CreatedAt": 0} for n in sorted(repo.tags)]
    return _ms({"RevisionMap": {"Branches": branches, "Tags": tags}})


def ms_tag(hub: FakeHub, m: re.Match[str], q: dict[str, list[str]], body: bytes) -> Result:
    data = json.loads(body)
    repo, commit = resolve(hub, m["repo"], data.get("Ref", "master"))
    if repo is None or commit is None:
        return 404, {"Code": 404, "Success": False, "Message": "not found"}, None
    with hub.lock:
        if data["TagName"] in repo.tags:
            return 400, {"Code": 400, "Success": False, "Message": "tag already exists"}, None
        repo.tags[data["TagName"]] = commit
    return _ms({})


def ms_batch(hub: FakeHub, m: re.Match[str], q: dict[str, list[str]], body: bytes) -> Result:
    objects = []
    for obj in json.loads(body)["objects"]:
        if hub._lfs_entry(obj["oid"], int(obj["size"])) is not None:
            objects.append({"oid": obj["oid"], "size": obj["size"]})
        else:
            href = f"{hub.url}/_fake/ms-lfs/{obj['oid']}"
            objects.append(
                {"oid": obj["oid"], "size": obj["size"], "actions": {"upload": {"href": href}}}
            )
    return _ms({"objects": objects})


def ms_commit(hub: FakeHub, m: re.Match[str], q: dict[str, list[str]], body: bytes) -> Result:
    repo, parent = resolve(hub, m["repo"], m["rev"])
    if repo is None or parent is None:
        return 404, {"Code": 404, "Success": False, "Message": "not found"}, None
    data = json.loads(body)
    with hub.lock:
        files = dict(repo.commits[parent])
        for action in data["actions"]:
            path = action["path"]
            if action["action"] == "delete":
                files.pop(path, None)
            elif action["type"] == "lfs":
                entry = hub._lfs_entry(action["sha256"], int(action["size"]))
                if entry is None:
                    return (
                        400,
                        {
                            "Code": 400,
                            "Success": False,
                            "Message": f"blob {action['sha256']} missing",
                        },
                        None,
                    )
                files[path] = entry
            else:
                content = base64.b64decode(action["content"])
                hub.bytes_received += len(content)
                files[path] = hub._store_inline(content)
        oid = hub._new_commit(repo, parent, files, data.get("commit_message", ""))
        repo.branches[m["rev"]] = oid
    return _ms({"CommitId": oid, "Revision": m["rev"]})


MS_ROUTES = [
    ("GET", rf"/openapi/v1/models/{REPO}", "info", ms_get),
    ("GET", rf"/api/v1/models/{REPO}/repo/files", "files", ms_files),
    ("GET", rf"/api/v1/models/{REPO}/revisions", "revisions", ms_revisions),
    ("POST", rf"/api/v1/models/{REPO}/repo/tag", "tag", ms_tag),
    ("GET", rf"/api/v1/models/{REPO}", "info", ms_get),
    ("POST", r"/api/v1/models", "create", ms_create),
    ("POST", rf"/api/v1/repos/models/{REPO}/info/lfs/objects/batch", "lfs_batch", ms_batch),
    ("PUT", r"/_fake/ms-lfs/(?P<oid>[0-9a-f]{64})", "lfs_put", put_blob),
    ("POST", rf"/api/v1/repos/models/{REPO}/commit/(?P<rev>.+)", "commit", ms_commit),
]
