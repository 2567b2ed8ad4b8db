"""Validate many cells through a Hydra launcher: one launcher job per cell.

``builder validate|release --launcher NAME`` writes a job spec, then runs this module as a
Hydra application in multirun mode::

    python -m builder.run.launch --multirun spec=... cell='range(0,N)' hydra/launcher=NAME

so Hydra's own launcher plugins (``joblib`` for local parallelism, ``submitit_slurm`` for a
SLURM cluster, ``submitit_local`` to try that here, ``ray`` where installed) place the jobs.
Each job runs ``builder validate`` for its one cell in a fresh process, into its own folder
``out/.jobs/<run>/<cell-id>/`` with its own lock, so jobs never wait on the parent's
``out/.lock``; they share the build cache and the model cache. When all jobs are done the
parent, which holds ``out/.lock`` throughout, merges the cell folders into out/ exactly as
``builder assemble`` does and, for ``release``, writes the index and the README table.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from builder.core.results import CellValidation
from builder.effects import fs, proc
from builder.errors import EngineError
from builder.run.pipeline import Outcome, regate, write_release_index

if TYPE_CHECKING:
    from builder.cli import Loaded

Log = Callable[[str], None]

# A launcher job may run for as long as its cell's validation takes; the launcher's own
# time limit (e.g. hydra.launcher.timeout_min) is the one that applies.
JOB_TIMEOUT_S = 7 * 24 * 3600.0


def run(
    loaded: Loaded, stage: str, launcher: str, overrides: Sequence[str], *, log: Log
) -> list[Outcome]:
    """Validate the cells of ``loaded.plan`` as launcher jobs and collect them into out/."""
    from builder.cli import split_overrides
    from builder.run import scaleout

    project, catalog = loaded.project, loaded.catalog
    out_dir = project.out_dir(catalog.settings)
    cells = loaded.plan.cells
    with fs.exclusive_lock(out_dir):
        fs.recover(out_dir)
        run_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{os.getpid()}"
        jobs_dir = out_dir / ".jobs" / run_id
        spec = {
            "root": str(project.root),
            "jobs_dir": str(jobs_dir),
            "jobs_out": jobs_dir.relative_to(project.root.resolve()).as_posix(),
            "model_cache": str(out_dir / ".cache"),
            "catalog_overrides": split_overrides(overrides)[1],
            "cells": [
                {
                    "id": c.id,
                    "recipe": c.recipe,
                    "chip": c.chip,
                    "q": c.quantization,
                    "engine": c.engine,
                }
                for c in cells
            ],
        }
        spec_path = jobs_dir / "spec.json"
        fs.write_atomic(spec_path, json.dumps(spec, indent=2).encode())
        log(f"launching {len(cells)} job(s) with hydra/launcher={launcher} in {jobs_dir}")
        argv = [
            sys.executable,
            "-m",
            "builder.run.launch",
            "--multirun",
            f"spec={_quote(str(spec_path))}",
            f"cell=range(0,{len(cells)})",
            f"hydra/launcher={launcher}",
            f"hydra.sweep.dir={_quote(str(jobs_dir / 'hydra'))}",
        ]
        done = proc.run(argv, timeout=JOB_TIMEOUT_S, cwd=project.root)
        if done.returncode != 0:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
            msg = f"hydra/launcher={launcher} failed (exit {done.returncode}):\n{tail}"
            raise EngineError(msg)
        found = {
            c.id: jobs_dir / c.id / c.recipe / c.id
            for c in cells
            if (jobs_dir / c.id / c.recipe / c.id / "manifest.json").is_file()
        }
        outcomes = scaleout.merge(loaded.full_plan, found, out_dir, log=log)
        # Jobs ran side by side: gate each cell now that its reference's results are in out/.
        outcomes = regate(project, catalog, loaded.full_plan, outcomes, out_dir)
        outcomes += [_job_failure(c, jobs_dir) for c in cells if c.id not in found]
        if stage == "release":
            write_release_index(project, catalog, loaded.full_plan, outcomes, out_dir)
        if len(found) == len(cells):
            shutil.rmtree(jobs_dir, ignore_errors=True)
    return sorted(outcomes, key=lambda o: o.cell.id)


def _quote(value: str) -> str:
    """A Hydra override value in single quotes (so paths with any characters survive)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _job_failure(cell: Any, jobs_dir: Path) -> Outcome:
    """A cell whose job left no output: failed, with the end of the job's stderr."""
    try:
        report = json.loads((jobs_dir / cell.id / "job.json").read_text(encoding="utf-8"))
        reason = f"launcher job exited {report['returncode']}: {report['stderr_tail']}"
    except (OSError, ValueError, KeyError):
        reason = "launcher job left no result"
    validation = CellValidation(cell=cell.id, status="failed", reason=reason)
    return Outcome(cell=cell, validation=validation)


# ------------------------------------------------------------------ the Hydra application


@dataclass
class JobConf:
    """One launcher job: which spec, and which cell of it."""

    spec: str = "???"
    cell: int = -1


def job(cfg: Any) -> int:
    """Run ``builder validate`` for one cell into its own folder; never raises, so one bad
    cell does not stop the other jobs of the sweep."""
    spec = json.loads(Path(cfg.spec).read_text(encoding="utf-8"))
    cell = spec["cells"][int(cfg.cell)]
    job_out = Path(spec["jobs_dir"]) / cell["id"]
    job_out.mkdir(parents=True, exist_ok=True)
    # The engine's model cache lives in <out>/.cache: share the parent's, do not regenerate.
    cache_link = job_out / ".cache"
    if not cache_link.exists():
        cache_link.symlink_to(spec["model_cache"], target_is_directory=True)
    argv = [
        sys.executable,
        "-m",
        "builder",
        "validate",
        "--root",
        spec["root"],
        *spec["catalog_overrides"],
        f"recipe={cell['recipe']}",
        f"chip={cell['chip']}",
        f"quantization={cell['q']}",
        f"engine={cell['engine']}",
        f"settings.out_dir={spec['jobs_out']}/{cell['id']}",
    ]
    done = proc.run(argv, timeout=JOB_TIMEOUT_S)
    report = {
        "cell": cell["id"],
        "returncode": done.returncode,
        "stdout_tail": done.stdout[-4000:],
        "stderr_tail": done.stderr[-4000:],
    }
    fs.write_atomic(job_out / "job.json", json.dumps(report, indent=2).encode())
    return done.returncode


def main() -> None:
    import hydra
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="builder_launch", node=JobConf)
    app = hydra.main(version_base="1.3", config_path=None, config_name="builder_launch")(job)
    app()


if __name__ == "__main__":
    main()
