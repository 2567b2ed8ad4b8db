"""A run as a list of named steps, as nox runs its workflow: ``render``, ``validate``,
``release`` and ``assemble`` are the same steps in different lists.

Every step takes the run's state and adds to it; only these steps (through
:mod:`builder.run.cells` and :mod:`builder.effects`) touch the world, and what they do comes
from the pure core. The whole list runs under the lock on out/, after recovering from a run
that died mid-write. A cell that fails never stops the others.

- ``judge``: validate each cell (or reuse its cached validation) and gate it, references
  first so every other cell can be gated as soon as it has run;
- ``merge``: copy cell folders validated elsewhere (CI artifacts) into out/, checked
  against their manifests, and gate them again against their references now in out/;
- ``tables``: each model's variant table, from every cell's result (cells not in this run
  keep their indexed results), since every card shows it;
- ``write``: write each cell's folder (through the render cache), all staged first and
  swapped in, in order, after one sync;
- ``lint``: hadolint on each rendered Dockerfile (findings are warnings here);
- ``index``: out/release.json, the report, the catalog page, the report page
  (out/site/index.html) and the README table.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from builder.core import index
from builder.core.dockerlint import unwaived
from builder.core.keys import ResolvedCell
from builder.core.log import Log
from builder.core.progress import (
    CellEnded,
    CellStarted,
    RunStarted,
    failure_summary,
    files_to_read,
)
from builder.core.results import CellValidation
from builder.effects import fs, gittree, killpoint, orphans, progress
from builder.effects.hadolint import hadolint_batch
from builder.errors import BuilderError, OutputError
from builder.run import assemble, site
from builder.run.cells import Judged, Outcome, Stage, judge_cell, judge_merged, write_cell
from builder.session import Session


@dataclass(kw_only=True)
class Run:
    """The state a run's steps share; each step reads what earlier ones added."""

    session: Session
    stage: Stage
    log: Log
    # The cells this run validates (``judge``), or the folders it merges (``merge``).
    cells: Sequence[ResolvedCell] = ()
    folders: Sequence[Path] = ()
    judged: list[Judged] = field(default_factory=list)
    # Recipe name -> its variant table.
    tables: dict[str, str] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)


Step = Callable[[Run], None]


def judge(run: Run) -> None:
    results: dict[str, CellValidation] = {}
    cells = references_first(run.cells)
    progress.emit(RunStarted(stage=run.stage, total=len(cells)))
    for number, resolved in enumerate(cells, 1):
        progress.emit(CellStarted(cell=resolved.id, number=number, total=len(cells)))
        started = time.monotonic()
        with progress.cell(resolved.id):
            one = judge_cell(run.session, resolved, run.stage, results)
            _log_weights(one.validation, run.log)
        results[resolved.id] = one.validation
        progress.emit(cell_ended(run.session, one, time.monotonic() - started))
        killpoint.point("cell-validated")
        run.judged.append(one)


def cell_ended(session: Session, one: Judged, seconds: float) -> CellEnded:
    """How a cell ended; a failed one with the lines that say why and what to read."""
    validation = one.validation
    summary: tuple[str, ...] = ()
    if validation.status == "failed":
        folder = session.out_dir / one.resolved.recipe.name / one.resolved.id
        shown = _shown_path(folder, session.project.root)
        files = files_to_read(validation, shown, engine_log=one.engine_log is not None)
        log = (one.engine_log or b"").decode("utf-8", errors="replace")
        summary = failure_summary(validation, log, files)
    return CellEnded(
        cell=one.resolved.id,
        status=validation.status,
        seconds=seconds,
        reason=validation.reason,
        reused=one.reused,
        summary=summary,
    )


def _shown_path(path: Path, root: Path) -> str:
    """``path`` as a person would type it from the project root (or in full, outside it)."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def merge(run: Run) -> None:
    session = run.session
    if not run.folders:
        return  # launcher jobs that all failed: nothing to merge
    for outcome, files in assemble.merge_folders(session, run.folders, log=run.log):
        run.judged.append(judge_merged(session, outcome, files))


def tables(run: Run) -> None:
    session = run.session
    entries = index.merged_entries(
        session.full_plan,
        {j.resolved.id: j.validation for j in run.judged},
        index.previous_entries(fs.read_json(session.out_dir / "release.json")),
        session.catalog,
    )
    run.tables = index.variant_tables(session.full_plan, session.catalog, entries)


def write(run: Run) -> None:
    commit = gittree.recipes_commit(run.session.project.root)
    # Every cell folder is staged first and swapped in after one sync for all of them
    # (fs.DirBatch), instead of an fsync for every file of every cell.
    batch = fs.DirBatch()
    try:
        with progress.phase("write", f"{len(run.judged)} cell folder(s)"):
            for one in run.judged:
                table = run.tables.get(one.resolved.recipe.name, "")
                run.outcomes.append(write_cell(run.session, one, commit, table, batch))
                batch.then(lambda: killpoint.point("cell-done"))
            batch.commit()
    finally:
        batch.discard()


def lint(run: Run) -> None:
    """hadolint on each rendered Dockerfile: findings are warnings here, errors in lint.
    Every distinct Dockerfile not linted before goes to one hadolint process."""
    cells = [o.cell.cell for o in run.outcomes]
    try:
        texts = [
            (run.session.out_dir / c.recipe / c.id / "Dockerfile").read_text(encoding="utf-8")
            for c in cells
        ]
        with progress.phase("lint", f"hadolint, {len(set(texts))} distinct Dockerfile(s)"):
            found = hadolint_batch(texts, run.session.cache_dir)
    except (BuilderError, OSError) as exc:
        run.log(f"    hadolint: not run: {exc}")
        return
    for cell, findings in zip(cells, found, strict=True):
        for finding in unwaived(findings, run.session.catalog.chips[cell.chip].hadolint_waivers):
            run.log(f"    {cell.id}: hadolint: {finding}")


def write_index(run: Run) -> None:
    with progress.phase("index", "release.json, report and README table"):
        _write_index(run)


def _write_index(run: Run) -> None:
    session = run.session
    out_dir = session.out_dir
    fresh = {o.cell.id: o.validation for o in run.outcomes}
    previous = index.previous_entries(fs.read_json(out_dir / "release.json"))
    entries = index.merged_entries(session.full_plan, fresh, previous, session.catalog)
    for name, data in index.index_files(session.full_plan, session.catalog, entries).items():
        fs.write_atomic(out_dir / name, data)
    site.write_site(out_dir, session.full_plan, session.catalog, entries)
    killpoint.point("index-written")
    readme = session.project.readme(session.catalog.settings)
    tables = index.variant_tables(session.full_plan, session.catalog, entries)
    try:
        text = readme.read_text(encoding="utf-8")
        updated = index.updated_readme(text, session.full_plan, entries, tables, file=str(readme))
    except (OSError, ValueError) as exc:
        raise OutputError(str(exc)) from None
    if updated != text:
        fs.write_atomic(readme, updated.encode())


# The step lists. Render and validate stop before the index; assemble merges instead of
# validating (its cells were validated elsewhere) and lints nothing it did not render.
STEPS: dict[str, tuple[Step, ...]] = {
    "render": (judge, tables, write, lint),
    "validate": (judge, tables, write, lint),
    "release": (judge, tables, write, lint, write_index),
    "assemble": (merge, tables, write, write_index),
}


def execute(run: Run, steps: Sequence[Step]) -> list[Outcome]:
    """Run ``steps`` in order under the lock on out/; the outcomes of the cells written."""
    out_dir = run.session.out_dir
    with fs.exclusive_lock(out_dir):
        fs.recover(out_dir)
        fs.discard_temporaries(run.session.project.readme(run.session.catalog.settings))
        # Engines a killed predecessor left running hold ports and memory: stop them first.
        orphans.reap(out_dir, run.log)
        for step in steps:
            step(run)
    return run.outcomes


def release(session: Session, *, stage: Stage, log: Log) -> list[Outcome]:
    """Perform ``stage`` for every cell of the session's plan."""
    run = Run(session=session, stage=stage, log=log, cells=session.resolved())
    return execute(run, STEPS[stage])


def assemble_folders(session: Session, folders: Sequence[Path], *, log: Log) -> list[Outcome]:
    """Merge per-cell out/ folders (CI artifacts, launcher jobs) into out/ and index them,
    as a one-process release would have written them."""
    run = Run(session=session, stage="release", log=log, folders=folders)
    return execute(run, STEPS["assemble"])


def references_first(cells: Sequence[ResolvedCell]) -> list[ResolvedCell]:
    """The cells with every reference cell ahead of the cells compared with it."""
    references = {c.cell.reference for c in cells}
    return [c for c in cells if c.id in references] + [c for c in cells if c.id not in references]


def _log_weights(validation: CellValidation, log: Log) -> None:
    weights: dict[str, Any] = (validation.engine or {}).get("weights") or {}
    if weights.get("tool"):
        log(
            f"    weights {str(weights['key'])[:12]}: {weights['bytes']:,} bytes, "
            f"{weights.get('bits_per_weight')} bits/weight, by {weights['tool']}"
        )
