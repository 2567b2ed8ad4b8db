"""Validation suites: each is a module with ``run(engine, suite, timeout_s)``, in this registry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Protocol

from builder.effects.engine_runtime import RunningEngine
from builder.effects.suites import smoke
from builder.model import SuiteConf
from builder.results import SuiteResult


class SuiteModule(Protocol):
    def run(self, engine: RunningEngine, suite: SuiteConf, timeout_s: float) -> SuiteResult: ...


SUITES: Final[Mapping[str, SuiteModule]] = {"smoke": smoke}
