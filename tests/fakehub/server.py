"""The fake hub server (see the package docstring for the endpoints it answers)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

LFS_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".model", ".h5", ".onnx")
LFS_THRESHOLD = 10 * 1024 * 1024


def git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Entry:
    size: int
    sha256: str
    git_sha1: str
    lfs: bool


@dataclass
class Repo:
    private: bool
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    commits: dict[str, dict[str, Entry]] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)


class FakeHub:
    """State and the HTTP server of one fake hub (``flavor`` "hf" or "ms")."""

    def __init__(self, root: Path, flavor: str, token: str) -> None:
        self.root = root
        self.flavor = flavor
        self.token = token
        self.blobs = root / "blobs"
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.repos: dict[str, Repo] = {}
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []
        self.unknown: list[tuple[str, str]] = []
        self.bytes_received = 0
        self.fail: dict[str, int] = {}
        self.slow_upload_s = 0.0
        self.upload_started = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> FakeHub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ---------------------------------------------------------------- state helpers
    def files(self, repo: str, revision: str) -> dict[str, Entry]:
        r = self.repos[repo]
        commit = r.branches.get(revision) or r.tags.get(revision) or revision
        return dict(r.commits[commit])

    def blob(self, sha256: str) -> bytes:
        return (self.blobs / sha256).read_bytes()

    def _new_commit(self, repo: Repo, parent: str | None, files: dict[str, Entry], msg: str) -> str:
        body = json.dumps({p: e.sha256 for p, e in sorted(files.items())}) + (parent or "") + msg
        oid = hashlib.sha1(f"{body}{len(repo.commits)}".encode()).hexdigest()
        repo.commits[oid] = files
        repo.messages[oid] = msg
        return oid

    def create_repo(self, repo_id: str, private: bool, main: str) -> bool:
        with self.lock:
            if repo_id in self.repos:
                return False
            repo = Repo(private=private)
            files: dict[str, Entry] = {}
            if self.flavor == "hf":
                data = b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
                files[".gitattributes"] = self._store_inline(data)
            repo.branches[main] = self._new_commit(repo, None, files, "initial commit")
            self.repos[repo_id] = repo
            return True

    def _store_inline(self, data: bytes) -> Entry:
        sha = hashlib.sha256(data).hexdigest()
        (self.blobs / sha).write_bytes(data)
        return Entry(size=len(data), sha256=sha, git_sha1=git_sha1(data), lfs=False)

    def _lfs_entry(self, sha256: str, size: int) -> Entry | None:
        path = self.blobs / sha256
        if not path.is_file() or path.stat().st_size != size:
            return None
        return Entry(size=size, sha256=sha256, git_sha1=git_sha1(path.read_bytes()), lfs=True)


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        # ------------------------------------------------------------ plumbing
        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().strip().split(b";")[0], 16)
                    if size == 0:
                        self.rfile.readline()
                        break
                    chunks.append(self._read(size))
                    self.rfile.readline()
                return b"".join(chunks)
            return self._read(int(self.headers.get("Content-Length") or 0))

        def _read(self, size: int) -> bytes:
            if not hub.slow_upload_s or size < 1024 or not self.path.startswith("/_fake/"):
                return self.rfile.read(size)
            hub.upload_started.set()
            parts, left = [], size
            while left:
                part = self.rfile.read(min(left, 64 * 1024))
                if not part:
                    break
                parts.append(part)
                left -= len(part)
                time.sleep(hub.slow_upload_s)
            return b"".join(parts)

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            ctype = "application/octet-stream" if isinstance(body, bytes) else "application/json"
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _authorized(self) -> bool:
            auth = self.headers.get("Authorization", "")
            cookie = self.headers.get("Cookie", "")
            return auth == f"Bearer {hub.token}" or f"m_session_id={hub.token}" in cookie

        def _dispatch(self, method: str) -> None:
            url = urlsplit(self.path)
            path, query = unquote(url.path), parse_qs(url.query)
            body = self._body() if method in ("POST", "PUT") else b""
            hub.requests.append((method, path))
            routes = HF_ROUTES if hub.flavor == "hf" else MS_ROUTES
            for route_method, pattern, name, func in routes:
                match = re.fullmatch(pattern, path)
                if route_method != method or match is None:
                    continue
                if hub.fail.get(name, 0) > 0:
                    hub.fail[name] -= 1
                    self._send(503, {"error": f"injected failure of {name}"})
                    return
                # Upload hrefs stand for presigned storage URLs: they carry no token. Reads
                # need it only for private repos, which look missing without it (as on the Hub).
                repo = hub.repos.get(match.groupdict().get("repo") or "")
                if method == "GET" and repo is not None and repo.private and not self._authorized():
                    self._send(
                        401,
                        {"error": "Repository not found", "Code": 404},
                        {"X-Error-Code": "RepoNotFound"},
                    )
                    return
                if method not in ("GET", "PUT") and not self._authorized():
                    self._send(401, {"error": "Invalid credentials", "Code": 401})
                    return
                status, payload, headers = func(hub, match, query, body)
                self._send(status, payload, headers)
                return
            hub.unknown.append((method, path))
            self._send(404, {"error": f"fake hub: no route for {method} {path}"})

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def do_PUT(self) -> None:
            self._dispatch("PUT")

        def do_DELETE(self) -> None:
            self._dispatch("DELETE")

        def do_HEAD(self) -> None:
            self._dispatch("GET")

    return Handler


Result = tuple[int, Any, dict[str, str] | None]
REPO = r"(?P<repo>[^/]+/[^/]+)"


def _not_found(code: str, message: str) -> Result:
    return 404, {"error": message}, {"X-Error-Code": code, "X-Error-Message": message}


def _resolve(hub: FakeHub, repo_id: str, revision: str) -> tuple[Repo | None, str | None]:
    repo = hub.repos.get(repo_id)
    if repo is None:
        return None, None
    return repo, repo.branches.get(revision) or repo.tags.get(revision) or (
        revision if revision in repo.commits else None
    )


# ------------------------------------------------------------------- Hugging Face routes
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
    repo, commit = _resolve(hub, m["repo"], m["rev"] or "main")
    if repo is None:
        return _not_found("RepoNotFound", "Repository not found")
    if commit is None:
        return _not_found("RevisionNotFound", "Revision not found")
    siblings = [{"rfilename": p} for p in sorted(repo.commits[commit])]
    info = {"id": m["repo"], "sha": commit, "private": repo.private, "siblings": siblings}
    return 200, info, None


def hf_refs(hub: FakeHub, m: re.Match[str], q: dict[str, list[str]], body: bytes) -> Result:
    repo = hub.repos.get(m["repo"])
    if repo is None:
        return _not_found("RepoNotFound", "Repository not found")

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
        return _not_found("RepoNotFound", "Repository not found")
    with hub.lock:
        if m["name"] in repo.branches:
            return 409, {"error": "Reference already exists"}, None
        start = (json.loads(body or b"{}") or {}).get("startingPoint") or "main"
        _, commit = _resolve(hub, m["repo"], start)
        if commit is None:
            return _not_found("RevisionNotFound", "Revision not found")
        repo.branches[m["name"]] = commit
    return 200, {}, None


def hf_delete_branch(
    hub: FakeHub, m: re.Match[str], q: dict[str, list[str]], body: bytes
) -> Result:
    repo = hub.repos.get(m["repo"])
    if repo is None or m["name"] not in repo.branches:
        return _not_found("RevisionNotFound", "Revision not found")
    del repo.branches[m["name"]]
    return 200, {}, None


def hf_tag(hub: FakeHub, m: re.Match[str], q: dict[str, list[str]], body: bytes) -> Result:
    repo, commit = _resolve(hub, m["repo"], m["rev"])
    if repo is None or commit is None:
        return _not_found("RevisionNotFound", "Revision not found")
    tag = json.loads(body)["tag"]
    with hub.lock:
        if tag in repo.tags:
            return 409, {"error": "Tag already exists"}, None
        repo.tags[tag] = commit
    return 200, {}, None


def hf_tree(hub: FakeHub, m: re.Match[str], q: dict[str, list[str]], body: bytes) -> Result:
    repo, commit = _resolve(hub, m["repo"], m["rev"])
    if repo is None:
        return _not_found("RepoNotFound", "Repository not found")
    if commit is None:
        return _not_found("RevisionNotFound", "Revision not found")
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
        return _not_found("RepoNotFound", "Repository not found")
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


def put_blob(hub: FakeHub, m: re.Match[str], q: dict[str, list[str]], body: bytes) -> Result:
    if hashlib.sha256(body).hexdigest() != m["oid"]:
        return 400, {"error": "sha256 mismatch", "Code": 400}, None
    with hub.lock:
        hub.bytes_received += len(body)
        (hub.blobs / m["oid"]).write_bytes(body)
    return 200, {"Code": 200} if hub.flavor == "ms" else {}, None


def hf_commit(hub: FakeHub, m: re.Match[str], q: dict[str, list[str]], body: bytes) -> Result:
    repo, parent = _resolve(hub, m["repo"], m["rev"])
    if repo is None:
        return _not_found("RepoNotFound", "Repository not found")
    if parent is None or m["rev"] not in repo.branches:
        return _not_found("RevisionNotFound", "Revision not found")
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
    repo, commit = _resolve(hub, m["repo"], m["rev"])
    if repo is None or commit is None or m["path"] not in repo.commits[commit]:
        return _not_found("EntryNotFound", "Entry not found")
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
    repo, commit = _resolve(hub, m["repo"], q.get("Revision", ["master"])[0])
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
    repo, commit = _resolve(hub, m["repo"], data.get("Ref", "master"))
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
    repo, parent = _resolve(hub, m["repo"], m["rev"])
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
