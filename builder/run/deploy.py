"""``builder deploy``: a released cell on N devices, one command; and ``status``, ``logs``,
``stop`` for what was deployed.

A deployment serves the weights the cell was released with, from the cell's own image
(``--runtime container``, the card's ``docker run``) or as a process of this host; it is
recorded under ``out/deployments/`` before it starts, and lives on after ``deploy`` exits.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from builder.core import deploy as placing
from builder.core.engines import model_reference, serve_command
from builder.core.keys import ResolvedCell
from builder.core.log import Log
from builder.effects import containers, deployments, killpoint, proc
from builder.effects.deployments import Deployment
from builder.effects.engine_runtime import engine_env, free_port, port_in_use
from builder.effects.variants import Weights
from builder.errors import EngineError, UsageError, unknown_name
from builder.run.container import build_image, image_run
from builder.run.validate import serving_weights
from builder.session import Session

DEPLOY_LABEL = "io.llm-release.deployment"


@dataclass(frozen=True, kw_only=True)
class Started:
    """A deployment that answered its health check, and how long that took."""

    deployment: Deployment
    seconds: float


def deploy(
    session: Session,
    cell_id: str,
    *,
    devices: str | None,
    port: int | None,
    bind: str,
    allow_unqualified: bool,
    log: Log,
) -> Started:
    """Start ``cell_id`` (refused unless it passed its gates), wait until it is healthy."""
    started = time.monotonic()
    resolved = _released_cell(session, cell_id, allow_unqualified)
    out_dir = session.out_dir
    _clear(out_dir, cell_id)
    cell = resolved.cell
    chip, engine = session.catalog.chips[cell.chip], session.catalog.engines[cell.engine]
    placement = placing.place(
        cell, chip, engine, placing.parse_devices(devices) if devices else None
    )
    if port is not None and port_in_use(port):
        msg = f"--port {port}: something already listens on {bind}:{port}; choose another"
        raise UsageError(msg)
    port = port or free_port()
    work = out_dir / ".work" / "deploy" / cell.id
    weights = serving_weights(session.project, session.catalog, resolved, out_dir / ".cache", work)
    base = f"http://{'127.0.0.1' if bind == '0.0.0.0' else bind}:{port}"
    record = Deployment(
        cell=cell.id,
        runtime=session.runtime,
        port=port,
        bind=bind,
        devices=placement.devices,
        token=f"llmrb-deploy-{cell.id}",
        log=str(deployments.folder(out_dir) / f"{cell.id}.log"),
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        url=f"{base}/v1",
        health_url=base + engine.health_path,
        request_model="",
    )
    # Recorded before it starts: a deploy killed from here on leaves what stop can find.
    deployments.save(out_dir, record)
    if session.runtime == "container":
        record = _start_container(session, resolved, placement, weights, record, log)
    else:
        record = _start_process(session, resolved, placement, weights, record)
    deployments.save(out_dir, record)
    killpoint.point("deploy-started")
    _wait_healthy(out_dir, record, session.catalog.settings.startup_timeout_s)
    return Started(deployment=record, seconds=time.monotonic() - started)


def _released_cell(session: Session, cell_id: str, allow_unqualified: bool) -> ResolvedCell:
    if cell_id not in session.cells:
        msg = f"deploy: {unknown_name('cell', cell_id, session.cells)}"
        raise UsageError(msg)
    index = session.out_dir / "release.json"
    try:
        entries = {e["id"]: e for e in json.loads(index.read_text(encoding="utf-8"))["cells"]}
    except (OSError, ValueError, KeyError, TypeError):
        entries = {}
    status = entries.get(cell_id, {}).get("status", "not released")
    if status != "passed" and not allow_unqualified:
        msg = (
            f"{cell_id} is {status} in {index}, not passed: deploy a qualified cell, or add "
            "--allow-unqualified to run it anyway"
        )
        raise UsageError(msg)
    return session.cells[cell_id]


def _clear(out_dir: Path, cell_id: str) -> None:
    """Refuse a cell that is running; forget (and stop) one that died."""
    found = deployments.find(out_dir, cell_id)
    if found is None:
        return
    if deployments.alive(found) and deployments.healthy(found):
        msg = f"{cell_id} is already deployed at {found.url}; `builder stop {cell_id}` first"
        raise UsageError(msg)
    deployments.stop(found)
    deployments.forget(out_dir, cell_id)


def _start_process(
    session: Session,
    resolved: ResolvedCell,
    placement: placing.Placement,
    weights: Weights,
    record: Deployment,
) -> Deployment:
    cell = resolved.cell
    chip, engine = session.catalog.chips[cell.chip], session.catalog.engines[cell.engine]
    command = serve_command(
        engine,
        {**cell.serve_args, **placement.extra_args},
        model=model_reference(engine, str(weights.dir), weights.file),
        host=record.bind,
        port=record.port,
        served_model_name=cell.release_name,
    )
    extra = {**chip.env, **engine.env, **placing.visible_devices(chip, placement.devices)}
    env = engine_env({**extra, deployments.TOKEN_ENV: record.token}, session.out_dir / ".cache")
    server = proc.Server(
        command.argv, env=env, log_path=Path(record.log), cwd=Path(record.log).parent
    )
    return Deployment.from_json(
        {
            **record.to_json(),
            "pid": server.pid,
            "argv": list(command.argv),
            "request_model": command.request_model,
        }
    )


def _start_container(
    session: Session,
    resolved: ResolvedCell,
    placement: placing.Placement,
    weights: Weights,
    record: Deployment,
    log: Log,
) -> Deployment:
    cell = resolved.cell
    work = session.out_dir / ".work" / "deploy" / cell.id
    image_id = build_image(session.project, session.catalog, resolved, work, log)
    served = image_run(
        session.catalog,
        resolved,
        weights,
        placement,
        host=record.bind,
        port=record.port,
        name=record.token,
        labels={DEPLOY_LABEL: cell.id},
    )
    container = containers.start(served.argv)
    return Deployment.from_json(
        {
            **record.to_json(),
            "container": container,
            "image": cell.image,
            "image_id": image_id,
            "argv": served.argv,
            "request_model": served.command.request_model,
        }
    )


def _wait_healthy(out_dir: Path, record: Deployment, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if deployments.healthy(record):
            return
        if not deployments.alive(record):
            tail = "\n".join(log_lines(record, tail=20))
            deployments.stop(record)
            deployments.forget(out_dir, record.cell)
            msg = f"{record.cell}: the engine exited before it was healthy; last log lines:\n{tail}"
            raise EngineError(msg)
        time.sleep(0.5)
    tail = "\n".join(log_lines(record, tail=20))
    deployments.stop(record)
    deployments.forget(out_dir, record.cell)
    msg = f"{record.cell}: not healthy at {record.health_url} after {timeout_s:g}s; last log lines:\n{tail}"
    raise EngineError(msg)


def curl_line(deployment: Deployment) -> str:
    """The one-line request that tries a deployment."""
    body = json.dumps(
        {
            "model": deployment.request_model,
            "messages": [{"role": "user", "content": "2+3="}],
            "max_tokens": 8,
        }
    )
    return f"curl {deployment.url}/chat/completions -H 'Content-Type: application/json' -d '{body}'"


@dataclass(frozen=True, kw_only=True)
class Row:
    """One line of ``builder status``."""

    deployment: Deployment
    state: str  # healthy, unhealthy, dead
    uptime_s: float


def status(out_dir: Path) -> list[Row]:
    rows = []
    now = datetime.now(UTC)
    for found in deployments.records(out_dir):
        if not deployments.alive(found):
            state = "dead"
        else:
            state = "healthy" if deployments.healthy(found) else "unhealthy"
        started = datetime.fromisoformat(found.started_at)
        rows.append(Row(deployment=found, state=state, uptime_s=(now - started).total_seconds()))
    return rows


def stop(out_dir: Path, cells: Sequence[str], *, every: bool) -> list[str]:
    """Stop and forget the named deployments (or all); the cells stopped."""
    found = {d.cell: d for d in deployments.records(out_dir)}
    if not every:
        missing = [c for c in cells if c not in found]
        if missing:
            msg = f"stop: {unknown_name('deployment', missing[0], found)}"
            raise UsageError(msg)
    chosen = list(found) if every else list(cells)
    for cell in chosen:
        deployments.stop(found[cell])
        deployments.forget(out_dir, cell)
    return chosen


def log_lines(deployment: Deployment, *, tail: int) -> list[str]:
    """The last ``tail`` lines of a deployment's engine output."""
    if deployment.runtime == "container":
        return containers.logs(deployment.container or deployment.token, tail=tail).splitlines()
    try:
        text = Path(deployment.log).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return text.splitlines()[-tail:]


def follow(deployment: Deployment, *, poll_s: float = 0.5) -> Iterator[str]:
    """New lines of a deployment's output as they come, until it stops (or Ctrl-C)."""
    seen = len(log_lines(deployment, tail=1_000_000))
    while deployments.alive(deployment):
        lines = log_lines(deployment, tail=1_000_000)
        yield from lines[seen:]
        seen = len(lines)
        time.sleep(poll_s)
    yield from log_lines(deployment, tail=1_000_000)[seen:]
