"""Run a plan: render, validate and emit each cell, then index the release.

This is the layer that performs effects; what it performs comes from the pure core
(:mod:`builder.core.matrix`, :mod:`builder.core.render`, :mod:`builder.core.report`). Stages stop early:
``render`` writes files only, ``validate`` also runs the suites, ``release`` also writes
out/release.json and the README table. A cell that fails never stops the others.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from builder import __version__
from builder.core import catalog_page as catalogpage
from builder.core import gates, report
from builder.core import keys as cache
from builder.core.engines import model_reference
from builder.core.matrix import engine_version
from builder.core.model import Catalog, Cell, LoadedRecipe, Plan, cell_json
from builder.core.project import Project
from builder.core.render import render_cell
from builder.core.results import CellValidation, Status, SuiteResult
from builder.core.variants import VariantSpec, variant_spec
from builder.effects import build_cache, fs, host, killpoint, plots, proc, variants
from builder.effects.engine_runtime import engine_env, is_secret, running_engine
from builder.effects.suites import SUITES
from builder.effects.suites.context import SuiteContext
from builder.errors import BuilderError, OutputError

Stage = Literal["render", "validate", "release"]
Log = Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What happened to one cell."""

    cell: Cell
    validation: CellValidation
    # What the build cache saved: "" (built now), "validation reused from ..." or "cached ...".
    reused: str = ""


@dataclass(frozen=True, kw_only=True)
class Builds:
    """The build cache of a run and the digests of the input files its keys need."""

    cache_dir: Path
    digests: cache.InputDigests


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
    """Perform ``stage`` for every cell of ``plan`` (``full_plan``: the unfiltered one).

    Reference cells go first, so every other cell can be gated as soon as it has run.
    """
    out_dir = project.out_dir(catalog.settings)
    with fs.exclusive_lock(out_dir):
        fs.recover(out_dir)
        fs.discard_temporaries(project.readme(catalog.settings))
        recipes = {r.name: r for r in plan.recipes}
        commit = recipes_commit(project)
        builds = Builds(
            cache_dir=project.cache_dir(catalog.settings),
            digests=build_cache.input_digests(project.root, project.templates_dir, catalog),
        )
        results: dict[str, CellValidation] = {}
        judged = []
        cells = references_first(plan.cells)
        for index, cell in enumerate(cells, 1):
            log(f"[{index}/{len(cells)}] {cell.id}")
            one = _judge_cell(
                project, catalog, cell, recipes[cell.recipe], stage, out_dir, builds, results
            )
            results[cell.id] = one.validation
            reused = f" ({one.reused})" if one.reused else ""
            log(f"    {one.validation.status}{_reason(one.validation)}{reused}")
            _log_weights(one.validation, log)
            judged.append(one)
        # Every card shows the model's variant table, which needs all cells' results: cells
        # are written once all are judged (cells not in this run keep their indexed results).
        tables = variant_tables(
            catalog, full_plan, out_dir, {j.cell.id: j.validation for j in judged}
        )
        outcomes = []
        for one in judged:
            outcomes.append(_emit_cell(project, catalog, one, out_dir, commit, builds, tables))
            _lint_dockerfile(catalog, one.cell, out_dir / one.cell.recipe / one.cell.id, log)
            killpoint.point("cell-done")
        if stage == "release":
            write_release_index(project, catalog, full_plan, outcomes, out_dir)
    return outcomes


def _log_weights(validation: CellValidation, log: Log) -> None:
    weights = (validation.engine or {}).get("weights")
    if weights and weights.get("tool"):
        log(
            f"    weights {str(weights['key'])[:12]}: {weights['bytes']:,} bytes, "
            f"{weights.get('bits_per_weight')} bits/weight, by {weights['tool']}"
        )


def references_first(cells: tuple[Cell, ...]) -> list[Cell]:
    """The plan's cells with every reference cell ahead of the cells compared with it."""
    references = {c.reference for c in cells}
    return [c for c in cells if c.id in references] + [c for c in cells if c.id not in references]


def _lint_dockerfile(catalog: Catalog, cell: Cell, folder: Path, log: Log) -> None:
    """hadolint on the rendered Dockerfile: findings are warnings here, errors in lint."""
    path = folder / "Dockerfile"
    from builder.core.dockerlint import unwaived
    from builder.effects.hadolint import hadolint

    try:
        findings = hadolint(path.read_text(encoding="utf-8"))
    except (BuilderError, OSError) as exc:
        log(f"    {cell.id}: hadolint: not run: {exc}")
        return
    for finding in unwaived(findings, catalog.chips[cell.chip].hadolint_waivers):
        log(f"    {cell.id}: hadolint: {finding}")


def _reason(validation: CellValidation) -> str:
    return f": {validation.reason.splitlines()[0]}" if validation.reason else ""


MODES = {"serve.sh": 0o755}


@dataclass(frozen=True, kw_only=True)
class Judged:
    """A cell validated (or taken from the cache) and gated, not yet written."""

    cell: Cell
    loaded: LoadedRecipe
    keys: cache.CellKeys
    validation: CellValidation
    engine_log: bytes | None
    reused: str
    reference: ReferenceResults


def _judge_cell(
    project: Project,
    catalog: Catalog,
    cell: Cell,
    loaded: LoadedRecipe,
    stage: Stage,
    out_dir: Path,
    builds: Builds,
    earlier: Mapping[str, CellValidation],
) -> Judged:
    """Validate and gate one cell, reusing the build cache's validation for its key.

    The raw validation is cached; the gate is always recomputed, since the reference's
    results may have changed while this cell's did not.
    """
    keys = cache.cell_keys(cell, loaded, catalog, builds.digests)
    validation, engine_log, reused = _validation(
        project, catalog, cell, loaded, stage, out_dir, keys, builds.cache_dir
    )
    if stage == "render":
        reference = ReferenceResults(label="not validated")
    else:
        reference = ReferenceResults.find(project, catalog, cell, loaded, out_dir, earlier)
        validation = judge(validation, cell, loaded, reference, final=stage == "release")
    killpoint.point("cell-validated")
    return Judged(
        cell=cell,
        loaded=loaded,
        keys=keys,
        validation=validation,
        engine_log=engine_log,
        reused=reused,
        reference=reference,
    )


def _emit_cell(
    project: Project,
    catalog: Catalog,
    one: Judged,
    out_dir: Path,
    commit: dict[str, Any],
    builds: Builds,
    tables: Mapping[str, str],
) -> Outcome:
    """Write a judged cell's folder, or keep it when the render cache already has it."""
    cell, validation, reused = one.cell, one.validation, one.reused
    table = tables.get(cell.recipe, "")
    render_key = one.keys.render_key({**validation.to_json(), "variant_table": table})
    target = out_dir / one.loaded.name / cell.id
    record = build_cache.load_record(builds.cache_dir, cell.id)
    if _restore(builds.cache_dir, render_key, target):
        if record is not None and record.get("render_key") == render_key:
            return Outcome(
                cell=cell, validation=validation, reused=f"cached since {record['created_at']}"
            )
        reused = reused or "render cached"
    else:
        payload = _payload(
            project,
            catalog,
            cell,
            one.loaded,
            validation,
            one.reference,
            one.engine_log,
            commit,
            table,
        )
        fs.write_dir_atomic(target, payload, modes=MODES)
        build_cache.save_render(builds.cache_dir, render_key, payload, MODES)
    new_record = {
        "cell": cell.id,
        "parts": dict(one.keys.parts),
        "validation_key": one.keys.validation_key,
        "render_key": render_key,
        "status": validation.status,
        "created_at": _now(),
    }
    build_cache.save_record(builds.cache_dir, cell.id, new_record)
    return Outcome(cell=cell, validation=validation, reused=reused)


def variant_tables(
    catalog: Catalog, full_plan: Plan, out_dir: Path, fresh: Mapping[str, CellValidation]
) -> dict[str, str]:
    """Each recipe's variant table from this run's results and, for the cells this run did
    not touch, the last release index."""
    previous = _previous_index(out_dir / "release.json")
    recipes = {r.name: r for r in full_plan.recipes}
    entries: dict[str, dict[str, Any]] = {}
    for cell in full_plan.cells:
        if cell.id in fresh:
            entries[cell.id] = _fresh_entry(cell, recipes[cell.recipe], fresh[cell.id])
        elif cell.id in previous:
            entries[cell.id] = previous[cell.id]
    return {
        r.name: catalogpage.variant_markdown(r, full_plan, catalog, entries)
        for r in full_plan.recipes
    }


def _payload(
    project: Project,
    catalog: Catalog,
    cell: Cell,
    loaded: LoadedRecipe,
    validation: CellValidation,
    reference: ReferenceResults,
    engine_log: bytes | None,
    commit: Mapping[str, Any],
    variant_table: str = "",
) -> dict[str, bytes]:
    """Every file of a cell's folder: rendered files, results, plot, log and manifest."""
    texts = render_cell(project.templates_dir, cell, loaded, catalog, validation.to_json())
    if variant_table and VARIANT_MARKERS[0] in texts["README.md"]:
        texts["README.md"] = report.replace_between_markers(
            texts["README.md"], variant_table, file="README.md", markers=VARIANT_MARKERS
        )
    payload = {name: text.encode() for name, text in texts.items()}
    payload["validation.json"] = report.dumps(validation.to_json()).encode()
    for suite in validation.suites:
        payload.update(suite.artifacts)
    perf = _artifact(validation, "perf", "perf.json")
    if perf is not None and perf["points"]:
        title = f"{cell.id} vs {reference.label}"
        payload["perf.png"] = plots.perf_png(title, perf, reference.perf)
    if engine_log is not None:
        payload["engine.log"] = engine_log
    payload["manifest.json"] = report.dumps(
        manifest(cell, loaded, catalog, payload, commit, validation.engine.get("weights"))
    ).encode()
    return payload


def _restore(cache_dir: Path, render_key: str, target: Path) -> bool:
    """Whether ``target`` holds the cached render ``render_key`` (copied in if need be);
    an entry whose files do not match their manifest is not used."""
    if not build_cache.has_render(cache_dir, render_key):
        return False
    if build_cache.same_files(target, cache_dir, render_key):
        return True
    files = build_cache.load_render(cache_dir, render_key)
    if build_cache.manifest_problem(files):
        return False
    fs.write_dir_atomic(target, files, modes=MODES)
    return True


def _validation(
    project: Project,
    catalog: Catalog,
    cell: Cell,
    loaded: LoadedRecipe,
    stage: Stage,
    out_dir: Path,
    keys: cache.CellKeys,
    cache_dir: Path,
) -> tuple[CellValidation, bytes | None, str]:
    """The cell's validation, its engine log and what was reused: only a passed result is
    cached (a failure is retried; a missing runner is checked again on every host)."""
    if stage == "render":
        return CellValidation(cell=cell.id, status="rendered", reason="not validated"), None, ""
    hit = build_cache.load_validation(cache_dir, keys.validation_key)
    if hit is not None:
        data, files = hit
        validation = cache.validation_from_json(data)
        # Suites' files (accuracy.json, perf.json, ...) come back beside the JSON.
        suites = tuple(
            dataclasses.replace(s, artifacts=_suite_files(files, s.name)) for s in validation.suites
        )
        validation = dataclasses.replace(validation, suites=suites)
        reused = f"validation reused from {validation.finished_at}"
        return validation, files.get("engine.log"), reused
    work = out_dir / ".work" / cell.id
    shutil.rmtree(work, ignore_errors=True)
    validation = validate_cell(project, catalog, cell, loaded, out_dir, work)
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
        build_cache.save_validation(cache_dir, keys.validation_key, validation.to_json(), files)
    return validation, engine_log, ""


# Cached suite files are stored flat as "suite.<suite>.<file name>".
SUITE_FILE = "suite."


def _suite_files(files: Mapping[str, bytes], suite: str) -> dict[str, bytes]:
    prefix = f"{SUITE_FILE}{suite}."
    return {k[len(prefix) :]: v for k, v in files.items() if k.startswith(prefix)}


def identity(catalog: Catalog, cell: Cell, loaded: LoadedRecipe) -> dict[str, Any]:
    """Who a result comes from: enough to tell whether a stored one still applies."""
    chip = catalog.chips[cell.chip]
    return {
        "cell": cell.id,
        "engine": cell.engine,
        "engine_version": engine_version(catalog, cell.chip, cell.engine),
        "image": cell.image,
        "image_digest": None,  # known once the image is built and pushed
        "model_source": loaded.recipe.model.source,
        "hardware": host.hardware(chip),
    }


def reference_identity(catalog: Catalog, ref_id: str, loaded: LoadedRecipe) -> dict[str, Any]:
    """The identity a stored baseline must carry to stand for reference cell ``ref_id``."""
    _, chip, _, engine = ref_id.rsplit(".", 3)
    return {
        "cell": ref_id,
        "engine": engine,
        "engine_version": engine_version(catalog, chip, engine),
        "model_source": loaded.recipe.model.source,
    }


def validate_cell(
    project: Project,
    catalog: Catalog,
    cell: Cell,
    loaded: LoadedRecipe,
    out_dir: Path,
    work: Path,
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
        env = {**chip.env, **engine.env}
        weights = variants.prepare(
            variant_of(catalog, cell, loaded, project),
            _workshop(project, catalog, cache_dir, work),
        )
        engine_info["weights_bytes"] = weights.record["bytes"]
        engine_info["weights"] = weights_summary(weights.record)
        if weights.file and engine.gguf_load == "dequantize":
            weights = variants.dequantized(weights)
            engine_info["weights"]["served_as"] = "dequantized by transformers' GGUF reader"
        with running_engine(
            engine,
            cell.serve_args,
            model=model_reference(engine, str(weights.dir), weights.file),
            served_model_name=cell.release_name,
            env=env,
            log_path=work / "engine.log",
            cache_dir=cache_dir,
            startup_timeout_s=catalog.settings.startup_timeout_s,
        ) as running:
            engine_info |= {
                "argv": list(running.command.argv),
                "startup_s": round(running.startup_s, 2),
            }
            for name in loaded.recipe.validate.suites:
                suite = catalog.suites[name]
                ctx = SuiteContext(
                    engine=running,
                    engine_conf=engine,
                    suite=suite,
                    spec=loaded.recipe.validate,
                    timeout_s=suite.timeout_s,
                    request_timeout_s=catalog.settings.request_timeout_s,
                    tokenizer_dir=weights.tokenizer_dir,
                    work_dir=work / name,
                    tasks_dir=project.root / "tasks",
                    env=engine_env(env, cache_dir),
                    identity=identity(catalog, cell, loaded),
                )
                result = SUITES[name].run(ctx)
                suites.append(result)
                running.check_alive(grace_s=0.0 if result.passed else 2.0)
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


def variant_of(catalog: Catalog, cell: Cell, loaded: LoadedRecipe, project: Project) -> VariantSpec:
    """The spec of the weights ``cell`` serves (calibration files hashed here, at the edge)."""
    digest = build_cache.calibration_digest(project.root)
    return variant_spec(loaded, catalog, cell.quantization, digest)


def _workshop(project: Project, catalog: Catalog, cache_dir: Path, work: Path) -> variants.Workshop:
    log_path = work / "variant.log"

    def log(line: str) -> None:
        # Quantizer progress goes to the cell's work folder, beside the engine log.
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")

    return variants.Workshop(
        cache_dir=cache_dir,
        tools_dir=variants.default_tools_dir(),
        project_root=project.root,
        work_dir=work / "variant",
        # Quantizers may download (their tool, calibration data) but never get credentials.
        env={k: v for k, v in os.environ.items() if not is_secret(k)},
        timeout_s=catalog.settings.quantize_timeout_s,
        log=log,
    )


def weights_summary(record: Mapping[str, Any]) -> dict[str, Any]:
    """What a cell's results say about its weights (the manifest lists every file's hash)."""
    keys = ("key", "bytes", "parameters", "bits_per_weight", "tool", "seconds", "files")
    return {k: record[k] for k in keys if k in record}


@dataclass(frozen=True, kw_only=True)
class ReferenceResults:
    """The reference cell's accuracy and perf documents, and where they came from."""

    label: str
    accuracy: dict[str, Any] | None = None
    perf: dict[str, Any] | None = None
    # Why a stored result cannot be compared (provenance differs); empty when it can.
    refused: tuple[str, ...] = ()
    is_self: bool = False

    @classmethod
    def find(
        cls,
        project: Project,
        catalog: Catalog,
        cell: Cell,
        loaded: LoadedRecipe,
        out_dir: Path,
        earlier: Mapping[str, CellValidation],
    ) -> ReferenceResults:
        """This run's reference results, else an earlier run's in out/, else the baseline."""
        ref_id = cell.reference
        if ref_id is None or ref_id == cell.id:
            return cls(label="itself", is_self=ref_id == cell.id)
        if ref_id in earlier and earlier[ref_id].status not in ("awaiting-runner", "rendered"):
            found = earlier[ref_id]
            return cls(
                label=f"{ref_id} (this run)",
                accuracy=_artifact(found, "accuracy", "accuracy.json"),
                perf=_artifact(found, "perf", "perf.json"),
            )
        previous = out_dir / loaded.name / ref_id
        if (previous / "accuracy.json").is_file() or (previous / "perf.json").is_file():
            return cls(
                label=f"{ref_id} (earlier run in {previous})",
                accuracy=_read_json(previous / "accuracy.json"),
                perf=_read_json(previous / "perf.json"),
            )
        baseline = loaded.recipe.validate.accuracy.baseline
        if baseline:
            return cls._baseline(project, catalog, ref_id, loaded, baseline)
        return cls(label=f"{ref_id} (no result yet, and no validate.accuracy.baseline)")

    @classmethod
    def _baseline(
        cls, project: Project, catalog: Catalog, ref_id: str, loaded: LoadedRecipe, path: str
    ) -> ReferenceResults:
        label = f"baseline {path}"
        stored = _read_json(project.root / path)
        if stored is None:
            return cls(label=label, refused=(f"{path} is missing or is not JSON",))
        expected = reference_identity(catalog, ref_id, loaded)
        problems = gates.baseline_identity_mismatch(stored.get("provenance", {}), expected)
        return cls(label=label, accuracy=stored, refused=tuple(problems))


def _artifact(validation: CellValidation, suite: str, name: str) -> dict[str, Any] | None:
    found = validation.suite(suite)
    if found is None or name not in found.artifacts:
        return None
    data: dict[str, Any] = json.loads(found.artifacts[name])
    return data


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def judge(
    validation: CellValidation,
    cell: Cell,
    loaded: LoadedRecipe,
    reference: ReferenceResults,
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
    spec = loaded.recipe.validate
    verdicts: dict[str, Any] = {"reference": reference.label}
    mine = _artifact(validation, "accuracy", "accuracy.json")
    if mine is not None:
        ref_doc, refused = reference.accuracy, list(reference.refused)
        if ref_doc is not None and not reference.is_self:
            refused += gates.provenance_mismatch(ref_doc.get("provenance", {}), mine["provenance"])
        found = gates.accuracy_gates(
            mine,
            None if refused else ref_doc,
            max_drop=spec.accuracy.max_drop,
            confidence=spec.accuracy.confidence,
            is_reference=reference.is_self,
            reference_label=reference.label,
            refused="; ".join(refused),
        )
        verdicts["accuracy"] = [g.to_json() for g in found]
        if not final and ref_doc is None and not refused and not reference.is_self:
            verdicts["accuracy"] = [_pending(g) for g in verdicts["accuracy"]]
    mine_perf = _artifact(validation, "perf", "perf.json")
    if mine_perf is not None:
        perf = gates.perf_gate(
            mine_perf, reference.perf, min_ratio=spec.perf.min_ratio, is_reference=reference.is_self
        )
        served_as = (validation.engine.get("weights") or {}).get("served_as")
        if served_as and perf.verdict in ("pass", "fail"):
            # The engine served a stand-in for the format (e.g. a GGUF file dequantized):
            # its speed says nothing about the variant's, so it is reported, never gated.
            note = f"weights {served_as}: speed is not the format's; report only"
            perf = dataclasses.replace(perf, verdict="report-only", note=note)
        verdicts["perf"] = perf.to_json()
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


def regate(
    project: Project, catalog: Catalog, plan: Plan, outcomes: list[Outcome], out_dir: Path
) -> list[Outcome]:
    """Gate merged cells again now that their references' results are in out/.

    Cells validated on different machines (CI runners, launcher jobs) could not see their
    reference when they ran; once their folders are merged into out/, each cell is judged
    against the reference's results there, and every cell's files are written again with the
    variant tables of the whole release. The caller holds the lock on out/.
    """
    recipes = {r.name: r for r in plan.recipes}
    commit = recipes_commit(project)
    judged: list[tuple[Outcome, ReferenceResults | None, dict[str, bytes]]] = []
    for outcome in outcomes:
        cell, folder = outcome.cell, out_dir / outcome.cell.recipe / outcome.cell.id
        if not folder.is_dir():
            judged.append((outcome, None, {}))
            continue
        loaded = recipes[cell.recipe]
        files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
        if not outcome.validation.suites:
            # Not validated (awaiting a runner): nothing to gate, but its card's variant
            # table was written on a runner that saw no other cell.
            judged.append((outcome, ReferenceResults(label="not validated"), files))
            continue
        if cell.reference in (None, cell.id):
            # A reference is not gated again; its own artifacts are its suites' files.
            suites = tuple(
                dataclasses.replace(s, artifacts=_files_of(s.name, files))
                for s in outcome.validation.suites
            )
            mine = dataclasses.replace(outcome.validation, suites=suites)
            reference = ReferenceResults(label="this cell", is_self=True)
            judged.append((dataclasses.replace(outcome, validation=mine), reference, files))
            continue
        raw = ungated(outcome.validation)
        suites = tuple(
            dataclasses.replace(s, artifacts=_files_of(s.name, files)) for s in raw.suites
        )
        raw = dataclasses.replace(raw, suites=suites)
        reference = ReferenceResults.find(project, catalog, cell, loaded, out_dir, {})
        validation = judge(raw, cell, loaded, reference)
        judged.append((dataclasses.replace(outcome, validation=validation), reference, files))
    # The cards' variant tables need every merged cell's results: written once all are in.
    fresh = {o.cell.id: o.validation for o, _, _ in judged}
    tables = variant_tables(catalog, plan, out_dir, fresh)
    for outcome, found, files in judged:
        if found is None:
            continue
        cell, validation = outcome.cell, outcome.validation
        payload = _payload(
            project,
            catalog,
            cell,
            recipes[cell.recipe],
            validation,
            found,
            files.get("engine.log"),
            commit,
            tables.get(cell.recipe, ""),
        )
        fs.write_dir_atomic(out_dir / cell.recipe / cell.id, payload, modes=MODES)
    return [o for o, _, _ in judged]


# Which files of a cell's folder each suite wrote.
SUITE_FILES = {"accuracy": ("accuracy.json", "lm-eval.log"), "perf": ("perf.json",)}


def _files_of(suite: str, files: Mapping[str, bytes]) -> dict[str, bytes]:
    return {name: files[name] for name in SUITE_FILES.get(suite, ()) if name in files}


def settle(validation: CellValidation, verdicts: Mapping[str, Any]) -> tuple[Status, str]:
    """failed beats inconclusive beats passed; the reason names every gate that decided."""
    accuracy = verdicts.get("accuracy", [])
    failed = [
        f"{g['task']} {g['metric']} dropped beyond tolerance ({g['note']})"
        for g in accuracy
        if g["verdict"] == "fail"
    ]
    perf = verdicts.get("perf", {})
    if perf.get("verdict") == "fail":
        failed.append(f"throughput {perf['note']}")
    if validation.status == "failed" or failed:
        return "failed", "; ".join(r for r in (validation.reason, *failed) if r)
    unsure = [
        f"{g['task']} {g['verdict']}: {g['note']}"
        for g in accuracy
        if g["verdict"] in ("inconclusive", "refused")
    ]
    if unsure:
        return "inconclusive", "gate undecided: " + "; ".join(unsure)
    return validation.status, validation.reason


def manifest(
    cell: Cell,
    loaded: LoadedRecipe,
    catalog: Catalog,
    payload: Mapping[str, bytes],
    commit: Mapping[str, Any],
    weights: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What a cell's directory holds and exactly which inputs made it, including the weights
    it was validated with: their variant key, the tool that made them, every file's hash."""
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
            "variant": variant_spec(loaded, catalog, cell.quantization).to_json(),
        },
        "weights": dict(weights) if weights else None,
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


def index_entry(
    cell: Cell,
    loaded: LoadedRecipe,
    status: str,
    reason: str,
    gates_json: Mapping[str, Any],
    weights: Mapping[str, Any] | None = None,
    throughput: float | None = None,
) -> dict[str, Any]:
    weights = weights or {}
    return {
        "gates": dict(gates_json),
        "weights_bytes": weights.get("bytes"),
        "bits_per_weight": weights.get("bits_per_weight"),
        "weights_key": weights.get("key"),
        "weights_tool": weights.get("tool"),
        "throughput": throughput,
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


def peak_throughput(validation: CellValidation) -> float | None:
    """The highest output throughput (tokens/s) of the cell's perf sweep, if it ran."""
    perf = _artifact(validation, "perf", "perf.json")
    points = (perf or {}).get("points") or []
    values = [float(p["output_throughput"]) for p in points if p.get("output_throughput")]
    return max(values) if values else None


def _fresh_entry(cell: Cell, loaded: LoadedRecipe, v: CellValidation) -> dict[str, Any]:
    return index_entry(
        cell, loaded, v.status, v.reason, v.gates, v.engine.get("weights"), peak_throughput(v)
    )


def _stored_weights(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The weights fields of an earlier index entry, as :func:`index_entry` takes them."""
    return {
        "bytes": entry.get("weights_bytes"),
        "bits_per_weight": entry.get("bits_per_weight"),
        "key": entry.get("weights_key"),
        "tool": entry.get("weights_tool"),
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
            entry = _fresh_entry(cell, recipes[cell.recipe], fresh[cell.id].validation)
        elif cell.id in previous:
            entry = index_entry(
                cell,
                recipes[cell.recipe],
                previous[cell.id]["status"],
                previous[cell.id].get("reason", ""),
                previous[cell.id].get("gates", {}),
                _stored_weights(previous[cell.id]),
                previous[cell.id].get("throughput"),
            )
        else:
            continue
        entries.append(entry)
    index = {"builder_version": __version__, "cells": entries}
    fs.write_atomic(index_path, report.dumps(index).encode())
    fs.write_atomic(out_dir / "report.json", report.dumps(index).encode())
    fs.write_atomic(out_dir / "report.md", report.release_report(entries).encode())
    by_id = {e["id"]: e for e in entries}
    pages = (full_plan.recipes, full_plan, catalog, by_id)
    fs.write_atomic(out_dir / "catalog.md", catalogpage.catalog_markdown(*pages).encode())
    fs.write_atomic(
        out_dir / "catalog.json", report.dumps(catalogpage.catalog_json(*pages)).encode()
    )
    tables = {
        r.name: catalogpage.variant_markdown(r, full_plan, catalog, by_id)
        for r in full_plan.recipes
    }
    killpoint.point("index-written")
    readme = project.readme(catalog.settings)
    try:
        text = readme.read_text(encoding="utf-8")
        updated = report.replace_between_markers(
            text, report.release_table(entries), file=str(readme)
        )
        if VARIANT_MARKERS[0] in updated:
            section = _readme_variants(full_plan, tables)
            updated = report.replace_between_markers(
                updated, section, file=str(readme), markers=VARIANT_MARKERS
            )
    except (OSError, ValueError) as exc:
        raise OutputError(str(exc)) from None
    if updated != text:
        fs.write_atomic(readme, updated.encode())


# The card section (and the optional README section) the variant tables go between.
VARIANT_MARKERS = ("<!-- START:variants -->", "<!-- END:variants -->")


def _readme_variants(plan: Plan, tables: Mapping[str, str]) -> str:
    parts = []
    for loaded in sorted(plan.recipes, key=lambda r: r.name):
        parts.append(f"### {loaded.recipe.model.name}\n\n{tables[loaded.name]}")
    return "\n".join(parts)


def _previous_index(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {e["id"]: e for e in data["cells"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}
