"""The documents ``--format json`` prints. Pure functions: data in, JSON data out.

Every document is an object with ``"schema_version": SCHEMA_VERSION``. Within a schema
version keys are only ever added, never renamed, removed or given another meaning; a
change that breaks a reader raises the version (the README's "Machine-readable output").

What the upper layers hand in (deployments, publish results, base images) is described by
the Protocols below, so this module needs none of their types.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from builder.core.cells import Plan
from builder.core.keys import CellChange
from builder.core.results import CellValidation
from builder.core.uploads import UploadPlan
from builder.errors import Problem

SCHEMA_VERSION = 1

Document = dict[str, Any]


def document(**keys: Any) -> Document:
    """A document: ``keys`` under the schema version."""
    return {"schema_version": SCHEMA_VERSION, **keys}


def totals(statuses: Iterable[str]) -> dict[str, int]:
    """How many of each status, by status."""
    counts: dict[str, int] = {}
    for status in statuses:
        counts[status] = counts.get(status, 0) + 1
    return dict(sorted(counts.items()))


def plan_doc(plan: Plan) -> Document:
    """``builder plan --format json``: the plan's own JSON (``cells``, ``excluded``)."""
    return document(**plan.to_json())


def diff_doc(changes: Sequence[CellChange], *, base: str) -> Document:
    """``builder diff --format json``: every cell added, removed or changed against ``base``."""
    return document(
        base=base,
        changes=[{"cell": c.cell, "change": c.change, "parts": list(c.parts)} for c in changes],
        totals=totals(c.change for c in changes),
    )


def outcomes_doc(
    command: str,
    outcomes: Sequence[tuple[CellValidation, str]],
    *,
    seconds: float,
    out_dir: str,
) -> Document:
    """``render|validate|release|assemble --format json``: each cell's outcome (its
    validation and what the build cache reused) and the totals."""
    return document(
        command=command,
        out_dir=out_dir,
        seconds=round(seconds, 1),
        cells=[
            {"id": v.cell, "status": v.status, "reason": v.reason, "reused": reused}
            for v, reused in outcomes
        ],
        totals=totals(v.status for v, _ in outcomes),
    )


def finding(problem: Problem, severity: str) -> Document:
    """One lint finding: where (file, 1-based line and column, or null), what, how bad."""
    return {
        "file": problem.loc.file,
        "line": problem.loc.line,
        "column": problem.loc.column,
        "key": problem.key,
        "severity": severity,
        "message": problem.message,
    }


@dataclass(frozen=True, kw_only=True)
class LintedRecipe:
    """A recipe lint passed: its file, how many cells it builds and excludes, and notes
    (engine arguments an engine ignores)."""

    file: str
    cells: int
    excluded: int
    notes: tuple[str, ...] = ()


def lint_doc(
    *,
    errors: Sequence[Problem],
    warnings: Sequence[Problem],
    recipes: Sequence[LintedRecipe] = (),
) -> Document:
    """``builder lint --format json``: every finding, and each recipe that passed; ``ok`` is
    false when lint fails (then ``recipes`` is empty: a failing lint checks no further)."""
    findings = [finding(p, "error") for p in errors] + [finding(p, "warning") for p in warnings]
    return document(
        ok=not errors,
        findings=findings,
        recipes=[
            {"file": r.file, "cells": r.cells, "excluded": r.excluded, "notes": list(r.notes)}
            for r in recipes
        ],
    )


class GcEntry(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def size(self) -> int: ...


def gc_doc(entries: Sequence[GcEntry], *, dry_run: bool) -> Document:
    """``builder gc --format json``: what was (``dry_run``: would be) removed, and the bytes."""
    return document(
        dry_run=dry_run,
        removed=[{"kind": e.kind, "name": e.name, "bytes": e.size} for e in entries],
        freed_bytes=sum(e.size for e in entries),
    )


class PublishResult(Protocol):
    @property
    def cell(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def detail(self) -> str: ...
    @property
    def uploaded_bytes(self) -> int: ...
    @property
    def commit(self) -> str: ...
    @property
    def plan(self) -> UploadPlan | None: ...


def upload_json(plan: UploadPlan | None) -> Document | None:
    """What a publish sends (or, dry, would send): where, and each file's state."""
    if plan is None:
        return None
    return {
        "repo": plan.repo,
        "revision": plan.revision,
        "qualified": plan.qualified,
        "files": [
            {"path": op.file.path, "state": op.state, "bytes": op.file.size} for op in plan.ops
        ],
        "extra": list(plan.extra),
        "upload_bytes": plan.upload_bytes,
    }


def publish_doc(results: Sequence[PublishResult], *, dry_run: bool) -> Document:
    """``builder publish --format json``: each cell and target (with its upload plan, null
    when there was none: a skipped or failed cell), and the totals."""
    return document(
        dry_run=dry_run,
        results=[
            {
                "cell": r.cell,
                "target": r.target,
                "status": r.status,
                "detail": r.detail,
                "uploaded_bytes": r.uploaded_bytes,
                "commit": r.commit,
                "plan": upload_json(r.plan),
            }
            for r in results
        ],
        totals=totals(r.status for r in results),
    )


class DeploymentLike(Protocol):
    @property
    def cell(self) -> str: ...
    @property
    def runtime(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def devices(self) -> tuple[int, ...]: ...
    @property
    def port(self) -> int: ...
    @property
    def started_at(self) -> str: ...
    @property
    def request_model(self) -> str: ...
    @property
    def log(self) -> str: ...
    @property
    def pid(self) -> int | None: ...
    @property
    def container(self) -> str: ...
    @property
    def image(self) -> str: ...


def deployment_json(found: DeploymentLike) -> Document:
    """A deployment as ``deploy`` and ``status`` show it."""
    return {
        "cell": found.cell,
        "url": found.url,
        "runtime": found.runtime,
        "devices": list(found.devices),
        "port": found.port,
        "started_at": found.started_at,
        "model": found.request_model,
        "log": found.log,
        "pid": found.pid,
        "container": found.container,
        "image": found.image,
    }


def deploy_doc(found: DeploymentLike, *, seconds: float) -> Document:
    """``builder deploy --format json``: the deployment that answered its health check."""
    return document(deployment=deployment_json(found), seconds=round(seconds, 1))


def status_doc(rows: Sequence[tuple[DeploymentLike, str, float]]) -> Document:
    """``builder status --format json``: each deployment, its state (healthy, unhealthy,
    dead) and its uptime in seconds."""
    return document(
        deployments=[
            {**deployment_json(found), "state": state, "uptime_s": round(uptime, 1)}
            for found, state, uptime in rows
        ]
    )


class BuiltImage(Protocol):
    @property
    def tag(self) -> str: ...
    @property
    def image_id(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def ran(self) -> tuple[str, ...]: ...


def base_image_doc(built: BuiltImage) -> Document:
    """``builder base-image --format json``: the image and the steps this build ran (none:
    it was up to date)."""
    return document(tag=built.tag, image_id=built.image_id, key=built.key, ran=list(built.ran))


def export_doc(written: Sequence[str]) -> Document:
    """``builder export-image --format json``: the image archives written."""
    return document(written=list(written))


def baseline_doc(cell: str, wrote: str) -> Document:
    """``builder baseline --format json``: the cell and the baseline file written (relative
    to the project)."""
    return document(cell=cell, wrote=wrote)
