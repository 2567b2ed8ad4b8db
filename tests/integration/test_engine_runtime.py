"""The engine runtime always stops what it starts: on success, failure and Ctrl-C."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from builder.core.catalog_model import EngineConf
from builder.effects.engine_runtime import running_engine
from builder.effects.proc import group_alive
from builder.errors import EngineError

pytestmark = pytest.mark.integration


def http_server(**changes: object) -> EngineConf:
    """A real server (Python's http.server) standing in for an engine."""
    fields: dict[str, object] = {
        "name": "vllm",  # any registered engine module; its argument translation is unused
        "display_name": "http.server",
        "package": "none",
        "version": "0",
        "serve": [sys.executable, "-m", "http.server", "--bind", "{host}", "{port}"],
        "health_path": "/",
    }
    fields.update(changes)
    return EngineConf(**fields)  # type: ignore[arg-type]


def start(engine: EngineConf, tmp_path: Path, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    return running_engine(
        engine,
        {},
        model=str(tmp_path),
        served_model_name="m",
        env={},
        log_path=tmp_path / "engine.log",
        cache_dir=tmp_path / "cache",
        startup_timeout_s=timeout,
    )


def test_stopped_after_use_and_after_ctrl_c(tmp_path: Path) -> None:
    with start(http_server(), tmp_path) as running:
        pid = running.server.pid
        assert group_alive(pid)
    assert not group_alive(pid)

    pids: list[int] = []

    def interrupted() -> None:
        with start(http_server(), tmp_path) as running:
            pids.append(running.server.pid)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    assert not group_alive(pids[0])


def test_crash_on_start_reports_the_log(tmp_path: Path) -> None:
    crashing = http_server(serve=["sh", "-c", "echo no-device-found >&2; exit 7"])
    with (
        pytest.raises(EngineError, match=r"exited with code 7(.|\n)*no-device-found"),
        start(crashing, tmp_path),
    ):
        pass


def test_hang_without_health_times_out_and_is_killed(tmp_path: Path) -> None:
    hanging = http_server(serve=["sh", "-c", "echo loading; sleep 600"])
    with (
        pytest.raises(EngineError, match=r"not healthy(.|\n)*loading"),
        start(hanging, tmp_path, timeout=2),
    ):
        pass
    assert "loading" in (tmp_path / "engine.log").read_text()
