"""The performance suite: a concurrency sweep against the cell's running server.

Engines with their own benchmark tool (``vllm bench serve``) are measured with it: its numbers
are the ones their users compare. Other engines are measured by this module's client:
streaming completions over httpx + asyncio, one semaphore per sweep point, timing the first
token (TTFT), the gaps between tokens (ITL), the time per output token after the first (TPOT)
and the throughput of the whole point. The exact command or request shape goes into perf.json.

Every request asks for exactly the scenario's output length, the way the engine's catalog
entry says it can (``ignore_eos``, or a generation config with ``min_new_tokens``); what
was generated is recorded beside what was asked, and a point that generated less than half
of it is *not comparable*. Each point is measured in ``trials`` repeated trials. When the
reference cell's engine can run on this host (``ctx.reference``), it is started beside the
cell's and the trials alternate between the two (ABBA ABBA...), so drift of the machine
(another job, thermal throttling) hits both sides alike and neither always goes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import shlex
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from builder.core import perfstats
from builder.core.catalog_model import EngineConf
from builder.core.model import PerfScenario
from builder.core.results import Check, SuiteResult
from builder.effects import proc, progress
from builder.effects.engine_runtime import RunningEngine
from builder.effects.suites import Peer, SuiteContext
from builder.errors import BuilderError

PERCENTILES = perfstats.PERCENTILES
LATENCIES = ("ttft_ms", "tpot_ms", "itl_ms", "e2el_ms")
# Trial figures: one number per trial, summarised by their median (and range) per point.
TRIAL_FIGURES = ("output_throughput", "request_throughput", "total_token_throughput")
# Prompt text: plain words, so every tokenizer makes roughly one token per word. The real
# prompt length is read back from the server's usage and recorded.
WORDS = [
    "the",
    "model",
    "serves",
    "requests",
    "on",
    "many",
    "chips",
    "and",
    "the",
    "release",
    "engineer",
    "checks",
    "each",
    "result",
    "before",
    "it",
    "is",
    "published",
    "with",
    "its",
    "card",
    "weights",
    "image",
    "and",
    "numbers",
]


@dataclass(frozen=True, kw_only=True)
class Target:
    """One server the sweep measures: the cell's, or the reference's beside it."""

    engine: RunningEngine
    engine_conf: EngineConf
    tokenizer: str


def run(ctx: SuiteContext) -> SuiteResult:
    started = time.monotonic()
    spec = ctx.spec.perf
    mine = Target(engine=ctx.engine, engine_conf=ctx.engine_conf, tokenizer=str(ctx.tokenizer_dir))
    with _reference_beside(ctx) as (peer, interleaved):
        targets = [mine] if peer is None else [mine, _target(peer)]
        for target in targets:
            _warm_up(ctx, target)
        points, checks = _sweep(ctx, targets)
    tool = "engine benchmark" if _engine_tool_for(targets) else "builder client"
    document = {
        "tool": tool,
        "hardware": ctx.identity.get("hardware"),
        "trials": spec.trials,
        "interleaved": interleaved,
        "points": points,
    }
    return SuiteResult(
        name=ctx.suite.name,
        checks=tuple(checks),
        duration_s=time.monotonic() - started,
        data=document,
        artifacts={"perf.json": (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()},
    )


def _target(peer: Peer) -> Target:
    return Target(
        engine=peer.engine, engine_conf=peer.engine_conf, tokenizer=str(peer.tokenizer_dir)
    )


@contextlib.contextmanager
def _reference_beside(ctx: SuiteContext) -> Iterator[tuple[Peer | None, dict[str, Any]]]:
    """The reference's engine running beside the cell's, when it can; what was arranged
    goes into perf.json (``interleaved``), including why not."""
    ref = ctx.reference
    if ref is None or not ctx.spec.perf.interleave:
        why = "turned off (validate.perf.interleave)" if ref else "the reference cannot run here"
        yield None, {"with": None, "why_not": why}
        return
    stack = contextlib.ExitStack()
    try:
        peer = stack.enter_context(ref.start(ctx.work_dir / "reference"))
    except BuilderError as exc:
        # A second engine can fail to start where the first fits (memory): the sweep then
        # runs alone, and the gate compares with the reference's own trials.
        yield None, {"with": None, "why_not": f"the reference's engine did not start: {exc}"}
        return
    info: dict[str, Any] = {"with": ref.cell, "key": ref.key, "why_not": None}
    try:
        yield peer, info
    finally:
        try:
            stack.close()
        except BuilderError as exc:
            # The reference's own validation judges its engine; here its trials (which
            # record their failed requests) are what counts.
            info["stopped"] = f"the reference's engine failed: {exc}"


def _warm_up(ctx: SuiteContext, target: Target) -> None:
    """One short request before the first measured trial: the first request of a fresh
    server pays for lazy loading and kernel compilation, which is not its speed."""
    scenario = PerfScenario(input_len=8, output_len=4)
    with contextlib.suppress(httpx.HTTPError, OSError, ValueError):
        asyncio.run(_client_trial(ctx, target, scenario, 1, 1))


def _sweep(ctx: SuiteContext, targets: list[Target]) -> tuple[list[dict[str, Any]], list[Check]]:
    spec = ctx.spec.perf
    points: list[dict[str, Any]] = []
    checks: list[Check] = []
    total = len(spec.scenarios) * len(spec.concurrency)
    for scenario in spec.scenarios:
        for level in spec.concurrency:
            label = f"{scenario.input_len}/{scenario.output_len}@{level}"
            done = len(checks)
            progress.tick(f"point {done + 1}/{total}: {label}", done=done, total=total)
            try:
                point = measure_point(ctx, targets, scenario, level, level * spec.prompts_per_point)
            except (OSError, ValueError, KeyError, httpx.HTTPError) as exc:
                detail = f"{type(exc).__name__}: {exc}"
                checks.append(Check(name=label, passed=False, detail=detail))
                continue
            points.append(point)
            checks.append(_point_check(point))
    return points, checks


def _point_check(point: dict[str, Any]) -> Check:
    label = f"{point['input_len']}/{point['output_len']}@{point['concurrency']}"
    ok = point["failed"] == 0 and point["completed"] > 0
    figures = point["output_throughput_trials"]
    detail = (
        f"{_num(figures['median'], '.1f')} tok/s out (median of {point['trial_count']} trials, "
        f"{_num(figures['min'], '.1f')}-{_num(figures['max'], '.1f')}), "
        f"{point['mean_output_tokens']:g} of {point['output_len']} tokens asked, "
        f"TTFT p50 {_num(point['ttft_ms']['p50'], '.0f')} ms, {point['failed']} failed"
    )
    if not point["comparable"]:
        detail += "; not comparable: under half the asked output length"
    return Check(name=label, passed=ok, detail=detail)


def _num(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def measure_point(
    ctx: SuiteContext,
    targets: list[Target],
    scenario: PerfScenario,
    concurrency: int,
    num_prompts: int,
) -> dict[str, Any]:
    """``trials`` trials of one point; with two targets, alternating cell and reference,
    in the order ABBA ABBA...: interleaved, so drift hits both sides, and each side goes
    first as often as the other, so neither gains from the order."""
    measure = _engine_tool if _engine_tool_for(targets) else _client_point
    runs: list[list[dict[str, Any]]] = [[] for _ in targets]
    label = f"{scenario.input_len}/{scenario.output_len}@{concurrency}"
    trials = ctx.spec.perf.trials
    for trial in range(trials):
        order = list(enumerate(targets))
        for side, target in order if trial % 2 == 0 else order[::-1]:
            tag = f"t{trial}" + ("" if side == 0 else "-ref")
            who = "reference" if side else "cell"
            progress.tick(f"{label}: trial {trial + 1}/{trials} ({who})")
            runs[side].append(measure(ctx, target, scenario, concurrency, num_prompts, tag))
    point = summarise(scenario, concurrency, runs[0])
    if len(targets) > 1:
        point["reference_trials"] = [_trial_figures(t) for t in runs[1]]
        reference = summarise(scenario, concurrency, runs[1])
        point["reference_mean_output_tokens"] = reference["mean_output_tokens"]
        point["reference_comparable"] = reference["comparable"]
    return point


def _engine_tool_for(targets: list[Target]) -> bool:
    """Whether the engine's own tool measures: only when every side has the same one, so
    that one tool measures both sides of a comparison."""
    tools = {tuple(t.engine_conf.benchmark) for t in targets}
    return len(tools) == 1 and bool(next(iter(tools)))


def _trial_figures(trial: dict[str, Any]) -> dict[str, Any]:
    keys = (*TRIAL_FIGURES, "duration_s", "completed", "failed", "mean_output_tokens")
    return {k: trial[k] for k in keys}


def summarise(
    scenario: PerfScenario, concurrency: int, trials: list[dict[str, Any]]
) -> dict[str, Any]:
    """One sweep point from its trials: the median of each trial figure (with its range),
    every trial's figures, and the latencies as the median of the trials' percentiles."""
    done = [t for t in trials if t["completed"]]
    completed = sum(t["completed"] for t in trials)
    out_tokens = sum(t["mean_output_tokens"] * t["completed"] for t in trials)
    in_tokens = sum(t["mean_prompt_tokens"] * t["completed"] for t in trials)
    point: dict[str, Any] = {
        "input_len": scenario.input_len,
        "output_len": scenario.output_len,
        "requested_output_tokens": scenario.output_len,
        "concurrency": concurrency,
        "num_prompts": trials[0]["num_prompts"] if trials else 0,
        "trial_count": len(trials),
        "completed": completed,
        "failed": sum(t["failed"] for t in trials),
        "errors": sorted({e for t in trials for e in t.get("errors", [])})[:5],
        "mean_prompt_tokens": round(in_tokens / completed, 1) if completed else 0,
        "mean_output_tokens": round(out_tokens / completed, 1) if completed else 0,
        "trials": [_trial_figures(t) for t in trials],
        "command": trials[0]["command"] if trials else "",
    }
    for name in TRIAL_FIGURES:
        figures = perfstats.spread([float(t[name]) for t in done])
        point[name] = figures["median"] or 0.0
        point[f"{name}_trials"] = figures
    point["duration_s"] = round(statistics.median(t["duration_s"] for t in trials), 3)
    for name in LATENCIES:
        point[name] = perfstats.median_of([t[name] for t in done])
    point["comparable"] = perfstats.comparable(point)
    return point


# ------------------------------------------------------------------ the builder's own client


@dataclass
class _Request:
    """What one streamed request measured."""

    ok: bool = False
    error: str = ""
    # Text chunks seen: the token count when a server streams no usage (llama-cpp-python).
    chunks: int = 0
    ttft_s: float = 0.0
    latency_s: float = 0.0
    gaps_s: list[float] = field(default_factory=list)
    prompt_tokens: int = 0
    output_tokens: int = 0


def prompts(scenario: PerfScenario, count: int, seed: int = 0) -> list[str]:
    """``count`` different prompts of about ``input_len`` words (seeded: same run, same text)."""
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=scenario.input_len)) for _ in range(count)]


def length_fields(engine: EngineConf, output_len: int) -> dict[str, Any]:
    """Request fields that make ``engine`` generate exactly ``output_len`` tokens, as its
    catalog entry says it can (``exact_length``; ``accepts_ignore_eos`` by default)."""
    how = engine.exact_length or ("ignore_eos" if engine.accepts_ignore_eos else "none")
    if how == "ignore_eos":
        return {"ignore_eos": True}
    if how == "min_tokens":
        return {"min_tokens": output_len}
    if how == "generation_config":
        # transformers serve: a JSON generation config replaces the model's for the request.
        config = {"max_new_tokens": output_len, "min_new_tokens": output_len, "do_sample": False}
        return {"generation_config": json.dumps(config, sort_keys=True)}
    return {}


def _client_point(
    ctx: SuiteContext,
    target: Target,
    scenario: PerfScenario,
    concurrency: int,
    num_prompts: int,
    tag: str,
) -> dict[str, Any]:
    return asyncio.run(_client_trial(ctx, target, scenario, concurrency, num_prompts))


async def _client_trial(
    ctx: SuiteContext, target: Target, scenario: PerfScenario, concurrency: int, num_prompts: int
) -> dict[str, Any]:
    gate = asyncio.Semaphore(concurrency)
    body_extra = length_fields(target.engine_conf, scenario.output_len)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    engine = target.engine
    async with httpx.AsyncClient(
        base_url=engine.base_url, timeout=ctx.request_timeout_s, limits=limits
    ) as client:

        async def one(prompt: str) -> _Request:
            async with gate:
                return await _stream(client, engine.request_model, prompt, scenario, body_extra)

        started = time.perf_counter()
        results = await asyncio.gather(*(one(p) for p in prompts(scenario, num_prompts)))
        duration = time.perf_counter() - started
    return point_stats(scenario, concurrency, list(results), duration, request_extra=body_extra)


async def _stream(
    client: httpx.AsyncClient,
    model: str,
    prompt: str,
    scenario: PerfScenario,
    extra: dict[str, Any],
) -> _Request:
    body = {
        "model": model,
        "prompt": prompt,
        "max_tokens": scenario.output_len,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
        **extra,
    }
    result = _Request()
    started = time.perf_counter()
    last = started
    try:
        async with client.stream("POST", "/v1/completions", json=body) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if not line.startswith("data:") or line.strip() == "data: [DONE]":
                    continue
                chunk = json.loads(line[len("data:") :])
                now = time.perf_counter()
                # The first chunk carries the first token, even when that token prints as
                # nothing (a special token); later chunks with text are the inter-token gaps.
                texts = any(c.get("text") for c in chunk.get("choices") or [])
                result.chunks += int(texts)
                if chunk.get("choices") and result.ttft_s == 0.0:
                    result.ttft_s = now - started
                    last = now
                elif texts:
                    result.gaps_s.append(now - last)
                    last = now
                usage = chunk.get("usage") or {}
                result.prompt_tokens = usage.get("prompt_tokens", result.prompt_tokens)
                result.output_tokens = usage.get("completion_tokens", result.output_tokens)
    except (httpx.HTTPError, json.JSONDecodeError) as exc:
        result.error = f"{type(exc).__name__}: {exc}"
        return result
    result.latency_s = time.perf_counter() - started
    if result.output_tokens == 0:
        # No usage in the stream: one streamed chunk is one token on such servers.
        result.output_tokens = result.chunks
    result.ok = result.output_tokens > 0
    if not result.ok:
        result.error = "the stream carried no tokens"
    return result


def point_stats(
    scenario: PerfScenario,
    concurrency: int,
    results: list[_Request],
    duration_s: float,
    *,
    request_extra: dict[str, Any],
) -> dict[str, Any]:
    """One trial's figures, in the field names ``vllm bench serve`` uses where it has one
    (and computed as it computes them: TPOT per request over its tokens after the first,
    percentiles interpolated as ``np.percentile``)."""
    done = [r for r in results if r.ok]
    output_tokens = sum(r.output_tokens for r in done)
    prompt_tokens = sum(r.prompt_tokens for r in done)
    tpots = [(r.latency_s - r.ttft_s) / (r.output_tokens - 1) for r in done if r.output_tokens > 1]
    return {
        "input_len": scenario.input_len,
        "output_len": scenario.output_len,
        "concurrency": concurrency,
        "num_prompts": len(results),
        "completed": len(done),
        "failed": len(results) - len(done),
        "errors": sorted({r.error for r in results if r.error})[:5],
        "duration_s": round(duration_s, 3),
        "mean_prompt_tokens": round(prompt_tokens / len(done), 1) if done else 0,
        "mean_output_tokens": round(output_tokens / len(done), 1) if done else 0,
        "request_throughput": round(len(done) / duration_s, 4) if duration_s else 0.0,
        "output_throughput": round(output_tokens / duration_s, 3) if duration_s else 0.0,
        "total_token_throughput": (
            round((prompt_tokens + output_tokens) / duration_s, 3) if duration_s else 0.0
        ),
        "ttft_ms": perfstats.latency_summary([r.ttft_s for r in done]),
        "tpot_ms": perfstats.latency_summary(tpots),
        "itl_ms": perfstats.latency_summary([g for r in done for g in r.gaps_s]),
        "e2el_ms": perfstats.latency_summary([r.latency_s for r in done]),
        "command": f"builder client: POST /v1/completions stream=true max_tokens="
        f"{scenario.output_len} {json.dumps(request_extra, sort_keys=True)}",
    }


# ------------------------------------------------------------------ the engine's own tool


def _engine_tool(
    ctx: SuiteContext,
    target: Target,
    scenario: PerfScenario,
    concurrency: int,
    num_prompts: int,
    tag: str,
) -> dict[str, Any]:
    """Run the engine's benchmark (e.g. ``vllm bench serve``) and read its result file."""
    result_dir = ctx.work_dir / "bench"
    result_dir.mkdir(parents=True, exist_ok=True)
    result_file = f"{scenario.input_len}-{scenario.output_len}-c{concurrency}-{tag}.json"
    argv = benchmark_argv(
        target.engine_conf.benchmark,
        base_url=target.engine.base_url,
        model=target.engine.request_model,
        tokenizer=target.tokenizer,
        scenario=scenario,
        concurrency=concurrency,
        num_prompts=num_prompts,
        result_dir=str(result_dir),
        result_file=result_file,
    )
    log_path = result_dir / (result_file + ".log")
    code = proc.run_job(argv, env=ctx.env, log_path=log_path, timeout_s=ctx.timeout_s)
    if code != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-10:])
        msg = f"{argv[0]} exited with code {code}: {tail}"
        raise ValueError(msg)
    return from_vllm_result(
        json.loads((result_dir / result_file).read_text()), scenario, concurrency, argv
    )


def benchmark_argv(
    template: list[str],
    *,
    scenario: PerfScenario,
    concurrency: int,
    num_prompts: int,
    **values: str,
) -> list[str]:
    """The engine's benchmark command line for one point (the catalog's argv template)."""
    filled = {
        **values,
        "input_len": str(scenario.input_len),
        "output_len": str(scenario.output_len),
        "concurrency": str(concurrency),
        "num_prompts": str(num_prompts),
    }
    return [part.format(**filled) for part in template]


def from_vllm_result(
    raw: dict[str, Any], scenario: PerfScenario, concurrency: int, argv: list[str]
) -> dict[str, Any]:
    """``vllm bench serve --save-result`` output in this suite's trial layout. A percentile
    the tool did not report stays missing (None): the median never stands in for p90."""

    def ms(prefix: str) -> dict[str, float | None]:
        out: dict[str, float | None] = {"mean": _maybe(raw.get(f"mean_{prefix}_ms"))}
        for p in PERCENTILES:
            value = raw.get(f"p{p}_{prefix}_ms")
            if value is None and p == 50:
                value = raw.get(f"median_{prefix}_ms")  # the median is p50, and only p50
            out[f"p{p}"] = _maybe(value)
        return out

    completed = int(raw.get("completed", 0))
    return {
        "input_len": scenario.input_len,
        "output_len": scenario.output_len,
        "concurrency": concurrency,
        "num_prompts": int(raw.get("num_prompts", completed)),
        "completed": completed,
        "failed": int(raw.get("num_prompts", completed)) - completed,
        "errors": [],
        "duration_s": float(raw.get("duration", 0.0)),
        "mean_prompt_tokens": round(raw.get("total_input_tokens", 0) / max(completed, 1), 1),
        "mean_output_tokens": round(raw.get("total_output_tokens", 0) / max(completed, 1), 1),
        "request_throughput": float(raw.get("request_throughput", 0.0)),
        "output_throughput": float(raw.get("output_throughput", 0.0)),
        "total_token_throughput": float(raw.get("total_token_throughput", 0.0)),
        "ttft_ms": ms("ttft"),
        "tpot_ms": ms("tpot"),
        "itl_ms": ms("itl"),
        "e2el_ms": ms("e2el"),
        "command": shlex.join(argv),
    }


def _maybe(value: Any) -> float | None:
    return None if value is None else float(value)
