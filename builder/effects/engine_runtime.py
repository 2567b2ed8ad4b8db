"""Start a cell's serving engine on loopback, wait for health, and always stop it: as a
process of the host (``running_engine``) or as the cell's own image in a container
(``running_container``), the same way for the suites either way."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx

from builder.core import progress as progress_lines
from builder.core.catalog_model import EngineConf
from builder.core.engines import ServeCommand, serve_command
from builder.core.model import ScalarValue
from builder.effects import containers, killpoint, orphans, progress
from builder.effects.containers import Container
from builder.effects.proc import Server, group_alive
from builder.errors import EngineError

HOST = "127.0.0.1"


class EngineProcess(Protocol):
    """What a running engine is to the builder: a host process group or a container."""

    def exit_code(self) -> int | None: ...

    def wait(self, timeout_s: float) -> int | None: ...

    def log_tail(self, lines: int = 20) -> str: ...

    def stop(self, grace_s: float = 10.0) -> int: ...


@dataclass(frozen=True, kw_only=True)
class RunningEngine:
    """A healthy server a suite can talk to."""

    base_url: str
    health_url: str
    request_model: str
    lists_served_model: bool
    command: ServeCommand
    startup_s: float
    server: EngineProcess

    def check_alive(self, grace_s: float = 0.0) -> None:
        """Raise with the log's last lines if the engine died (e.g. mid-suite); ``grace_s``
        gives a dying engine time to exit, so its crash and not the suite's symptom is
        reported."""
        code = self.server.wait(grace_s) if grace_s else self.server.exit_code()
        if code is not None:
            msg = f"engine exited with code {code} during validation; last log lines:\n"
            raise EngineError(msg + self.server.log_tail())


def free_port() -> int:
    """A port nobody listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# Words that mark a variable as a credential (HF_TOKEN, AWS_SECRET_ACCESS_KEY, GH_TOKEN,
# ACTIONS_RUNTIME_TOKEN, SSH_AUTH_SOCK...); matched as whole words, so TOKENIZERS_* stays.
SECRET_WORDS = frozenset(
    {"TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "CREDENTIALS", "KEY", "AUTH"}
)


def is_secret(name: str) -> bool:
    """Whether an environment variable looks like a credential."""
    return bool(SECRET_WORDS & set(name.upper().split("_")))


def engine_env(extra: Mapping[str, str], cache_dir: Path) -> dict[str, str]:
    """The server's environment: ours without credentials, offline by default, plus the
    chip's and engine's (from conf/).

    An engine runs code that came with the recipe's model (chat templates, and remote code
    where a recipe asks for it); it never needs a token, so it never gets one.
    """
    env = {k: v for k, v in os.environ.items() if not is_secret(k)}
    # Some servers scan the hub cache (transformers serve fails on /v1/models without one).
    hub_cache = cache_dir / "hf-hub"
    hub_cache.mkdir(parents=True, exist_ok=True)
    env.setdefault("HF_HUB_CACHE", str(hub_cache))
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("HF_DATASETS_OFFLINE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env.update(extra)
    return env


@contextlib.contextmanager
def running_engine(
    engine: EngineConf,
    args: Mapping[str, ScalarValue],
    *,
    model: str,
    served_model_name: str,
    env: Mapping[str, str],
    log_path: Path,
    cache_dir: Path,
    startup_timeout_s: float,
    record_in: Path | None = None,
) -> Iterator[RunningEngine]:
    """Serve ``model`` (a folder, or a single-file reference made with the engine's
    ``model_file``) with ``engine``; the server is stopped on every way out. ``record_in``
    (out/): where the engine is on record while it runs, for the next run to stop it if
    this builder is killed (:mod:`builder.effects.orphans`)."""
    port = free_port()
    command = serve_command(
        engine,
        args,
        model=model,
        host=HOST,
        port=port,
        served_model_name=served_model_name,
    )
    started = time.monotonic()
    try:
        # The cell's own work folder as the working directory: a relative path in an
        # engine argument resolves there, never into the repository or the builder's cwd.
        log_path.parent.mkdir(parents=True, exist_ok=True)
        server = Server(
            command.argv, env=engine_env(env, cache_dir), log_path=log_path, cwd=log_path.parent
        )
    except OSError as exc:
        msg = f"cannot start {engine.display_name} ({command.argv[0]}): {exc}"
        raise EngineError(msg) from None
    try:
        with _on_record(record_in, server, served_model_name):
            running = _healthy(engine, command, server, port, startup_timeout_s, started)
            killpoint.point("engine-started")
            yield running
            # A crash while the suites ran must fail the cell with its cause, even when a
            # left-over child kept answering (the suites alone may not notice).
            crashed = server.exit_code()
    finally:
        server.stop()
    if crashed is not None:
        msg = f"engine exited with code {crashed} during validation; last log lines:\n"
        raise EngineError(msg + server.log_tail())
    _check_released(server, port)


def _on_record(
    record_in: Path | None, server: Server, name: str
) -> contextlib.AbstractContextManager[None]:
    if record_in is None:
        return contextlib.nullcontext()
    return orphans.recorded(record_in, group=server.pid, cell=name)


def _check_released(server: Server, port: int, wait_s: float = 5.0) -> None:
    """After a stop, nothing of the engine may be left: not its group, not its port."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if not group_alive(server.pid) and not port_in_use(port):
            return
        time.sleep(0.1)
    msg = (
        f"the engine was stopped but port {port} is still in use or its process group "
        f"{server.pid} is still alive (a process escaped the group); last log lines:\n"
    )
    raise EngineError(msg + server.log_tail())


def port_in_use(port: int) -> bool:
    """Whether something accepts connections on ``HOST:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((HOST, port)) == 0


def _healthy(
    engine: EngineConf,
    command: ServeCommand,
    server: EngineProcess,
    port: int,
    timeout_s: float,
    started: float,
) -> RunningEngine:
    """Wait until ``server`` (a process or a container) answers on loopback ``port``."""
    base_url = f"http://{HOST}:{port}"
    health_url = base_url + engine.health_path
    with progress.phase("engine", f"starting {engine.display_name}"):
        _wait_healthy(server, health_url, timeout_s)
    return RunningEngine(
        base_url=base_url,
        health_url=health_url,
        request_model=command.request_model,
        lists_served_model=engine.lists_served_model,
        command=command,
        startup_s=time.monotonic() - started,
        server=server,
    )


def _wait_healthy(server: EngineProcess, url: str, timeout_s: float) -> None:
    started = time.monotonic()
    deadline = started + timeout_s
    with httpx.Client(timeout=5.0) as client:
        while time.monotonic() < deadline:
            # The elapsed time and the engine's newest line: a start may take minutes.
            line = progress_lines.last_line(server.log_tail(5))
            elapsed = f"{time.monotonic() - started:.0f}s of {timeout_s:g}s"
            progress.tick(f"{elapsed}: {line}" if line else elapsed)
            code = server.exit_code()
            if code is not None:
                msg = f"engine exited with code {code} before it was healthy; last log lines:\n"
                raise EngineError(msg + server.log_tail())
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
    msg = f"engine not healthy at {url} after {timeout_s:g}s; last log lines:\n"
    raise EngineError(msg + server.log_tail())


@contextlib.contextmanager
def running_container(
    engine: EngineConf,
    command: ServeCommand,
    *,
    run_argv: Sequence[str],
    port: int,
    log_path: Path,
    startup_timeout_s: float,
) -> Iterator[RunningEngine]:
    """Start ``run_argv`` (a ``docker run -d`` of the cell's image on the host's network,
    its server bound to 127.0.0.1:``port``); the container is removed on every way out,
    Ctrl-C included, and its output kept in ``log_path``."""
    started = time.monotonic()
    container = Container(containers.start(run_argv), log_path)
    crashed: int | None = None
    try:
        yield _healthy(engine, command, container, port, startup_timeout_s, started)
        # As on the host: a crash while the suites ran fails the cell with its cause.
        crashed = container.exit_code()
        tail = container.log_tail() if crashed is not None else ""
    finally:
        container.stop()
    if crashed is not None:
        msg = f"engine exited with code {crashed} during validation; last log lines:\n"
        raise EngineError(msg + tail)
    deadline = time.monotonic() + 5.0
    while port_in_use(port):
        if time.monotonic() > deadline:
            msg = f"the container was removed but port {port} is still in use"
            raise EngineError(msg)
        time.sleep(0.1)
