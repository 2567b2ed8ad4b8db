"""Validate one cell: make (or find) its weights, start its engine, run its suites.

A cell whose chip or engine this host lacks is *awaiting a runner*, with the runner labels
that would have it. Otherwise the engine starts once on loopback and every suite of the
recipe runs against it; the engine is stopped on every way out (success, a failed suite,
an error, Ctrl-C), and a suite's failure never stops the other suites.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from builder.core.catalog_model import Catalog
from builder.core.deploy import Runtime
from builder.core.engines import model_reference
from builder.core.keys import ResolvedCell
from builder.core.matrix import engine_version
from builder.core.project import Project
from builder.core.results import CellValidation, SuiteResult
from builder.effects import host, progress, variants
from builder.effects.engine_runtime import RunningEngine, engine_env, is_secret, running_engine
from builder.effects.suites import REGISTRY as SUITES
from builder.effects.suites import Peer, PeerStarter, SuiteContext
from builder.errors import BuilderError, ConfigError
from builder.run.container import engine_in_image


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def identity(catalog: Catalog, resolved: ResolvedCell) -> dict[str, Any]:
    """Who a result comes from: enough to tell whether a stored one still applies."""
    cell = resolved.cell
    return {
        "cell": cell.id,
        "engine": cell.engine,
        "engine_version": engine_version(catalog, cell.chip, cell.engine),
        "image": cell.image,
        "image_digest": None,  # known once the image is built and pushed
        "model_source": resolved.recipe.recipe.model.source,
        "hardware": host.hardware(catalog.chips[cell.chip]),
    }


def awaiting(catalog: Catalog, resolved: ResolvedCell, runtime: Runtime) -> CellValidation | None:
    """The cell as *awaiting a runner* when this host lacks its chip or what runs its engine
    (the engine itself on the host; docker for its image), else None."""
    cell = resolved.cell
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
    if runtime == "container" and not host.program_present(["docker"]):
        reason = "--runtime container: docker is not installed here"
        return dataclasses.replace(base, reason=reason)
    if runtime == "host" and not host.program_present(engine.serve):
        where = "beside the builder's Python or on PATH"
        reason = f"{engine.display_name} is not installed here ({engine.serve[0]!r} is not {where})"
        return dataclasses.replace(base, reason=reason)
    return None


def validate_cell(
    project: Project,
    catalog: Catalog,
    resolved: ResolvedCell,
    out_dir: Path,
    work: Path,
    runtime: Runtime = "host",
    *,
    reference: PeerStarter | None = None,
) -> CellValidation:
    """Run the recipe's suites against one engine start, or say which runner is needed;
    ``reference`` lets suites start the reference cell's engine beside this one."""
    waiting = awaiting(catalog, resolved, runtime)
    if waiting is not None:
        return dataclasses.replace(waiting, runtime={"kind": runtime})
    cell = resolved.cell
    chip, engine = catalog.chips[cell.chip], catalog.engines[cell.engine]
    base = CellValidation(
        cell=cell.id,
        status="awaiting-runner",
        host=host.describe(),
        runner_labels=tuple(chip.runner_labels),
        started_at=now(),
    )
    suites: list[SuiteResult] = []
    engine_info: dict[str, Any] = {"name": engine.name, "version": engine.version}
    runtime_info: dict[str, Any] = {"kind": runtime}
    cache_dir = out_dir / ".cache"
    try:
        with progress.phase("weights", resolved.variant.quantization):
            weights = serving_weights(project, catalog, resolved, cache_dir, work)
        engine_info |= weights_info(weights)
        engine_run = _engine(project, catalog, resolved, weights, work, cache_dir, runtime_info)
        with engine_run as running:
            engine_info |= {
                "argv": list(running.command.argv),
                "startup_s": round(running.startup_s, 2),
            }
            _run_suites(
                project, catalog, resolved, running, weights, work, cache_dir, suites, reference
            )
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
        finished_at=now(),
        runtime=runtime_info,
    )


def _engine(
    project: Project,
    catalog: Catalog,
    resolved: ResolvedCell,
    weights: variants.Weights,
    work: Path,
    cache_dir: Path,
    runtime: dict[str, Any],
) -> contextlib.AbstractContextManager[RunningEngine]:
    """The cell's engine, started the way ``runtime["kind"]`` says: as a process of this
    host, or as the cell's own image in a container."""
    if runtime["kind"] == "container":
        return engine_in_image(project, catalog, resolved, weights, work, runtime)
    cell = resolved.cell
    chip, engine = catalog.chips[cell.chip], catalog.engines[cell.engine]
    return running_engine(
        engine,
        cell.serve_args,
        model=model_reference(engine, str(weights.dir), weights.file),
        served_model_name=cell.release_name,
        env={**chip.env, **engine.env},
        log_path=work / "engine.log",
        cache_dir=cache_dir,
        startup_timeout_s=catalog.settings.startup_timeout_s,
        record_in=cache_dir.parent,
    )


def serving_weights(
    project: Project, catalog: Catalog, resolved: ResolvedCell, cache_dir: Path, work: Path
) -> variants.Weights:
    """The weights the cell serves, made once per variant (from the cache after that); for
    an engine that cannot load the format itself, the stand-in it serves instead."""
    engine = catalog.engines[resolved.cell.engine]
    weights = variants.prepare(resolved.variant, _workshop(project, catalog, cache_dir, work))
    if weights.file and engine.gguf_load == "dequantize":
        return variants.dequantized(weights)
    return weights


def weights_info(weights: variants.Weights) -> dict[str, Any]:
    """What a cell's results say about the weights it served (size, key, tool, and what the
    engine was given instead of the file, if anything)."""
    summary = weights_summary(weights.record)
    if weights.served_as:
        summary["served_as"] = weights.served_as
    return {"weights_bytes": weights.record["bytes"], "weights": summary}


def peer_starter(
    project: Project,
    catalog: Catalog,
    reference: ResolvedCell,
    out_dir: Path,
    runtime: Runtime = "host",
) -> PeerStarter | None:
    """How a cell's suites may start ``reference``'s engine beside their own, the way the
    cell's runs (its image, or a process): only when its chip and engine are here. Its
    weights come from the variant cache (made once)."""
    if awaiting(catalog, reference, runtime) is not None:
        return None
    cache_dir = out_dir / ".cache"

    @contextlib.contextmanager
    def start(work: Path) -> Iterator[Peer]:
        weights = serving_weights(project, catalog, reference, cache_dir, work)
        ran: dict[str, Any] = {"kind": runtime}
        with _engine(project, catalog, reference, weights, work, cache_dir, ran) as running:
            engine = catalog.engines[reference.cell.engine]
            yield Peer(engine=running, engine_conf=engine, tokenizer_dir=weights.tokenizer_dir)

    return PeerStarter(cell=reference.id, key=reference.keys.validation_key, start=start)


def _run_suites(
    project: Project,
    catalog: Catalog,
    resolved: ResolvedCell,
    running: RunningEngine,
    weights: variants.Weights,
    work: Path,
    cache_dir: Path,
    results: list[SuiteResult],
    reference: PeerStarter | None,
) -> None:
    """Every suite of the recipe in order, into ``results``; the engine must outlive each."""
    cell = resolved.cell
    chip, engine = catalog.chips[cell.chip], catalog.engines[cell.engine]
    spec = resolved.recipe.recipe.validate
    for name in spec.suites:
        suite = catalog.suites[name]
        ctx = SuiteContext(
            engine=running,
            engine_conf=engine,
            suite=suite,
            spec=spec,
            timeout_s=suite.timeout_s,
            request_timeout_s=catalog.settings.request_timeout_s,
            tokenizer_dir=weights.tokenizer_dir,
            work_dir=work / name,
            tasks_dir=project.root / "tasks",
            env=engine_env({**chip.env, **engine.env}, cache_dir),
            identity=identity(catalog, resolved),
            reference=reference,
        )
        with progress.phase(name):
            result = SUITES.get(name).run(ctx)
        _check_declared(result, suite.files, project.conf_dir / "suite" / f"{name}.yaml")
        results.append(result)
        running.check_alive(grace_s=0.0 if result.passed else 2.0)


def _check_declared(result: SuiteResult, files: list[str], conf: Path) -> None:
    """A suite's files are kept and carried between runners by its declaration: a file it
    does not declare would be lost on the way, so it is an error, not a surprise later."""
    undeclared = sorted(set(result.artifacts) - set(files))
    if undeclared:
        msg = (
            f"suite {result.name} wrote {', '.join(undeclared)}, which {conf} does not list "
            "under files"
        )
        raise ConfigError(msg)


def _workshop(project: Project, catalog: Catalog, cache_dir: Path, work: Path) -> variants.Workshop:
    log_path = work / "variant.log"

    def log(line: str) -> None:
        # Quantizer progress goes to the cell's work folder, beside the engine log.
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")
        progress.tick(line)

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
