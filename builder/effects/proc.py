"""The one place that starts processes: short commands, and servers in their own group.

A server runs in a new session so that stopping it stops everything it spawned (tokenizer
workers, engine sub-processes); stop() escalates from SIGTERM to SIGKILL and always reaps.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from builder.effects import tools

# How often a batch job's watcher looks at it.
WATCH_EVERY_S = 1.0


@dataclass(frozen=True)
class Completed:
    """A finished short command."""

    returncode: int
    stdout: str
    stderr: str


def run(argv: Sequence[str], *, timeout: float, cwd: Path | None = None) -> Completed:
    """Run a short command; a missing program or a time-out gives return code 127 or 124."""
    try:
        done = subprocess.run(
            tools.resolve(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
            check=False,
        )
    except FileNotFoundError as exc:
        return Completed(127, "", str(exc))
    except subprocess.TimeoutExpired:
        return Completed(124, "", f"timed out after {timeout:g}s")
    return Completed(done.returncode, done.stdout, done.stderr)


class Server:
    """A long-running process, in its own process group, whose output goes to a log file.

    Also used for long batch jobs (lm-eval, benchmarks): the same group kill applies when they
    overrun their time.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        log_path: Path,
        cwd: Path | None = None,
    ) -> None:
        # A tool installed beside the builder's Python runs from there (effects/tools.py).
        self.argv = tuple(tools.resolve(argv))
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("wb") as log:
            self._proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env),
                cwd=cwd,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self._proc.pid

    def exit_code(self) -> int | None:
        """None while running."""
        return self._proc.poll()

    def stop(self, grace_s: float = 10.0) -> int:
        """Stop the whole process group; returns the exit code. Safe to call twice."""
        if self._proc.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self._proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self._proc.wait()
        # Children that ignored SIGTERM must not outlive the cell.
        self._signal_group(signal.SIGKILL)
        return self._proc.returncode

    def wait(self, timeout_s: float) -> int | None:
        """The exit code once the process ends, or None if it is still running at the deadline."""
        try:
            return self._proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def group_alive(pgid: int) -> bool:
    """Whether any process of a group is still alive (used to check nothing leaked).

    Zombies do not count: an orphan waits for init to reap it, and in a container init may
    never do so, yet a zombie holds no port, file or memory.
    """
    proc_dir = Path("/proc")
    if not proc_dir.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return bool(group_members(pgid))


def group_members(pgid: int) -> list[int]:
    """The live (not zombie) processes whose process group is ``pgid``, from /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # exited while we looked
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        fields = text[text.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(stat.parent.name))
    return sorted(members)


def run_job(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    log_path: Path,
    timeout_s: float,
    watch: Callable[[], None] | None = None,
) -> int:
    """Run a batch command to its end, output in ``log_path``; 124 when it overran and was killed.

    ``watch`` is called about once a second while it runs (to report its progress). Its
    whole process group is stopped on every way out, Ctrl-C included.
    """
    job = Server(argv, env=env, log_path=log_path)
    deadline = time.monotonic() + timeout_s
    try:
        code = None
        while code is None and (left := deadline - time.monotonic()) > 0:
            code = job.wait(min(left, WATCH_EVERY_S))
            if code is None and watch is not None:
                watch()
    finally:
        job.stop()
    return 124 if code is None else code
