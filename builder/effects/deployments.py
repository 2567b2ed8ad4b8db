"""Running deployments, as records under ``out/deployments/`` so that ``builder status``,
``logs`` and ``stop`` work from any shell, after the ``deploy`` that started them is gone.

A record is written before the engine starts, with a token the engine's environment (host
processes) or name (containers) carries: a ``deploy`` killed at any point leaves nothing that
``stop`` cannot find, even before the process id or container id made it into the record.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

from builder.core.plain import dumps
from builder.effects import containers, fs
from builder.effects.proc import group_alive

FOLDER = "deployments"
TOKEN_ENV = "LLMRB_DEPLOYMENT"


@dataclass(frozen=True, kw_only=True)
class Deployment:
    """One deployed cell: where it runs and how to find it again."""

    cell: str
    runtime: str
    port: int
    bind: str
    devices: tuple[int, ...] = ()
    # In the host process's environment, or the container's name: how stop finds it.
    token: str
    log: str
    started_at: str
    url: str
    health_url: str
    request_model: str
    pid: int | None = None
    container: str = ""
    image: str = ""
    image_id: str = ""
    argv: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["devices"] = list(self.devices)
        data["argv"] = list(self.argv)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Deployment:
        names = set(cls.__dataclass_fields__)
        known = {k: v for k, v in data.items() if k in names}
        known["devices"] = tuple(known.get("devices", ()))
        known["argv"] = tuple(known.get("argv", ()))
        return cls(**known)


def folder(out_dir: Path) -> Path:
    return out_dir / FOLDER


def record_path(out_dir: Path, cell: str) -> Path:
    return folder(out_dir) / f"{cell}.json"


def save(out_dir: Path, deployment: Deployment) -> None:
    fs.write_atomic(record_path(out_dir, deployment.cell), dumps(deployment.to_json()).encode())


def forget(out_dir: Path, cell: str) -> None:
    record_path(out_dir, cell).unlink(missing_ok=True)


def records(out_dir: Path) -> list[Deployment]:
    """Every recorded deployment, by cell (a record that does not parse is skipped)."""
    found = []
    for path in sorted(folder(out_dir).glob("*.json")):
        data = fs.read_json(path)
        with contextlib.suppress(TypeError, ValueError):
            if data is not None:
                found.append(Deployment.from_json(data))
    return found


def find(out_dir: Path, cell: str) -> Deployment | None:
    data = fs.read_json(record_path(out_dir, cell))
    return Deployment.from_json(data) if data is not None else None


def with_process(
    deployment: Deployment, *, pid: int | None = None, container: str = ""
) -> Deployment:
    return replace(deployment, pid=pid, container=container)


def alive(deployment: Deployment) -> bool:
    """Whether the deployment's process group or container is still running."""
    if deployment.runtime == "container":
        status, _ = containers.state(deployment.container or deployment.token)
        return status in ("running", "created", "restarting")
    return bool(_token_processes(deployment.token)) or (
        deployment.pid is not None and group_alive(deployment.pid)
    )


def healthy(deployment: Deployment, timeout_s: float = 2.0) -> bool:
    try:
        return httpx.get(deployment.health_url, timeout=timeout_s).status_code == 200
    except httpx.HTTPError:
        return False


def stop(deployment: Deployment, grace_s: float = 10.0) -> None:
    """Stop the deployment's processes or container (a dead one is fine)."""
    if deployment.runtime == "container":
        containers.remove(deployment.container or deployment.token)
        return
    groups = {os.getpgid(pid) for pid in _token_processes(deployment.token) if _exists(pid)}
    if deployment.pid is not None:
        groups.add(deployment.pid)
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        for group in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, sig)
        deadline = time.monotonic() + wait
        while any(group_alive(g) for g in groups) and time.monotonic() < deadline:
            time.sleep(0.1)


def _exists(pid: int) -> bool:
    try:
        os.getpgid(pid)
    except ProcessLookupError:
        return False
    return True


def _token_processes(token: str) -> list[int]:
    """Live processes whose environment carries ``LLMRB_DEPLOYMENT=<token>`` (Linux /proc)."""
    wanted = f"{TOKEN_ENV}={token}".encode()
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if wanted in environ.read_bytes().split(b"\0"):
                stat = (environ.parent / "stat").read_text()
                if stat[stat.rindex(")") + 2] != "Z":
                    found.append(int(environ.parent.name))
        except (OSError, ValueError):
            continue
    return found
