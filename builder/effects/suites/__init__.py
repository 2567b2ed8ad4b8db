"""Validation suites: catalog data in conf/suite/ plus one module each in this package.

A suite's module is named after its conf/ entry and provides ``run(ctx) -> SuiteResult``:
it talks to the cell's running engine and returns its checks, its measurements and the
files it wrote for the cell's folder. Its conf/ entry declares those files and the gate
(if any) that judges them, so nothing else lists suites by name. Adding a suite is
conf/suite/<name>.yaml plus <name>.py here.
"""

from __future__ import annotations

from typing import Final, Protocol

from builder.core.registry import Registry
from builder.core.results import SuiteResult
from builder.effects.suites._context import Peer, PeerStarter, SuiteContext


class Suite(Protocol):
    """What a suite module provides."""

    def run(self, ctx: SuiteContext) -> SuiteResult:
        """Run against ``ctx.engine``; write only under ``ctx.work_dir``; never raise for a
        failed check (record it), only for a fault of the builder."""
        ...


__all__ = ["REGISTRY", "Peer", "PeerStarter", "Suite", "SuiteContext"]

REGISTRY: Final = Registry[Suite](
    kind="suite module", package=__name__, path=__path__, provides=("run",)
)
