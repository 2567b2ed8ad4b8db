"""Accuracy tasks bundled with the project (tasks/<dir>/<task>.yaml, lm-eval's task format).

lm-eval resolves a task's ``data_files`` against the working directory, so the bundled YAML
names its data relative to itself and the suite writes a copy whose paths are
absolute (the accuracy suite does, in its work directory). Real runners use lm-eval's own tasks (gsm8k, mmlu, ...) from their cache.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# lm-eval's output types that score by log-likelihood, which needs prompt log-probabilities.
LOGLIKELIHOOD_TYPES = frozenset({"multiple_choice", "loglikelihood", "loglikelihood_rolling"})


@dataclass(frozen=True, kw_only=True)
class BundledTask:
    """A task file shipped in tasks/ and what it needs from an engine."""

    name: str
    path: Path
    output_type: str
    config: dict[str, Any]

    @property
    def needs_logprobs(self) -> bool:
        return self.output_type in LOGLIKELIHOOD_TYPES


def bundled_tasks(tasks_dir: Path) -> dict[str, BundledTask]:
    """Every task YAML under ``tasks_dir`` by its ``task`` name (repo-owned, trusted files)."""
    found: dict[str, BundledTask] = {}
    if not tasks_dir.is_dir():
        return found
    for path in sorted(tasks_dir.rglob("*.yaml")):
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(config, dict) and isinstance(config.get("task"), str):
            found[config["task"]] = BundledTask(
                name=config["task"],
                path=path,
                output_type=str(config.get("output_type", "generate_until")),
                config=config,
            )
    return found


def data_files(task: BundledTask) -> dict[str, Path]:
    """The task's data files, as absolute paths."""
    files = (task.config.get("dataset_kwargs") or {}).get("data_files") or {}
    if isinstance(files, str):
        files = {"test": files}
    return {split: (task.path.parent / str(rel)).resolve() for split, rel in files.items()}


def task_inputs(tasks: list[BundledTask]) -> dict[str, str]:
    """sha256 of every file a task reads (its YAML and its data), for cache keys and provenance."""
    digests = {}
    for task in tasks:
        for path in (task.path, *data_files(task).values()):
            digests[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests
