"""One cell through a run: its validation (reused from the build cache or run now), its
gates, and its folder (restored from the render cache or written now).

The raw validation is cached by the cell's validation key; the gate is always recomputed,
since the reference's results may have changed while this cell's did not. A cell's folder
is cached by its render key (templates, recipe texts, the validation it shows).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from builder.core import judge, report
from builder.core.cells import Plan
from builder.core.index import VARIANT_MARKERS, manifest
from builder.core.judge import Reference
from builder.core.keys import ResolvedCell
from builder.core.matrix import engine_version, probe_key
from builder.core.plain import dumps
from builder.core.render import render_cell
from builder.core.results import CellValidation, validation_from_json
from builder.core.values import source_fields
from builder.effects import build_cache, fs, plots
from builder.effects.suites import PeerStarter
from builder.run.reference import find_reference
from builder.run.validate import now, peer_starter, validate_cell
from builder.session import Session

Stage = Literal["render", "validate", "release"]
MODES = {"serve.sh": 0o755}
# Cached suite files are stored flat as "suite.<suite>.<file name>".
SUITE_FILE = "suite."


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What happened to one cell."""

    cell: ResolvedCell
    validation: CellValidation
    # What the build cache saved: "" (built now), "validation reused from ..." or "cached ...".
    reused: str = ""


@dataclass(frozen=True, kw_only=True)
class Judged:
    """A cell validated (or taken from the cache, or merged from elsewhere) and gated, not
    yet written."""

    resolved: ResolvedCell
    validation: CellValidation
    engine_log: bytes | None
    reused: str
    reference: Reference
    # Whether its folder goes through the render cache (a run's own cells), or is written
    # as it was merged (cells validated elsewhere).
    cached: bool = True


def judge_cell(
    session: Session, resolved: ResolvedCell, stage: Stage, earlier: Mapping[str, CellValidation]
) -> Judged:
    """Validate (or reuse) and gate one cell; ``earlier``: this run's results so far."""
    validation, engine_log, reused = _validation(session, resolved, stage)
    if stage == "render":
        reference = Reference(label="not validated")
    else:
        reference = find_reference(
            session.project,
            session.catalog,
            resolved.cell,
            resolved.recipe,
            session.out_dir,
            earlier,
        )
        validation = judge.judge(
            validation, resolved.recipe, reference, session.catalog, final=stage == "release"
        )
    return Judged(
        resolved=resolved,
        validation=validation,
        engine_log=engine_log,
        reused=reused,
        reference=reference,
    )


def judge_merged(session: Session, outcome: Outcome, files: Mapping[str, bytes]) -> Judged:
    """Gate a cell validated elsewhere (a CI runner, a launcher job) again, now that its
    folder (``files``) and its reference's are in out/. A cell that was not validated
    (awaiting a runner) has nothing to gate, but is written again all the same: its card's
    variant table was made on a runner that saw no other cell."""
    validation = outcome.validation
    reference = Reference(label="not validated")
    if validation.suites:
        raw = judge.ungated(validation)
        suites = tuple(
            dataclasses.replace(s, artifacts=_declared_files(session, s.name, files))
            for s in raw.suites
        )
        cell, loaded = outcome.cell.cell, outcome.cell.recipe
        reference = find_reference(
            session.project, session.catalog, cell, loaded, session.out_dir, {}
        )
        raw = dataclasses.replace(raw, suites=suites)
        validation = judge.judge(raw, loaded, reference, session.catalog)
        record_engine_version(session, outcome.cell, validation)
    return Judged(
        resolved=outcome.cell,
        validation=validation,
        engine_log=files.get("engine.log"),
        reused="",
        reference=reference,
        cached=False,
    )


def _declared_files(session: Session, suite: str, files: Mapping[str, bytes]) -> dict[str, bytes]:
    """The files of a cell folder that ``suite`` wrote (its conf/ entry lists them)."""
    conf = session.catalog.suites.get(suite)
    names = conf.files if conf is not None else []
    return {name: files[name] for name in names if name in files}


def _validation(
    session: Session, resolved: ResolvedCell, stage: Stage
) -> tuple[CellValidation, bytes | None, str]:
    """The cell's validation, its engine log and what was reused: only a passed result is
    cached (a failure is retried; a missing runner is checked again on every host)."""
    cell = resolved.cell
    if stage == "render":
        return CellValidation(cell=cell.id, status="rendered", reason="not validated"), None, ""
    hit = build_cache.load_validation(session.cache_dir, resolved.keys.validation_key)
    against = _measured_against(hit[1]) if hit is not None else None
    if against is not None:
        peer = _reference_peer(session, resolved)
        if peer is None or peer.key != against:
            hit = None  # its perf trials were interleaved with another build of the reference
    if hit is not None:
        data, files = hit
        validation = validation_from_json(data)
        # Suites' files (accuracy.json, perf.json, ...) come back beside the JSON.
        suites = tuple(
            dataclasses.replace(s, artifacts=_suite_files(files, s.name)) for s in validation.suites
        )
        validation = dataclasses.replace(validation, suites=suites)
        reused = f"validation reused from {validation.finished_at}"
        return validation, files.get("engine.log"), reused
    work = session.out_dir / ".work" / cell.id
    shutil.rmtree(work, ignore_errors=True)
    peer = _reference_peer(session, resolved)
    validation = validate_cell(
        session.project,
        session.catalog,
        resolved,
        session.out_dir,
        work,
        session.runtime,
        reference=peer,
    )
    record_engine_version(session, resolved, validation)
    log_path = work / "engine.log"
    engine_log = log_path.read_bytes() if log_path.is_file() else None
    if validation.status == "passed":
        files = {
            f"{SUITE_FILE}{s.name}.{name}": data
            for s in validation.suites
            for name, data in s.artifacts.items()
        }
        if engine_log is not None:
            files["engine.log"] = engine_log
        key = resolved.keys.validation_key
        build_cache.save_validation(session.cache_dir, key, validation.to_json(), files)
    return validation, engine_log, ""


def record_engine_version(
    session: Session, resolved: ResolvedCell, validation: CellValidation
) -> None:
    """Keep the engine version a validation found inside the cell's image: the image's tag
    carries it from the next plan on (where it differs from the catalog's)."""
    found = validation.runtime.get("engine_version")
    if validation.runtime.get("kind") != "container" or not found:
        return
    cell = resolved.cell
    record = {
        "version": found,
        "catalog": engine_version(session.catalog, cell.chip, cell.engine),
        "image_id": validation.runtime.get("image_id"),
        "cell": cell.id,
    }
    build_cache.save_engine_version(
        session.cache_dir, probe_key(cell.engine, cell.base_image), record
    )


def _reference_peer(session: Session, resolved: ResolvedCell) -> PeerStarter | None:
    """The reference cell's engine as a peer the cell's suites may start beside their own
    (perf measures both in alternation), when the reference can run on this host."""
    ref_id = resolved.cell.reference
    if ref_id is None or ref_id == resolved.id:
        return None
    found = [c for c in session.full_plan.cells if c.id == ref_id]
    if not found:
        return None
    plan = Plan(cells=tuple(found), excluded=(), recipes=session.full_plan.recipes)
    reference = session.resolved(plan)[0]
    return peer_starter(
        session.project, session.catalog, reference, session.out_dir, session.runtime
    )


def _measured_against(files: Mapping[str, bytes]) -> str | None:
    """The reference build (validation key) a cached perf result was interleaved with."""
    raw = files.get(f"{SUITE_FILE}perf.perf.json")
    try:
        interleaved = json.loads(raw).get("interleaved") if raw else None
    except ValueError:
        return None
    key = (interleaved or {}).get("key") if isinstance(interleaved, dict) else None
    return str(key) if key else None


def _suite_files(files: Mapping[str, bytes], suite: str) -> dict[str, bytes]:
    prefix = f"{SUITE_FILE}{suite}."
    return {k[len(prefix) :]: v for k, v in files.items() if k.startswith(prefix)}


def write_cell(
    session: Session, one: Judged, commit: Mapping[str, Any], table: str, batch: fs.DirBatch
) -> Outcome:
    """Write a judged cell's folder (staged in ``batch``, swapped in when it commits), or
    keep it when the render cache already has it."""
    resolved, validation, reused = one.resolved, one.validation, one.reused
    target = session.out_dir / resolved.recipe.name / resolved.id
    if not one.cached:
        batch.stage(target, payload(session, one, commit, table), modes=MODES)
        return Outcome(cell=resolved, validation=validation)
    cache_dir = session.cache_dir
    render_key = resolved.keys.render_key({**validation.to_json(), "variant_table": table})
    record = build_cache.load_record(cache_dir, resolved.id)
    if _restore(cache_dir, render_key, target, batch):
        if record is not None and record.get("render_key") == render_key:
            since = f"cached since {record['created_at']}"
            return Outcome(cell=resolved, validation=validation, reused=since)
        reused = reused or "render cached"
    else:
        files = payload(session, one, commit, table)
        batch.stage(target, files, modes=MODES)
        build_cache.save_render(cache_dir, render_key, files, MODES)
    new_record = {
        "cell": resolved.id,
        "parts": dict(resolved.keys.parts),
        "validation_key": resolved.keys.validation_key,
        "render_key": render_key,
        "status": validation.status,
        "created_at": now(),
    }
    # Recorded once its folder is in place (the batch swaps it in first).
    batch.then(lambda: build_cache.save_record(cache_dir, resolved.id, new_record))
    return Outcome(cell=resolved, validation=validation, reused=reused)


def payload(
    session: Session, one: Judged, commit: Mapping[str, Any], variant_table: str
) -> dict[str, bytes]:
    """Every file of a cell's folder: rendered files, results, plot, log and manifest."""
    resolved, validation, catalog = one.resolved, one.validation, session.catalog
    cell, loaded = resolved.cell, resolved.recipe
    texts = render_cell(
        session.project.templates_dir,
        cell,
        loaded,
        catalog,
        validation.to_json(),
        variant=resolved.variant,
        revisions=session.digests.revisions,
    )
    if variant_table and VARIANT_MARKERS[0] in texts["README.md"]:
        texts["README.md"] = report.replace_between_markers(
            texts["README.md"], variant_table, file="README.md", markers=VARIANT_MARKERS
        )
    files = {name: text.encode() for name, text in texts.items()}
    files["validation.json"] = dumps(validation.to_json()).encode()
    for suite in validation.suites:
        files.update(suite.artifacts)
    perf = judge.document(validation, catalog, "perf")
    if perf is not None and perf["points"]:
        title = f"{cell.id} vs {one.reference.label}"
        files["perf.png"] = plots.perf_png(title, perf, one.reference.docs.get("perf"))
    if one.engine_log is not None:
        files["engine.log"] = one.engine_log
    weights = validation.engine.get("weights")
    made_of = manifest(cell, loaded, catalog, resolved.variant, files, commit, weights)
    made_of["source_commits"] = {
        source: session.digests.revisions[source]
        for _, source in source_fields(loaded.recipe)
        if source in session.digests.revisions
    }
    files["manifest.json"] = dumps(made_of).encode()
    return files


def _restore(cache_dir: Path, render_key: str, target: Path, batch: fs.DirBatch) -> bool:
    """Whether ``target`` holds the cached render ``render_key`` (copied in if need be);
    an entry whose files do not match their manifest is not used."""
    if not build_cache.has_render(cache_dir, render_key):
        return False
    if build_cache.same_files(target, cache_dir, render_key):
        return True
    files = build_cache.load_render(cache_dir, render_key)
    if build_cache.manifest_problem(files):
        return False
    batch.stage(target, files, modes=MODES)
    return True
