"""Test-only fault injection: die at a named point of a release, exactly as ``kill -9`` would.

Fault tests set ``BUILDER_TEST_KILL_AT=<point>`` (or ``<point>:<n>`` for the n-th time the
point is reached) to stop the builder at a deterministic place instead of racing a timer.
Unset, every point is a no-op. SIGKILL is used on purpose: no ``finally`` block, no atexit
handler and no buffered write gets a chance to run, which is what a real ``kill -9`` or an
out-of-memory kill does to a release.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from typing import Final

ENV: Final = "BUILDER_TEST_KILL_AT"

# Every point the builder passes, in the order a release passes them (per cell: validated,
# then the directory swap, then done; at the end: the index, then the README).
POINTS: Final = (
    "variant-made",  # a variant's weights written to its staging folder, not yet renamed
    "cell-validated",
    "dir-swap",
    "cell-done",
    "file-written",  # also "file-written-<name>", e.g. file-written-README.md
    "index-written",
    "engine-started",  # a validation engine is healthy (and on record), no suite ran yet
    "deploy-started",  # builder deploy: the engine started and recorded, not yet healthy
)

_reached: Counter[str] = Counter()


def point(name: str) -> None:
    """Die here when the environment asks for it; otherwise do nothing."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    wanted, _, nth = spec.partition(":")
    if wanted != name:
        return
    _reached[name] += 1
    if _reached[name] >= int(nth or "1"):
        os.kill(os.getpid(), signal.SIGKILL)
