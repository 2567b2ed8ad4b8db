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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from builder.core.keys import ResolvedCell
from builder.core.log import Log
from builder.core.results import CellValidation
from builder.effects import fs, proc
from builder.errors import EngineError
from builder.run import pipeline
from builder.run.cells import Outcome, Stage
from builder.run.launchers import Launcher, launcher
from builder.session import Session

# A launcher job may run for as long as its cell's validation takes; the launcher's own
# time limit (e.g. hydra.launcher.timeout_min) is the one that applies.
JOB_TIMEOUT_S = 7 * 24 * 3600.0


def run(session: Session, stage: Stage, name: str, *, log: Log) -> list[Outcome]:
    """Validate the session's cells as launcher jobs and collect them into out/: the
    pipeline's steps, with the jobs in place of ``judge``."""
    jobs = Jobs(launcher=launcher(name), name=name)
    steps: list[pipeline.Step] = [
        jobs.start,
        pipeline.merge,
        pipeline.tables,
        pipeline.write,
        jobs.failures,
    ]
    if stage == "release":
        steps.append(pipeline.write_index)
    steps.append(jobs.clean)
    state = pipeline.Run(session=session, stage=stage, log=log, cells=session.resolved())
    outcomes = pipeline.execute(state, steps)
    return sorted(outcomes, key=lambda o: o.cell.id)


@dataclass(kw_only=True)
class Jobs:
    """The launcher jobs of one run: started as the run's first step, their folders merged
    by the pipeline's own steps, their failures added, their folder removed when all ran."""

    launcher: Launcher
    name: str
    jobs_dir: Path = Path()
    missing: list[ResolvedCell] = field(default_factory=list)

    def start(self, run: pipeline.Run) -> None:
        session = run.session
        run_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{os.getpid()}"
        self.jobs_dir = session.out_dir / ".jobs" / run_id
        spec_path = self.jobs_dir / "spec.json"
        fs.write_atomic(spec_path, json.dumps(job_spec(session, self.jobs_dir), indent=2).encode())
        cells = run.cells
        hydra_name = self.launcher.HYDRA_NAME
        run.log(
            f"launching {len(cells)} job(s) with hydra/launcher={hydra_name} in {self.jobs_dir}"
        )
        argv = [
            sys.executable,
            "-m",
            "builder.run.launch",
            "--multirun",
            f"spec={_quote(str(spec_path))}",
            f"cell=range(0,{len(cells)})",
            f"hydra/launcher={hydra_name}",
            f"hydra.sweep.dir={_quote(str(self.jobs_dir / 'hydra'))}",
        ]
        done = proc.run(argv, timeout=JOB_TIMEOUT_S, cwd=session.project.root)
        if done.returncode != 0:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
            msg = f"hydra/launcher={hydra_name} failed (exit {done.returncode}):\n{tail}"
            raise EngineError(msg)
        ran = [c for c in cells if (self._folder(c) / "manifest.json").is_file()]
        self.missing = [c for c in cells if c not in ran]
        # Jobs ran side by side: the merge gates each cell against its reference, now in out/.
        run.folders = [self.jobs_dir / c.id for c in ran]

    def _folder(self, resolved: ResolvedCell) -> Path:
        return self.jobs_dir / resolved.id / resolved.cell.recipe / resolved.id

    def failures(self, run: pipeline.Run) -> None:
        run.outcomes += [_job_failure(c, self.jobs_dir) for c in self.missing]

    def clean(self, run: pipeline.Run) -> None:
        if not self.missing:
            shutil.rmtree(self.jobs_dir, ignore_errors=True)


def job_spec(session: Session, jobs_dir: Path) -> dict[str, Any]:
    """What each job needs: the project, where to write, and its cell."""
    project = session.project
    return {
        "root": str(project.root),
        "jobs_dir": str(jobs_dir),
        "jobs_out": jobs_dir.relative_to(project.root.resolve()).as_posix(),
        "model_cache": str(session.out_dir / ".cache"),
        "catalog_overrides": list(session.catalog_overrides),
        "runtime": session.runtime,
        "cells": [
            {
                "id": c.id,
                "recipe": c.recipe,
                "chip": c.chip,
                "q": c.quantization,
                "engine": c.engine,
            }
            for c in session.plan.cells
        ],
    }


def _quote(value: str) -> str:
    """A Hydra override value in single quotes (so paths with any characters survive)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _job_failure(resolved: ResolvedCell, jobs_dir: Path) -> Outcome:
    """A cell whose job left no output: failed, with the end of the job's stderr."""
    try:
        report = json.loads((jobs_dir / resolved.id / "job.json").read_text(encoding="utf-8"))
        reason = f"launcher job exited {report['returncode']}: {report['stderr_tail']}"
    except (OSError, ValueError, KeyError):
        reason = "launcher job left no result"
    validation = CellValidation(cell=resolved.id, status="failed", reason=reason)
    return Outcome(cell=resolved, validation=validation)


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
    # The child follows no link under its out/ but those into trusted folders
    # (builder.effects.fs); this job process's environment is the child's alone.
    trusted = [p for p in os.environ.get(fs.TRUSTED_LINKS_ENV, "").split(os.pathsep) if p]
    os.environ[fs.TRUSTED_LINKS_ENV] = os.pathsep.join([*trusted, spec["model_cache"]])
    argv = [
        sys.executable,
        "-m",
        "builder",
        "validate",
        "--root",
        spec["root"],
        "--runtime",
        spec.get("runtime", "host"),
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
