"""The fake hub server (see the package docstring for the endpoints it answers)."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakehub.hf import HF_ROUTES
from tests.fakehub.ms import MS_ROUTES
from tests.fakehub.store import Entry, Repo, git_sha1


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
    """The request handler class of one hub."""
    return type("Handler", (Handler,), {"hub": hub})


class Handler(BaseHTTPRequestHandler):
    """Reads a request, finds its route, applies injected failures and the token rules."""

    protocol_version = "HTTP/1.1"
    hub: ClassVar[FakeHub]

    def log_message(self, format: str, *args: Any) -> None:
        pass

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
        hub = self.hub
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
        return auth == f"Bearer {self.hub.token}" or f"m_session_id={self.hub.token}" in cookie

    def _dispatch(self, method: str) -> None:
        hub = self.hub
        url = urlsplit(self.path)
        path, query = unquote(url.path), parse_qs(url.query)
        body = self._body() if method in ("POST", "PUT") else b""
        hub.requests.append((method, path))
        routes = HF_ROUTES if hub.flavor == "hf" else MS_ROUTES
        for route_method, pattern, name, func in routes:
            match = re.fullmatch(pattern, path)
            if route_method == method and match is not None:
                self._route(method, name, match, func, query, body)
                return
        hub.unknown.append((method, path))
        self._send(404, {"error": f"fake hub: no route for {method} {path}"})

    def _route(
        self,
        method: str,
        name: str,
        match: re.Match[str],
        func: Any,
        query: dict[str, list[str]],
        body: bytes,
    ) -> None:
        hub = self.hub
        if hub.fail.get(name, 0) > 0:
            hub.fail[name] -= 1
            self._send(503, {"error": f"injected failure of {name}"})
            return
        # Upload hrefs stand for presigned storage URLs: they carry no token. Reads need it
        # only for private repos, which look missing without it (as on the Hub).
        repo = hub.repos.get(match.groupdict().get("repo") or "")
        if method == "GET" and repo is not None and repo.private and not self._authorized():
            headers = {"X-Error-Code": "RepoNotFound"}
            self._send(401, {"error": "Repository not found", "Code": 404}, headers)
            return
        if method not in ("GET", "PUT") and not self._authorized():
            self._send(401, {"error": "Invalid credentials", "Code": 401})
            return
        status, payload, headers = func(hub, match, query, body)
        self._send(status, payload, headers)

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
