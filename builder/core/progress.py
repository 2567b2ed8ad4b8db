"""What a run reports while it works, as data: the events a display shows as they happen.

A release spends minutes in places that print nothing of their own (an engine starting,
lm-eval, a perf sweep, a quantizer): the steps emit these events and the CLI's display
(:mod:`builder.display`) draws them, as a live view on a terminal, as timestamped lines in
a log, as groups in GitHub Actions. The parsers here read progress out of the tools' logs
(lm-eval's request bar, an engine's last line); nothing in this module does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

from builder.core.results import CellValidation


@dataclass(frozen=True, kw_only=True)
class RunStarted:
    stage: str
    total: int


@dataclass(frozen=True, kw_only=True)
class CellStarted:
    cell: str
    number: int
    total: int


@dataclass(frozen=True, kw_only=True)
class PhaseStarted:
    """A phase of a cell (``weights``, ``image``, ``engine``, a suite) or of the run (``write``,
    ``lint``, ``index``: ``cell`` is then empty)."""

    cell: str
    phase: str
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class PhaseTick:
    """News from a running phase: its latest line, and how far it got when that is known."""

    cell: str
    phase: str
    detail: str = ""
    done: int | None = None
    total: int | None = None


@dataclass(frozen=True, kw_only=True)
class PhaseEnded:
    cell: str
    phase: str
    seconds: float
    ok: bool = True


@dataclass(frozen=True, kw_only=True)
class CellEnded:
    cell: str
    status: str
    seconds: float
    reason: str = ""
    reused: str = ""
    # For a failed cell: the lines that say why, and the file to read next.
    summary: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Note:
    """A line of the run's log that is no phase (a hadolint finding, a weights record)."""

    line: str
    cell: str = ""


@dataclass(frozen=True, kw_only=True)
class RunEnded:
    stage: str
    seconds: float
    counts: Mapping[str, int] = field(default_factory=dict)


Event: TypeAlias = (
    RunStarted | CellStarted | PhaseStarted | PhaseTick | PhaseEnded | CellEnded | Note | RunEnded
)
Sink: TypeAlias = Callable[[Event], None]


def ignore(event: Event) -> None:
    """The sink of a run nobody watches (tests, library use)."""


# tqdm's bar, as lm-eval draws it while it sends requests: "Requesting API: 45%|...| 9/20 [".
_BAR = re.compile(r"(?P<label>[\w ]{0,40}?):?\s*\d{1,3}%\|[^|]*\|\s*(?P<done>\d+)/(?P<total>\d+)\b")
_ERROR = re.compile(
    r"\b(error|exception|traceback|fatal|killed|out of memory|oom|cannot|failed)\b", re.IGNORECASE
)


def log_lines(text: str) -> list[str]:
    """A tool's log as lines: progress bars redraw with carriage returns, so each redraw
    is a line of its own; blank lines are dropped."""
    return [part.strip() for part in re.split(r"[\r\n]+", text) if part.strip()]


def last_line(text: str) -> str:
    found = log_lines(text)
    return found[-1] if found else ""


def bar_progress(text: str) -> tuple[str, int, int] | None:
    """The latest progress bar in a log: its label, done and total (tqdm's format)."""
    for part in reversed(log_lines(text)):
        match = _BAR.search(part)
        if match:
            label = match["label"].strip()
            return label, int(match["done"]), int(match["total"])
    return None


def error_line(text: str) -> str:
    """The last line of a log that reads like an error (the line worth showing first)."""
    for part in reversed(log_lines(text)):
        if _ERROR.search(part) and not _BAR.search(part):
            return part
    return ""


def failure_summary(
    validation: CellValidation, engine_log: str, files: Sequence[str]
) -> tuple[str, ...]:
    """The three lines that end a failed cell: why (the failing suite's own reason rather
    than "suite(s) failed"), the engine log's last error line (when it has one the reason
    does not already say), and the file to read first."""
    reason = suite_reason(validation) or validation.reason
    why = reason.splitlines()[0] if reason else "no reason recorded"
    lines = [f"why:    {why}"]
    found = error_line(engine_log)
    if found and found not in reason:
        lines.append(f"engine: {found}")
    if files:
        lines.append(f"read:   {files[0]}")
    return tuple(lines)


def suite_reason(validation: CellValidation) -> str:
    """The first failed suite's reason: its error, else its first failed check."""
    for suite in validation.suites:
        if suite.passed:
            continue
        if suite.error:
            return f"{suite.name}: {suite.error}"
        check = next(c for c in suite.checks if not c.passed)
        return f"{suite.name}: {check.name}: {check.detail}"
    return ""


def files_to_read(validation: CellValidation, folder: str, *, engine_log: bool) -> list[str]:
    """The files of a failed cell's folder worth reading, most useful first: the failed
    suite's logs, then the engine's log, then its results."""
    failed = [s for s in validation.suites if not s.passed]
    logs = [f"{folder}/{name}" for s in failed for name in sorted(s.artifacts) if ".log" in name]
    if engine_log:
        logs.append(f"{folder}/engine.log")
    return [*logs, f"{folder}/validation.json"]


def counts_text(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no cell"
