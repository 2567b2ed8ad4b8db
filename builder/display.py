"""How a run looks while it works: the CLI's displays of progress events.

Three displays draw the same events (:mod:`builder.core.progress`):

- :class:`LiveDisplay`, on a terminal: a live view (rich) with the current cell's phase, its
  elapsed time and latest news (an engine's last log line, lm-eval's request count, the perf
  points done), and an overall bar of cells done, failed and awaiting a runner;
- :class:`PlainDisplay`, anywhere else (pipes, files, CI): one timestamped line per phase
  change, nothing redrawn;
- :class:`GitHubDisplay`, when ``GITHUB_ACTIONS=true``: plain lines with one ``::group::``
  per cell, and the cell table with its verdicts in the job summary.

Every line passes through :func:`builder.text.line` (escaped, never a workflow command)
and rich gets plain :class:`rich.text.Text`, never markup, since cell names and engine
output come from recipes and engines. ``--quiet`` keeps only failures and the end;
``--verbose`` adds the news lines to the plain displays; ``NO_COLOR`` turns colour off.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.text import Text

from builder.core import progress
from builder.core.log import Log
from builder.core.progress import Event
from builder.core.report import markdown_cell
from builder.effects import progress as reporting
from builder.errors import BuilderError, RecipeError
from builder.text import LINE_LIMIT, escape
from builder.text import line as safe_line

# Statuses counted apart on the overall bar.
TALLIED = ("passed", "failed", "awaiting-runner", "inconclusive", "pending", "rendered")
# How often --verbose repeats a phase's news on a plain display.
NEWS_EVERY_S = 10.0


class Display(Protocol):
    def event(self, event: Event) -> None: ...

    def note(self, line: str) -> None: ...

    def close(self) -> None: ...


@dataclass(kw_only=True)
class Tally:
    """What the run has done so far, for every display's last lines."""

    total: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    rows: list[progress.CellEnded] = field(default_factory=list)

    def add(self, ended: progress.CellEnded) -> None:
        self.counts[ended.status] = self.counts.get(ended.status, 0) + 1
        self.rows.append(ended)

    def text(self) -> str:
        done = sum(self.counts.values())
        return f"{done}/{self.total} cells: {progress.counts_text(self.counts)}"


def cell_lines(ended: progress.CellEnded) -> list[str]:
    """How a cell's end reads: its status, time and reason, then a failure's summary."""
    reused = f" ({ended.reused})" if ended.reused else ""
    reason = f": {ended.reason.splitlines()[0]}" if ended.reason and not ended.summary else ""
    head = f"{ended.status} in {ended.seconds:.1f}s{reason}{reused}"
    return [head, *ended.summary]


class PlainDisplay:
    """One timestamped line per phase change (and per news line with ``verbose``)."""

    def __init__(
        self, stream: IO[str], *, quiet: bool = False, verbose: bool = False, clock: bool = True
    ) -> None:
        self.stream = stream
        self.quiet = quiet
        self.verbose = verbose
        self.clock = clock
        self.tally = Tally()
        self._news_at: dict[tuple[str, str], float] = {}

    def write(self, text: str) -> None:
        """One line: a newline inside a value (a cell name, an engine line) is escaped."""
        stamp = time.strftime("%H:%M:%S ") if self.clock else ""
        print(stamp + safe_line(text, limit=LINE_LIMIT), file=self.stream, flush=True)

    def raw(self, text: str) -> None:
        """A workflow command: written as it is (its values are escaped by the caller)."""
        print(text, file=self.stream, flush=True)

    def note(self, line: str) -> None:
        if not self.quiet:
            for part in line.split("\n"):
                self.write(part)

    def event(self, event: Event) -> None:
        if isinstance(event, progress.RunStarted):
            self.tally.total = event.total
        elif isinstance(event, progress.CellEnded):
            self.tally.add(event)
            self.cell_ended(event)
        elif not self.quiet:
            self._progress(event)

    def cell_ended(self, ended: progress.CellEnded) -> None:
        if self.quiet and ended.status != "failed":
            return
        head, *rest = cell_lines(ended)
        prefix = f"{ended.cell}: " if self.quiet else "    "
        self.write(prefix + head)
        for extra in rest:
            self.write("      " + extra)

    def _progress(self, event: Event) -> None:
        if isinstance(event, progress.CellStarted):
            self.write(f"[{event.number}/{event.total}] {event.cell}")
        elif isinstance(event, progress.PhaseStarted):
            indent = "    " if event.cell else ""
            detail = f": {event.detail}" if event.detail else ""
            self.write(f"{indent}{event.phase}{detail}")
        elif isinstance(event, progress.PhaseEnded) and not event.ok:
            self.write(f"    {event.phase} failed after {event.seconds:.1f}s")
        elif isinstance(event, progress.PhaseTick) and self.verbose:
            self._news(event)
        elif isinstance(event, progress.Note):
            self.write(event.line)

    def _news(self, tick: progress.PhaseTick) -> None:
        key = (tick.cell, tick.phase)
        now = time.monotonic()
        if now - self._news_at.get(key, 0.0) >= NEWS_EVERY_S and tick.detail:
            self._news_at[key] = now
            self.write(f"      {tick.phase}: {tick.detail}")

    def close(self) -> None:
        """Nothing to undo: every line is already out."""


class GitHubDisplay(PlainDisplay):
    """Plain lines, one collapsible group per cell, and the job summary at the end."""

    def __init__(self, stream: IO[str], *, summary_path: Path | None, **kwargs: bool) -> None:
        super().__init__(stream, clock=False, **kwargs)
        self.summary_path = summary_path
        self._open = False

    def event(self, event: Event) -> None:
        if isinstance(event, progress.CellStarted):
            title = safe_line(f"[{event.number}/{event.total}] {event.cell}", limit=200)
            self.raw(f"::group::{escape_data(title)}")
            self._open = True
        super().event(event)
        if isinstance(event, progress.CellEnded) and self._open:
            self.raw("::endgroup::")
            self._open = False

    def close(self) -> None:
        if self._open:
            self.raw("::endgroup::")
            self._open = False
        if self.summary_path is not None and self.tally.rows:
            with self.summary_path.open("a", encoding="utf-8") as handle:
                handle.write(step_summary(self.tally))


class LiveDisplay:
    """A live view on a terminal: the current phase of the current cell and an overall bar."""

    def __init__(self, console: Console, *, quiet: bool = False) -> None:
        self.console = console
        self.quiet = quiet
        self.tally = Tally()
        self.view = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TextColumn("{task.fields[news]}", markup=False),
            console=console,
            transient=True,
            refresh_per_second=4,
        )
        self.overall: TaskID | None = None
        self.phases: dict[tuple[str, str], TaskID] = {}
        self.started: dict[tuple[str, str], float] = {}
        self.view.start()

    def print(self, text: str, style: str = "") -> None:
        self.console.print(Text(safe_line(text), style=style), highlight=False)

    def note(self, line: str) -> None:
        if not self.quiet:
            for part in line.split("\n"):
                self.print(part)

    def event(self, event: Event) -> None:
        if isinstance(event, progress.RunStarted):
            self.tally.total = event.total
            self.overall = self.view.add_task(event.stage, total=event.total, news="")
        elif isinstance(event, progress.CellStarted) and not self.quiet:
            self.print(f"[{event.number}/{event.total}] {event.cell}", style="bold")
        elif isinstance(event, progress.CellEnded):
            self._cell_ended(event)
        elif isinstance(event, progress.PhaseStarted):
            self._phase_started(event)
        elif isinstance(event, progress.PhaseTick):
            self._tick(event)
        elif isinstance(event, progress.PhaseEnded):
            self._phase_ended(event)
        elif isinstance(event, progress.Note) and not self.quiet:
            self.print(event.line)

    def _phase_started(self, event: progress.PhaseStarted) -> None:
        key = (event.cell, event.phase)
        label = f"  {event.phase}" if event.cell else event.phase
        self.phases[key] = self.view.add_task(
            safe_line(label, limit=40), total=None, news=safe_line(event.detail, limit=100)
        )
        self.started[key] = time.monotonic()

    def _tick(self, event: progress.PhaseTick) -> None:
        task = self.phases.get((event.cell, event.phase))
        if task is None:
            return
        news = safe_line(event.detail, limit=100)
        if event.total is not None:
            self.view.update(task, total=event.total, completed=event.done or 0, news=news)
        else:
            self.view.update(task, news=news)

    def _phase_ended(self, event: progress.PhaseEnded) -> None:
        key = (event.cell, event.phase)
        task = self.phases.pop(key, None)
        self.started.pop(key, None)
        if task is not None:
            self.view.remove_task(task)
        if not self.quiet:
            mark = "done" if event.ok else "failed"
            indent = "    " if event.cell else ""
            self.print(f"{indent}{event.phase} {mark} in {event.seconds:.1f}s", style="dim")

    def _cell_ended(self, ended: progress.CellEnded) -> None:
        self.tally.add(ended)
        if self.overall is not None:
            self.view.update(self.overall, advance=1, news=progress.counts_text(self.tally.counts))
        if self.quiet and ended.status != "failed":
            return
        head, *rest = cell_lines(ended)
        style = {"passed": "green", "failed": "bold red"}.get(ended.status, "yellow")
        self.print(("    " if not self.quiet else f"{ended.cell}: ") + head, style=style)
        for extra in rest:
            self.print("      " + extra, style="red")

    def close(self) -> None:
        self.view.stop()


def make_display(
    stream: IO[str] | None = None,
    *,
    quiet: bool = False,
    verbose: bool = False,
    env: Mapping[str, str] | None = None,
) -> Display:
    """The display for where the output goes: GitHub Actions, a terminal, or a plain log."""
    stream = stream or sys.stdout
    env = os.environ if env is None else env
    if env.get("GITHUB_ACTIONS") == "true":
        summary = env.get("GITHUB_STEP_SUMMARY")
        return GitHubDisplay(
            stream, summary_path=Path(summary) if summary else None, quiet=quiet, verbose=verbose
        )
    if stream.isatty() and env.get("TERM") != "dumb":
        console = Console(file=stream, no_color="NO_COLOR" in env, highlight=False)
        return LiveDisplay(console, quiet=quiet)
    return PlainDisplay(stream, quiet=quiet, verbose=verbose)


@contextlib.contextmanager
def watched(args: argparse.Namespace, *, err: bool = False) -> Iterator[Log]:
    """A run's progress shown as it happens, on stdout (stderr with ``err``: stdout then
    carries a JSON document); the display is closed on every way out, so that a failure's
    message is never drawn over."""
    display = make_display(
        sys.stderr if err else sys.stdout, quiet=args.quiet, verbose=args.verbose
    )
    try:
        with reporting.reporting(display.event):
            yield display.note
    finally:
        display.close()


def add_verbosity(parser: argparse.ArgumentParser) -> None:
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument(
        "-q", "--quiet", action="store_true", help="print only failures and the summary"
    )
    loudness.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also print each phase's news (an engine's last log line, requests done) "
        "in logs and CI, where the live view is not drawn",
    )


# ---------------------------------------------------------------------- GitHub Actions


def annotate(exc: BuilderError, root: Path | None, *, err: bool = False) -> None:
    """In GitHub Actions, each recipe problem also as an annotation on its file's line (the
    pull request shows it there), on stderr with ``err`` (stdout holds a JSON document).
    The values are escaped: a recipe cannot forge a command."""
    problems = exc.problems if isinstance(exc, RecipeError) else ()
    for problem in problems[: RecipeError.SHOWN]:
        loc = problem.loc
        file = _relative(Path(loc.file), root)
        message = f"{problem.key}: {problem.message}" if problem.key else problem.message
        line = annotation(
            "error", message, file=file, line=loc.line, col=loc.column, title="builder"
        )
        print(line, file=sys.stderr if err else sys.stdout, flush=True)


def _relative(path: Path, root: Path | None) -> str:
    """``path`` relative to the project root, as GitHub names files in annotations."""
    if root is not None and path.is_absolute():
        with contextlib.suppress(ValueError):
            return path.relative_to(root).as_posix()
    return path.as_posix()


def escape_data(text: str) -> str:
    """A workflow command's message, escaped the way the Actions runner reads it back:
    ``%``, CR and LF, so a value can never end the command and start another."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value (``file=``, ``title=``): also ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(
    level: str, message: str, *, file: str, line: int | None, col: int | None, title: str
) -> str:
    """An ``::error``/``::warning`` annotation on a file's line. Terminal escapes are
    written out first (as everywhere the CLI prints), then the runner's own escaping."""
    message = "\n".join(escape(part) for part in message.split("\n"))
    file, title = escape(file), escape(title)
    props = [f"file={escape_property(file)}"]
    if line is not None:
        props.append(f"line={line}")
    if col is not None:
        props.append(f"col={col}")
    props.append(f"title={escape_property(title)}")
    return f"::{level} {','.join(props)}::{escape_data(message)}"


def step_summary(tally: Tally) -> str:
    """The job summary: the totals and one row per cell with its verdict."""
    rows = [
        f"| {markdown_cell(r.cell)} | {markdown_cell(r.status)} | {r.seconds:.0f} s | "
        f"{markdown_cell(_verdict(r))} |"
        for r in tally.rows
    ]
    header = ["### builder: " + markdown_cell(tally.text()), "", "| Cell | Status | Time | Why |"]
    return "\n".join([*header, "|---|---|---|---|", *rows, "", ""])


def _verdict(ended: progress.CellEnded) -> str:
    if ended.summary:
        return " ".join(ended.summary[:2])
    return ended.reason.splitlines()[0] if ended.reason else ended.reused
