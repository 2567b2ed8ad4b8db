"""Where the steps send their progress events (:mod:`builder.core.progress`).

The sink and the cell being worked on live in context variables, so that an engine's wait
loop or a suite deep in the call stack reports without every function between it and the
CLI taking a parameter for it; nothing is reported unless a caller installs a sink
(:func:`reporting`). Context variables follow into asyncio tasks, as the perf client needs.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

from builder.core import progress
from builder.core.progress import Event, Sink

_SINK: ContextVar[Sink] = ContextVar("progress_sink", default=progress.ignore)
_CELL: ContextVar[str] = ContextVar("progress_cell", default="")
_PHASE: ContextVar[str] = ContextVar("progress_phase", default="")


@contextlib.contextmanager
def reporting(sink: Sink) -> Iterator[None]:
    """Send this context's events to ``sink``."""
    token = _SINK.set(sink)
    try:
        yield
    finally:
        _SINK.reset(token)


def emit(event: Event) -> None:
    _SINK.get()(event)


@contextlib.contextmanager
def cell(cell_id: str) -> Iterator[None]:
    """Events of this context belong to ``cell_id``."""
    token = _CELL.set(cell_id)
    try:
        yield
    finally:
        _CELL.reset(token)


@contextlib.contextmanager
def phase(name: str, detail: str = "") -> Iterator[None]:
    """A phase of the current cell (or of the run), from its start to its end."""
    cell_id = _CELL.get()
    emit(progress.PhaseStarted(cell=cell_id, phase=name, detail=detail))
    token = _PHASE.set(name)
    started = time.monotonic()
    ok = False
    try:
        yield
        ok = True
    finally:
        _PHASE.reset(token)
        seconds = time.monotonic() - started
        emit(progress.PhaseEnded(cell=cell_id, phase=name, seconds=seconds, ok=ok))


def tick(detail: str = "", done: int | None = None, total: int | None = None) -> None:
    """News from the running phase."""
    event = progress.PhaseTick(
        cell=_CELL.get(), phase=_PHASE.get(), detail=detail, done=done, total=total
    )
    emit(event)


def note(line: str) -> None:
    emit(progress.Note(line=line, cell=_CELL.get()))


def tick_from_log(path: Path, started: float, *, bar: bool = False) -> None:
    """A tick with the elapsed time and the newest line of a tool's log (``bar``: the
    progress bar's count when the log has one, as lm-eval's does)."""
    text = _tail_text(path)
    elapsed = f"{time.monotonic() - started:.0f}s"
    found = progress.bar_progress(text) if bar else None
    if found is not None:
        label, done, total = found
        tick(f"{elapsed}: {label or 'requests'} {done}/{total}", done=done, total=total)
        return
    line = progress.last_line(text)
    tick(f"{elapsed}: {line}" if line else elapsed)


def _tail_text(path: Path, size: int = 8192) -> str:
    """The end of a growing log, without reading all of it each time."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            end = handle.tell()
            handle.seek(max(0, end - size))
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
