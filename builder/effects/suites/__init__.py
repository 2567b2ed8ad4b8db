"""Validation suites: each is a module with ``run(ctx) -> SuiteResult``, in this registry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Protocol

from builder.core.results import SuiteResult
from builder.effects.suites import accuracy, perf, smoke
from builder.effects.suites.context import SuiteContext


class SuiteModule(Protocol):
    def run(self, ctx: SuiteContext) -> SuiteResult: ...


SUITES: Final[Mapping[str, SuiteModule]] = {"smoke": smoke, "accuracy": accuracy, "perf": perf}
