"""Containers through the ``docker`` command: the card's ``docker run``, run as written.

The daemon is the one DOCKER_HOST names, as for images. Containers the builder starts are
labelled with the cell and the builder's own process id, so one left behind by a builder
that was killed can be found and removed (:func:`leftovers`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from builder.effects import proc
from builder.errors import EngineError

TIMEOUT_S = 120.0
CELL_LABEL = "io.llm-release.cell"
OWNER_LABEL = "io.llm-release.owner-pid"
# Engines that need a minute to load print a lot; the tail is what explains a failure.
LOG_TAIL = 200


def _docker(*args: str, timeout: float = TIMEOUT_S) -> proc.Completed:
    return proc.run(["docker", *args], timeout=timeout)


def start(argv: Sequence[str]) -> str:
    """Run ``docker run -d ...``; the new container's id."""
    if list(argv[:3]) != ["docker", "run", "-d"]:
        msg = f"not a detached docker run: {' '.join(argv[:3])}"
        raise EngineError(msg)
    try:
        done = proc.run(list(argv), timeout=TIMEOUT_S)
    except BaseException:
        # Ctrl-C (or a timeout) while `docker run` waits: the daemon may create the
        # container anyway, and nobody has its id yet; its name is known.
        _remove_late(_name(argv))
        raise
    if done.returncode != 0:
        msg = f"docker run failed (exit {done.returncode}): {done.stderr.strip()[-1500:]}"
        raise EngineError(msg)
    return done.stdout.strip().splitlines()[-1]


def _remove_late(name: str, *, wait_s: float = 3.0) -> None:
    """Remove container ``name``, also if the daemon creates it only after we asked."""
    if not name:
        return
    deadline = time.monotonic() + wait_s
    while True:
        remove(name)
        if time.monotonic() >= deadline:
            return
        time.sleep(0.5)


def _name(argv: Sequence[str]) -> str:
    """The ``--name`` a docker run gives its container ("" when none)."""
    words = list(argv)
    for index, word in enumerate(words[:-1]):
        if word == "--name":
            return words[index + 1]
    return next((w.split("=", 1)[1] for w in words if w.startswith("--name=")), "")


def state(container: str) -> tuple[str, int | None]:
    """The container's status (running, exited, ... or "gone") and its exit code once it
    has stopped."""
    done = _docker("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", container)
    if done.returncode != 0:
        return "gone", None
    status, _, code = done.stdout.strip().partition(" ")
    return status, (None if status in ("running", "created", "restarting") else int(code or 0))


def logs(container: str, *, tail: int = LOG_TAIL) -> str:
    """The container's output (stdout and stderr), its last ``tail`` lines."""
    done = _docker("logs", "--tail", str(tail), container)
    return (done.stdout + done.stderr) if done.returncode == 0 else ""


def remove(container: str) -> None:
    """Stop and remove the container (safe when it is already gone)."""
    _docker("rm", "-f", container, timeout=60)


def run_inside(container: str, argv: Sequence[str], *, timeout: float = 60) -> proc.Completed:
    """Run a command in the running container."""
    return _docker("exec", container, *argv, timeout=timeout)


def image_id(ref: str) -> str:
    """The ``sha256:`` id of a local image ("" when the daemon does not have it)."""
    done = _docker("image", "inspect", "--format", "{{.Id}}", ref)
    return done.stdout.strip() if done.returncode == 0 else ""


def leftovers(owner_alive: Callable[[int], bool]) -> list[str]:
    """Containers a builder started whose owner process is no longer alive."""
    columns = '{{.ID}} {{.Label "' + OWNER_LABEL + '"}}'
    done = _docker("ps", "-a", "--filter", f"label={OWNER_LABEL}", "--format", columns)
    found = []
    for line in done.stdout.splitlines():
        container, _, owner = line.partition(" ")
        if owner.isdigit() and not owner_alive(int(owner)):
            found.append(container)
    return found


class Container:
    """A running container as a process: what a running engine needs of its server."""

    def __init__(self, container: str, log_path: Path) -> None:
        self.id = container
        self.log_path = log_path

    def exit_code(self) -> int | None:
        status, code = state(self.id)
        return 137 if status == "gone" else code

    def wait(self, timeout_s: float) -> int | None:
        deadline = time.monotonic() + timeout_s
        while True:
            code = self.exit_code()
            if code is not None or time.monotonic() >= deadline:
                return code
            time.sleep(0.2)

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(logs(self.id).splitlines()[-lines:])

    def stop(self, grace_s: float = 10.0) -> int:
        """Keep the log beside the cell's others, then remove the container."""
        _docker("stop", "--time", str(int(grace_s)), self.id, timeout=grace_s + 30)
        code = self.exit_code()
        with contextlib.suppress(OSError):
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self.log_path.write_text(logs(self.id, tail=100_000), encoding="utf-8")
        remove(self.id)
        return code if code is not None else 0
