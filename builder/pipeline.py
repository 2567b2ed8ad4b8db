"""Run a plan: render, validate and emit each cell, then index the release.

This is the layer that performs effects; what it performs comes from the pure core
(:mod:`builder.matrix`, :mod:`builder.render`, :mod:`builder.report`). Stages stop early:
``render`` writes files only, ``validate`` also runs the suites, ``release`` also writes
out/release.json and the README table. A cell that fails never stops the others.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from builder import __version__, report
from builder.effects import fs, host, killpoint, proc
from builder.effects.engine_runtime import running_engine
from builder.effects.models import materialize
from builder.effects.suites import SUITES
from builder.errors import BuilderError, OutputError
from builder.model import Catalog, Cell, LoadedRecipe, Plan, cell_json
from builder.project import Project
from builder.render import render_cell
from builder.results import CellValidation, SuiteResult

Stage = Literal["render", "validate", "release"]
Log = Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What happened to one cell."""

    cell: Cell
    validation: CellValidation


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def run(
    project: Project,
    catalog: Catalog,
    plan: Plan,
    full_plan: Plan,
    *,
    stage: Stage,
    log: Log,
) -> list[Outcome]:
    """Perform ``stage`` for every cell of ``plan`` (``full_plan``: the unfiltered one)."""
    out_dir = project.out_dir(catalog.settings)
    with fs.exclusive_lock(out_dir):
        fs.recover(out_dir)
        fs.discard_temporaries(project.readme(catalog.settings))
        recipes = {r.name: r for r in plan.recipes}
        commit = recipes_commit(project)
        outcomes = []
        for index, cell in enumerate(plan.cells, 1):
            log(f"[{index}/{len(plan.cells)}] {cell.id}")
            outcome = _one_cell(
                project, catalog, cell, recipes[cell.recipe], stage, out_dir, commit
            )
            log(f"    {outcome.validation.status}{_reason(outcome.validation)}")
            outcomes.append(outcome)
            killpoint.point("cell-done")
        if stage == "release":
            write_release_index(project, catalog, full_plan, outcomes, out_dir)
    return outcomes


def _reason(validation: CellValidation) -> str:
    return f": {validation.reason.splitlines()[0]}" if validation.reason else ""


def _one_cell(
    project: Project,
    catalog: Catalog,
    cell: Cell,
    loaded: LoadedRecipe,
    stage: Stage,
    out_dir: Path,
    commit: dict[str, Any],
) -> Outcome:
    work = out_dir / ".work" / cell.id
    log_path = work / "engine.log"
    log_path.unlink(missing_ok=True)
    if stage == "render":
        validation = CellValidation(cell=cell.id, status="rendered", reason="not validated")
    else:
        validation = validate_cell(project, catalog, cell, loaded, out_dir, log_path)
    killpoint.point("cell-validated")
    files = render_cell(project.templates_dir, cell, loaded, catalog, validation.to_json())
    payload = {name: text.encode() for name, text in files.items()}
    payload["validation.json"] = report.dumps(validation.to_json()).encode()
    if log_path.is_file():
        payload["engine.log"] = log_path.read_bytes()
    payload["manifest.json"] = report.dumps(
        manifest(cell, loaded, catalog, payload, commit)
    ).encode()
    target = out_dir / loaded.name / cell.id
    fs.write_dir_atomic(target, payload, modes={"serve.sh": 0o755})
    return Outcome(cell=cell, validation=validation)


def validate_cell(
    project: Project,
    catalog: Catalog,
    cell: Cell,
    loaded: LoadedRecipe,
    out_dir: Path,
    log_path: Path,
) -> CellValidation:
    """Run the recipe's suites against one engine start, or say which runner is needed."""
    chip = catalog.chips[cell.chip]
    base = CellValidation(
        cell=cell.id,
        status="awaiting-runner",
        host=host.describe(),
        runner_labels=tuple(chip.runner_labels),
    )
    if not host.chip_present(chip):
        labels = ", ".join(chip.runner_labels)
        reason = f"no {chip.vendor_en} chip on this host; needs a runner labelled {labels}"
        return dataclasses.replace(base, reason=reason)
    engine = catalog.engines[cell.engine]
    if not host.program_present(engine.serve):
        reason = f"{engine.display_name} is not installed here ({engine.serve[0]!r} is not on PATH)"
        return dataclasses.replace(base, reason=reason)
    base = dataclasses.replace(base, started_at=_now())
    suites: list[SuiteResult] = []
    engine_info: dict[str, Any] = {"name": engine.name, "version": engine.version}
    try:
        cache_dir = out_dir / ".cache"
        model_dir = materialize(loaded.recipe.model.source, cache_dir / "models")
        with running_engine(
            engine,
            cell.serve_args,
            model_dir=model_dir,
            served_model_name=cell.release_name,
            env={**chip.env, **engine.env},
            log_path=log_path,
            cache_dir=cache_dir,
            startup_timeout_s=catalog.settings.startup_timeout_s,
        ) as running:
            engine_info |= {
                "argv": list(running.command.argv),
                "startup_s": round(running.startup_s, 2),
            }
            for name in loaded.recipe.validate.suites:
                suite = catalog.suites[name]
                timeout = min(suite.timeout_s, catalog.settings.request_timeout_s)
                suites.append(SUITES[name].run(running, suite, timeout))
    except (BuilderError, OSError) as exc:
        reason = str(exc)
    else:
        failed = [s.name for s in suites if not s.passed]
        reason = f"suite(s) failed: {', '.join(failed)}" if failed else ""
    return dataclasses.replace(
        base,
        status="failed" if reason else "passed",
        reason=reason,
        suites=tuple(suites),
        engine=engine_info,
        finished_at=_now(),
    )


def manifest(
    cell: Cell,
    loaded: LoadedRecipe,
    catalog: Catalog,
    payload: Mapping[str, bytes],
    commit: Mapping[str, Any],
) -> dict[str, Any]:
    """What a cell's directory holds and exactly which inputs made it."""
    return {
        "cell": cell.id,
        "builder_version": __version__,
        "recipe": {"name": loaded.name, "file": loaded.file, **commit},
        "config": {
            "cell": cell_json(cell),
            "model": dataclasses.asdict(loaded.recipe.model),
            "chip": dataclasses.asdict(catalog.chips[cell.chip]),
            "engine": dataclasses.asdict(catalog.engines[cell.engine]),
            "quantization": dataclasses.asdict(catalog.quantizations[cell.quantization]),
        },
        "files": {
            name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            for name, data in sorted(payload.items())
        },
    }


def recipes_commit(project: Project) -> dict[str, Any]:
    """The git commit of the recipes, and whether they have uncommitted changes."""
    head = proc.run(["git", "-C", str(project.root), "rev-parse", "HEAD"], timeout=10)
    status = proc.run(
        [
            "git",
            "-C",
            str(project.root),
            "status",
            "--porcelain",
            "--",
            "recipes",
            "conf",
            "templates",
        ],
        timeout=10,
    )
    if head.returncode != 0:
        return {"commit": "unknown", "dirty": None}
    return {"commit": head.stdout.strip(), "dirty": bool(status.stdout.strip())}


def index_entry(cell: Cell, loaded: LoadedRecipe, status: str, reason: str) -> dict[str, Any]:
    return {
        "id": cell.id,
        "recipe": cell.recipe,
        "model": loaded.recipe.model.name,
        "chip": cell.chip,
        "quantization": cell.quantization,
        "engine": cell.engine,
        "status": status,
        "reason": reason,
        "release_repo": cell.release_repo,
        "image": cell.image,
        "path": f"{cell.recipe}/{cell.id}",
    }


def write_release_index(
    project: Project, catalog: Catalog, full_plan: Plan, outcomes: list[Outcome], out_dir: Path
) -> None:
    """out/release.json and the README table, for every cell of the unfiltered plan.

    Cells this run did not touch keep their previous status (a run narrowed to one chip
    must not drop the other rows); cells no longer in any recipe disappear.
    """
    index_path = out_dir / "release.json"
    previous = _previous_index(index_path)
    recipes = {r.name: r for r in full_plan.recipes}
    fresh = {o.cell.id: o for o in outcomes}
    entries = []
    for cell in full_plan.cells:
        if cell.id in fresh:
            v = fresh[cell.id].validation
            entry = index_entry(cell, recipes[cell.recipe], v.status, v.reason)
        elif cell.id in previous:
            entry = index_entry(
                cell,
                recipes[cell.recipe],
                previous[cell.id]["status"],
                previous[cell.id].get("reason", ""),
            )
        else:
            continue
        entries.append(entry)
    index = {"builder_version": __version__, "cells": entries}
    fs.write_atomic(index_path, report.dumps(index).encode())
    killpoint.point("index-written")
    readme = project.readme(catalog.settings)
    try:
        text = readme.read_text(encoding="utf-8")
        updated = report.replace_between_markers(
            text, report.release_table(entries), file=str(readme)
        )
    except (OSError, ValueError) as exc:
        raise OutputError(str(exc)) from None
    if updated != text:
        fs.write_atomic(readme, updated.encode())


def _previous_index(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {e["id"]: e for e in data["cells"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}
