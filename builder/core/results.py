"""Validation results as data: what suites return and what validation.json holds."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

# inconclusive: the suites ran but a gate could not decide (too few samples, no usable
# reference): the cell is not qualified, and the reason says what would settle it.
Status = Literal["passed", "failed", "inconclusive", "awaiting-runner", "rendered"]


@dataclass(frozen=True, kw_only=True)
class Check:
    """One assertion a suite made."""

    name: str
    passed: bool
    detail: str


@dataclass(frozen=True, kw_only=True)
class SuiteResult:
    """The outcome of one suite on one cell."""

    name: str
    checks: tuple[Check, ...]
    duration_s: float
    error: str | None = None
    # Measurements for reports and gates (accuracy: per task; perf: per sweep point).
    data: dict[str, Any] = field(default_factory=dict)
    # Files for the cell's directory (accuracy.json, perf.json, raw tool output).
    artifacts: dict[str, bytes] = field(default_factory=dict, repr=False)

    @property
    def passed(self) -> bool:
        return self.error is None and all(c.passed for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "duration_s": round(self.duration_s, 3),
            "error": self.error,
            "checks": [
                {"name": c.name, "passed": c.passed, "detail": c.detail} for c in self.checks
            ],
            "data": self.data,
        }


@dataclass(frozen=True, kw_only=True)
class CellValidation:
    """Everything validation learnt about a cell."""

    cell: str
    status: Status
    reason: str = ""
    host: str = ""
    runner_labels: tuple[str, ...] = ()
    suites: tuple[SuiteResult, ...] = ()
    engine: dict[str, Any] = field(default_factory=dict)
    started_at: str = ""
    finished_at: str = ""
    # Verdicts against the reference cell (see builder.core.gates), as JSON data.
    gates: dict[str, Any] = field(default_factory=dict)
    # Where the engine ran: {"kind": "host"} or {"kind": "container", "image", "image_id",
    # "engine_version" (found in the image), ...}.
    runtime: dict[str, Any] = field(default_factory=dict)

    def suite(self, name: str) -> SuiteResult | None:
        return next((s for s in self.suites if s.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "cell": self.cell,
            "status": self.status,
            "reason": self.reason,
            "host": self.host,
            "runner_labels": list(self.runner_labels),
            "suites": [s.to_json() for s in self.suites],
            "engine": self.engine,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "gates": self.gates,
            "runtime": self.runtime,
        }


def validation_from_json(data: Mapping[str, Any]) -> CellValidation:
    """A cached validation.json back as a :class:`CellValidation` (unknown keys ignored, so
    results cached by an older builder still load)."""
    suites = tuple(
        SuiteResult(
            **_known(SuiteResult, s, skip=frozenset({"checks", "passed"})),
            checks=tuple(Check(**_known(Check, c)) for c in s.get("checks", ())),
        )
        for s in data.get("suites", ())
    )
    fields = _known(CellValidation, data, skip=frozenset({"suites", "runner_labels"}))
    return CellValidation(
        **fields, suites=suites, runner_labels=tuple(data.get("runner_labels", ()))
    )


def _known(
    cls: type[Any], data: Mapping[str, Any], skip: frozenset[str] = frozenset()
) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)} - skip
    return {k: v for k, v in data.items() if k in names}
