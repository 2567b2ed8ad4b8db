"""Engines a killed builder left running, found and stopped by the next run.

A validation engine started as a host process is recorded under ``out/.engines/`` (its
process group and the builder's process id) until it is stopped; a container is labelled
with the builder's process id. A builder killed with ``kill -9`` stops neither, so every run
first stops the engines whose builder is gone (:func:`reap`), under the lock on out/.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

from builder.core.log import Log
from builder.core.plain import dumps
from builder.effects import containers, fs, tools
from builder.effects.proc import group_alive

FOLDER = ".engines"


@contextlib.contextmanager
def recorded(out_dir: Path, *, group: int, cell: str) -> Iterator[None]:
    """While the block runs, ``group`` (an engine's process group) is on record as this
    process's; the record goes when the block ends, however it ends."""
    path = out_dir / FOLDER / f"{os.getpid()}-{group}.json"
    fs.write_atomic(path, dumps({"group": group, "owner": os.getpid(), "cell": cell}).encode())
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def _owner_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        text = stat.read_text()
        return text[text.rindex(")") + 2] != "Z"
    return True


def reap(out_dir: Path, log: Log) -> list[str]:
    """Stop every engine whose builder process is gone; what was stopped."""
    stopped = []
    for path in sorted((out_dir / FOLDER).glob("*.json")):
        record = fs.read_json(path) or {}
        owner, group = int(record.get("owner", 0)), int(record.get("group", 0))
        if owner and _owner_alive(owner):
            continue
        if group and group_alive(group):
            _kill_group(group)
            stopped.append(f"engine of {record.get('cell', '?')} (process group {group})")
        path.unlink(missing_ok=True)
    if tools.find("docker") is not None:
        for container in containers.leftovers(_owner_alive):
            containers.remove(container)
            stopped.append(f"container {container[:12]}")
    for what in stopped:
        log(f"stopped the {what} a killed builder left running")
    return stopped


def _kill_group(group: int, grace_s: float = 10.0) -> None:
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, sig)
        deadline = time.monotonic() + wait
        while group_alive(group) and time.monotonic() < deadline:
            time.sleep(0.1)
