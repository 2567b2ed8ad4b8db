"""The accuracy suite: lm-eval against the cell's own running server, with per-sample logs.

lm-eval runs as a subprocess (``python -m lm_eval``) in its own process group, talking to the
very server a user would deploy through its OpenAI-compatible endpoint: ``local-completions``,
or ``local-chat-completions`` when the recipe asks for the chat template. Its per-sample log
is kept so gates can compare the cell with its reference document by document, and the
result records its provenance so a stored baseline can be checked against the run.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from builder.core.model import AccuracySpec
from builder.core.results import Check, SuiteResult
from builder.core.tasks import BundledTask, bundled_tasks, data_files
from builder.effects import proc, progress
from builder.effects.suites import SuiteContext

SEED = 1234  # lm-eval's --seed: python, numpy, torch and few-shot sampling seeds


def run(ctx: SuiteContext) -> SuiteResult:
    """Run the recipe's tasks; tasks the engine cannot score are reported, not silently dropped."""
    started = time.monotonic()
    spec = ctx.spec.accuracy
    bundled = bundled_tasks(ctx.tasks_dir)
    runnable, skipped = _split_tasks(spec.tasks, bundled, ctx.engine_conf.prompt_logprobs)
    checks = [Check(name=f"{task}", passed=True, detail=f"skipped: {why}") for task, why in skipped]
    if not runnable:
        return SuiteResult(
            name=ctx.suite.name,
            checks=tuple(checks),
            duration_s=time.monotonic() - started,
            error="no task can run on this engine: " + "; ".join(w for _, w in skipped),
        )
    include_dir = ctx.work_dir / "lm-eval-tasks"
    _write_include_dir([bundled[t] for t in runnable if t in bundled], include_dir)
    output_dir = ctx.work_dir / "lm-eval-output"
    argv = lm_eval_argv(ctx, runnable, include_dir, output_dir)
    log_path = ctx.work_dir / "lm-eval.log"
    begun = time.monotonic()
    code = proc.run_job(
        argv,
        env=ctx.env,
        log_path=log_path,
        timeout_s=ctx.timeout_s,
        watch=lambda: progress.tick_from_log(log_path, begun, bar=True),
    )
    log = _tail(log_path)
    if code != 0:
        why = "timed out" if code == 124 else f"exited with code {code}"
        return SuiteResult(
            name=ctx.suite.name,
            checks=tuple(checks),
            duration_s=time.monotonic() - started,
            error=f"lm-eval {why}; last log lines:\n{log}",
            artifacts={"lm-eval.log": log_path.read_bytes()},
        )
    document = read_results(output_dir, runnable, argv, provenance(ctx, spec))
    for task in runnable:
        result = document["tasks"][task]
        detail = f"{result['metric']} = {result['value']:.4f} on {result['n']} samples"
        checks.append(Check(name=task, passed=True, detail=detail))
    return SuiteResult(
        name=ctx.suite.name,
        checks=tuple(checks),
        duration_s=time.monotonic() - started,
        data=summary(document),
        artifacts={
            "accuracy.json": (json.dumps(document, indent=2, sort_keys=True) + "\n").encode(),
            "lm-eval.log": log_path.read_bytes(),
        },
    )


def _split_tasks(
    tasks: list[str], bundled: dict[str, BundledTask], has_logprobs: bool
) -> tuple[list[str], list[tuple[str, str]]]:
    runnable, skipped = [], []
    for task in tasks:
        if task in bundled and bundled[task].needs_logprobs and not has_logprobs:
            why = "a log-likelihood task, and this engine returns no prompt log-probabilities"
            skipped.append((task, why))
        else:
            runnable.append(task)
    return runnable, skipped


def _write_include_dir(tasks: list[BundledTask], dest: Path) -> None:
    """The bundled tasks with absolute data paths (lm-eval reads them relative to its cwd)."""
    dest.mkdir(parents=True, exist_ok=True)
    for task in tasks:
        config = dict(task.config)
        files = data_files(task)
        if files:
            kwargs = dict(config.get("dataset_kwargs") or {})
            kwargs["data_files"] = {split: str(path) for split, path in files.items()}
            config["dataset_kwargs"] = kwargs
        (dest / f"{task.name}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def lm_eval_argv(
    ctx: SuiteContext, tasks: list[str], include_dir: Path, output_dir: Path
) -> list[str]:
    """The exact lm-eval command line (it is recorded with the results)."""
    spec = ctx.spec.accuracy
    chat = spec.apply_chat_template
    endpoint = "/v1/chat/completions" if chat else "/v1/completions"
    # With prompt log-probabilities, send token ids encoded as the model's tokenizer does
    # (special tokens included): lm-eval then scores exactly the continuation's tokens. As
    # text, the server would add a BOS token lm-eval does not count, and every choice's score
    # would carry the prompt's last token too. Engines without them get text prompts.
    tokenized = ctx.engine_conf.prompt_logprobs and not chat
    model_args = {
        "model": ctx.engine.request_model,
        "base_url": ctx.engine.base_url + endpoint,
        "tokenizer": str(ctx.tokenizer_dir),
        "tokenized_requests": str(tokenized),
        "add_bos_token": str(tokenized),
        "num_concurrent": "1",
        "max_retries": "3",
        "timeout": str(int(ctx.request_timeout_s)),
    }
    argv = [
        sys.executable,
        "-m",
        "lm_eval",
        "--model",
        "local-chat-completions" if chat else "local-completions",
        "--model_args",
        ",".join(f"{k}={v}" for k, v in model_args.items()),
        "--tasks",
        ",".join(tasks),
        "--include_path",
        str(include_dir),
        "--output_path",
        str(output_dir),
        "--log_samples",
        "--seed",
        str(SEED),
    ]
    if spec.limit is not None:
        argv += ["--limit", str(spec.limit)]
    if spec.num_fewshot is not None:
        argv += ["--num_fewshot", str(spec.num_fewshot)]
    if chat:
        argv += ["--apply_chat_template"]
    if spec.gen_kwargs:
        argv += ["--gen_kwargs", ",".join(f"{k}={v}" for k, v in spec.gen_kwargs.items())]
    return argv


def provenance(ctx: SuiteContext, spec: AccuracySpec) -> dict[str, Any]:
    """Who measured, on what setup: a stored baseline must match this to be compared."""
    return {
        **ctx.identity,
        "limit": spec.limit,
        "num_fewshot": spec.num_fewshot,
        "apply_chat_template": spec.apply_chat_template,
        "gen_kwargs": dict(spec.gen_kwargs),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def read_results(
    output_dir: Path, tasks: list[str], argv: list[str], run_provenance: dict[str, Any]
) -> dict[str, Any]:
    """lm-eval's results and per-sample logs as one accuracy document."""
    results_file = max(output_dir.rglob("results_*.json"), key=lambda p: p.stat().st_mtime)
    results = json.loads(results_file.read_text(encoding="utf-8"))
    document: dict[str, Any] = {
        "provenance": {
            **run_provenance,
            "lm_eval_version": results.get("lm_eval_version"),
            "task_hashes": {t: results.get("task_hashes", {}).get(t) for t in tasks},
        },
        "command": argv,
        "tasks": {},
    }
    for task in tasks:
        scores = results["results"][task]
        metric, filter_name = _primary_metric(scores)
        samples_file = max(
            results_file.parent.glob(f"samples_{task}_*.jsonl"), key=lambda p: p.stat().st_mtime
        )
        document["tasks"][task] = {
            "metric": metric,
            "filter": filter_name,
            "value": float(scores[f"{metric},{filter_name}"]),
            "stderr": _number(scores.get(f"{metric}_stderr,{filter_name}")),
            "n": int(results["n-samples"][task]["effective"]),
            "samples": _sample_scores(samples_file, metric, filter_name),
        }
    return document


def _primary_metric(scores: dict[str, Any]) -> tuple[str, str]:
    """The first metric lm-eval reports for the task (the one its YAML lists first)."""
    for key in scores:
        if "," in key and "_stderr," not in key:
            metric, filter_name = key.split(",", 1)
            return metric, filter_name
    msg = f"lm-eval reported no metric: {sorted(scores)}"
    raise ValueError(msg)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _sample_scores(path: Path, metric: str, filter_name: str) -> dict[str, float]:
    """Per-document scores, keyed by lm-eval's hash of the document (stable across runs)."""
    scores = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        sample = json.loads(line)
        if sample.get("filter", filter_name) == filter_name and metric in sample:
            scores[sample["doc_hash"]] = float(sample[metric])
    return scores


def summary(document: dict[str, Any]) -> dict[str, Any]:
    """The accuracy document without per-sample scores, for validation.json."""
    return {
        "provenance": document["provenance"],
        "tasks": {
            task: {k: v for k, v in result.items() if k != "samples"}
            for task, result in document["tasks"].items()
        },
    }


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
