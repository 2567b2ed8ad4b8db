"""Judging a validated cell against its reference: pure, from recorded results to a status.

A suite whose conf/ entry names a ``gate`` has its results judged by that gate: the gate
reads one document the suite wrote (``accuracy.json``, ``perf.json``), compares it with the
reference cell's same document and returns its verdicts (JSON data). :func:`settle` turns
the verdicts into the cell's status: failed beats inconclusive beats passed, and the reason
names every gate that decided. The statistics live in :mod:`builder.core.gates`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from builder.core import gates
from builder.core.catalog_model import Catalog
from builder.core.cells import LoadedRecipe
from builder.core.matrix import engine_version
from builder.core.model import ValidateSpec
from builder.core.results import CellValidation, Status


@dataclass(frozen=True, kw_only=True)
class Reference:
    """The reference cell's documents, by gate, and where they came from."""

    label: str
    docs: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    # Why a stored document cannot be compared (its provenance differs), by gate.
    refused: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    is_self: bool = False


@dataclass(frozen=True, kw_only=True)
class GateInput:
    """What a gate judges with: the cell's document, the reference, the recipe's settings."""

    mine: dict[str, Any]
    reference: Reference
    spec: ValidateSpec
    # False for `builder validate` (a cell validated apart from its reference may be pending).
    final: bool
    # The weights record of the cell (``served_as`` says when a stand-in was served).
    weights: Mapping[str, Any]


class Gate(Protocol):
    """A way of comparing a suite's results with the reference's."""

    # The file of the cell's folder the gate reads (one of its suite's files).
    document: str

    def verdicts(self, given: GateInput) -> Any:
        """The gate's verdicts as JSON data (stored under the gate's name in ``gates``)."""
        ...

    def failures(self, verdicts: Any) -> list[str]:
        """Why the verdicts fail the cell (empty: they do not)."""
        ...

    def doubts(self, verdicts: Any) -> list[str]:
        """Why the verdicts leave the cell undecided (inconclusive)."""
        ...

    def baseline(self, spec: ValidateSpec) -> str | None:
        """The stored reference document the recipe names for this gate, if any."""
        ...


class AccuracyGate:
    """Per-task scores against the reference's, paired by document where possible."""

    document = "accuracy.json"

    def verdicts(self, given: GateInput) -> Any:
        spec, reference = given.spec.accuracy, given.reference
        ref_doc = reference.docs.get("accuracy")
        refused = list(reference.refused.get("accuracy", ()))
        if ref_doc is not None and not reference.is_self:
            refused += gates.provenance_mismatch(
                ref_doc.get("provenance", {}), given.mine["provenance"]
            )
        found = gates.accuracy_gates(
            given.mine,
            None if refused else ref_doc,
            max_drop=spec.max_drop,
            confidence=spec.confidence,
            is_reference=reference.is_self,
            reference_label=reference.label,
            refused="; ".join(refused),
        )
        verdicts = [g.to_json() for g in found]
        if not given.final and ref_doc is None and not refused and not reference.is_self:
            verdicts = [_pending(g) for g in verdicts]
        return verdicts

    def failures(self, verdicts: Any) -> list[str]:
        return [
            f"{g['task']} {g['metric']} dropped beyond tolerance ({g['note']})"
            for g in verdicts
            if g["verdict"] == "fail"
        ]

    def doubts(self, verdicts: Any) -> list[str]:
        return [
            f"{g['task']} {g['verdict']}: {g['note']}"
            for g in verdicts
            if g["verdict"] in ("inconclusive", "refused")
        ]

    def baseline(self, spec: ValidateSpec) -> str | None:
        return spec.accuracy.baseline


class PerfGate:
    """Output throughput at every sweep point against the reference's, on like hardware:
    the ratio of the medians of repeated trials, with an interval."""

    document = "perf.json"

    def verdicts(self, given: GateInput) -> Any:
        perf = gates.perf_gate(
            given.mine,
            given.reference.docs.get("perf"),
            min_ratio=given.spec.perf.min_ratio,
            is_reference=given.reference.is_self,
            confidence=given.spec.perf.confidence,
        )
        served_as = given.weights.get("served_as")
        if served_as and perf.verdict in ("pass", "fail", "inconclusive"):
            # The engine served a stand-in for the format (e.g. a GGUF file dequantized):
            # its speed says nothing about the variant's, so it is reported, never gated.
            note = f"weights {served_as}: speed is not the format's; report only"
            perf = dataclasses.replace(perf, verdict="report-only", note=note)
        return perf.to_json()

    def failures(self, verdicts: Any) -> list[str]:
        return [f"throughput {verdicts['note']}"] if verdicts.get("verdict") == "fail" else []

    def doubts(self, verdicts: Any) -> list[str]:
        if verdicts.get("verdict") == "inconclusive":
            return [f"throughput inconclusive: {verdicts['note']}"]
        return []

    def baseline(self, spec: ValidateSpec) -> str | None:
        return None


# The gates, by the name a suite's conf/ entry gives (``gate: accuracy``). Their order is the
# order their reasons appear in a cell's status.
GATES: Final[Mapping[str, Gate]] = {"accuracy": AccuracyGate(), "perf": PerfGate()}


def suite_of(catalog: Catalog, gate: str) -> str | None:
    """The suite whose results ``gate`` judges (its conf/ entry names the gate)."""
    return next((s.name for s in catalog.suites.values() if s.gate == gate), None)


def document(validation: CellValidation, catalog: Catalog, gate: str) -> dict[str, Any] | None:
    """The document ``gate`` reads, as the cell's suite wrote it (None: not written)."""
    suite = suite_of(catalog, gate)
    found = validation.suite(suite) if suite is not None else None
    name = GATES[gate].document
    if found is None or name not in found.artifacts:
        return None
    data: dict[str, Any] = json.loads(found.artifacts[name])
    return data


def judge(
    validation: CellValidation,
    loaded: LoadedRecipe,
    reference: Reference,
    catalog: Catalog,
    *,
    final: bool = True,
) -> CellValidation:
    """Gate a validated cell against its reference and settle its status.

    ``final`` is False for ``builder validate``: a cell validated apart from its reference
    (one CI job per cell) has nothing to compare with yet, and its accuracy gates are
    *pending* until ``builder assemble`` gates it against the merged reference. A release
    (``final``) never leaves a gate pending: no reference result is inconclusive.
    """
    if not validation.suites:
        return validation
    verdicts: dict[str, Any] = {"reference": reference.label}
    weights = validation.engine.get("weights") or {}
    for name, gate in GATES.items():
        mine = document(validation, catalog, name)
        if mine is not None:
            given = GateInput(
                mine=mine,
                reference=reference,
                spec=loaded.recipe.validate,
                final=final,
                weights=weights,
            )
            verdicts[name] = gate.verdicts(given)
    # What the suites alone said, so the cell can be gated again elsewhere (assemble).
    verdicts["before"] = {"status": validation.status, "reason": validation.reason}
    status, reason = settle(validation, verdicts)
    return dataclasses.replace(validation, gates=verdicts, status=status, reason=reason)


def _pending(gate: dict[str, Any]) -> dict[str, Any]:
    if gate["verdict"] != "inconclusive":
        return gate
    note = f"{gate['note']}; gated when the cells are assembled (builder assemble)"
    return {**gate, "verdict": "pending", "note": note}


def ungated(validation: CellValidation) -> CellValidation:
    """``validation`` as its suites left it, before any gate."""
    before = validation.gates.get("before")
    if not before:
        return validation
    return dataclasses.replace(
        validation, gates={}, status=before["status"], reason=before["reason"]
    )


def settle(validation: CellValidation, verdicts: Mapping[str, Any]) -> tuple[Status, str]:
    """failed beats inconclusive beats passed; the reason names every gate that decided."""
    found = {name: verdicts[name] for name in GATES if name in verdicts}
    failed = [r for name, v in found.items() for r in GATES[name].failures(v)]
    if validation.status == "failed" or failed:
        return "failed", "; ".join(r for r in (validation.reason, *failed) if r)
    unsure = [r for name, v in found.items() for r in GATES[name].doubts(v)]
    if unsure:
        return "inconclusive", "gate undecided: " + "; ".join(unsure)
    return validation.status, validation.reason


def reference_identity(catalog: Catalog, ref_id: str, loaded: LoadedRecipe) -> dict[str, Any]:
    """The identity a stored baseline must carry to stand for reference cell ``ref_id``."""
    _, chip, _, engine = ref_id.rsplit(".", 3)
    return {
        "cell": ref_id,
        "engine": engine,
        "engine_version": engine_version(catalog, chip, engine),
        "model_source": loaded.recipe.model.source,
    }
