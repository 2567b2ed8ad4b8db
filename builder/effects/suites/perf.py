"""The performance suite: a concurrency sweep against the cell's running server.

Engines with their own benchmark tool (``vllm bench serve``) are measured with it: its numbers
are the ones their users compare. Other engines are measured by this module's client:
streaming completions over httpx + asyncio, one semaphore per sweep point, timing the first
token (TTFT), the gaps between tokens (ITL), the time per output token after the first (TPOT)
and the throughput of the whole point. The exact command or request shape goes into perf.json.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import shlex
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from builder.core.model import PerfScenario
from builder.core.results import Check, SuiteResult
from builder.effects import proc
from builder.effects.suites import SuiteContext

PERCENTILES = (50, 90, 99)
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


def run(ctx: SuiteContext) -> SuiteResult:
    started = time.monotonic()
    spec = ctx.spec.perf
    points: list[dict[str, Any]] = []
    checks: list[Check] = []
    tool = "engine benchmark" if ctx.engine_conf.benchmark else "builder client"
    for scenario in spec.scenarios:
        for level in spec.concurrency:
            num_prompts = level * spec.prompts_per_point
            try:
                point = measure_point(ctx, scenario, level, num_prompts)
            except (OSError, ValueError, KeyError, httpx.HTTPError) as exc:
                label = f"{scenario.input_len}/{scenario.output_len}@{level}"
                checks.append(
                    Check(name=label, passed=False, detail=f"{type(exc).__name__}: {exc}")
                )
                continue
            points.append(point)
            checks.append(_point_check(point))
    document = {
        "tool": tool,
        "hardware": ctx.identity.get("hardware"),
        "points": points,
    }
    return SuiteResult(
        name=ctx.suite.name,
        checks=tuple(checks),
        duration_s=time.monotonic() - started,
        data={"tool": tool, "hardware": document["hardware"], "points": points},
        artifacts={"perf.json": (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()},
    )


def _point_check(point: dict[str, Any]) -> Check:
    label = f"{point['input_len']}/{point['output_len']}@{point['concurrency']}"
    ok = point["failed"] == 0 and point["completed"] > 0
    detail = (
        f"{point['output_throughput']:.1f} tok/s out, {point['request_throughput']:.2f} req/s, "
        f"TTFT p50 {point['ttft_ms']['p50']:.0f} ms, {point['failed']} failed"
    )
    return Check(name=label, passed=ok, detail=detail)


def measure_point(
    ctx: SuiteContext, scenario: PerfScenario, concurrency: int, num_prompts: int
) -> dict[str, Any]:
    if ctx.engine_conf.benchmark:
        return _engine_tool(ctx, scenario, concurrency, num_prompts)
    return asyncio.run(_sweep_point(ctx, scenario, concurrency, num_prompts))


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


async def _sweep_point(
    ctx: SuiteContext, scenario: PerfScenario, concurrency: int, num_prompts: int
) -> dict[str, Any]:
    gate = asyncio.Semaphore(concurrency)
    body_extra = {"ignore_eos": True} if ctx.engine_conf.accepts_ignore_eos else {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=ctx.engine.base_url, timeout=ctx.request_timeout_s, limits=limits
    ) as client:

        async def one(prompt: str) -> _Request:
            async with gate:
                return await _stream(client, ctx.engine.request_model, prompt, scenario, body_extra)

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


def _percentiles(values: list[float]) -> dict[str, float]:
    """Mean and percentiles in milliseconds (zeros when nothing was measured)."""
    if not values:
        return {"mean": 0.0, **{f"p{p}": 0.0 for p in PERCENTILES}}
    ordered = sorted(values)
    out = {"mean": statistics.fmean(ordered) * 1000}
    for p in PERCENTILES:
        index = min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))  # nearest rank
        out[f"p{p}"] = ordered[index] * 1000
    return {k: round(v, 3) for k, v in out.items()}


def point_stats(
    scenario: PerfScenario,
    concurrency: int,
    results: list[_Request],
    duration_s: float,
    *,
    request_extra: dict[str, Any],
) -> dict[str, Any]:
    """One sweep point's figures, in the field names ``vllm bench serve`` uses where it has one."""
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
        "ttft_ms": _percentiles([r.ttft_s for r in done]),
        "tpot_ms": _percentiles(tpots),
        "itl_ms": _percentiles([g for r in done for g in r.gaps_s]),
        "e2el_ms": _percentiles([r.latency_s for r in done]),
        "command": f"builder client: POST /v1/completions stream=true max_tokens="
        f"{scenario.output_len} {json.dumps(request_extra, sort_keys=True)}",
    }


# ------------------------------------------------------------------ the engine's own tool


def _engine_tool(
    ctx: SuiteContext, scenario: PerfScenario, concurrency: int, num_prompts: int
) -> dict[str, Any]:
    """Run the engine's benchmark (e.g. ``vllm bench serve``) and read its result file."""
    result_dir = ctx.work_dir / "bench"
    result_dir.mkdir(parents=True, exist_ok=True)
    result_file = f"{scenario.input_len}-{scenario.output_len}-c{concurrency}.json"
    values = {
        "base_url": ctx.engine.base_url,
        "model": ctx.engine.request_model,
        "tokenizer": str(ctx.tokenizer_dir),
        "input_len": str(scenario.input_len),
        "output_len": str(scenario.output_len),
        "concurrency": str(concurrency),
        "num_prompts": str(num_prompts),
        "result_dir": str(result_dir),
        "result_file": result_file,
    }
    argv = [part.format(**values) for part in ctx.engine_conf.benchmark]
    log_path = result_dir / (result_file + ".log")
    code = proc.run_job(argv, env=ctx.env, log_path=log_path, timeout_s=ctx.timeout_s)
    if code != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-10:])
        msg = f"{argv[0]} exited with code {code}: {tail}"
        raise ValueError(msg)
    return from_vllm_result(
        json.loads((result_dir / result_file).read_text()), scenario, concurrency, argv
    )


def from_vllm_result(
    raw: dict[str, Any], scenario: PerfScenario, concurrency: int, argv: list[str]
) -> dict[str, Any]:
    """``vllm bench serve --save-result`` output in this suite's point layout."""

    def ms(prefix: str) -> dict[str, float]:
        out = {"mean": float(raw.get(f"mean_{prefix}_ms", 0.0))}
        for p in PERCENTILES:
            out[f"p{p}"] = float(raw.get(f"p{p}_{prefix}_ms", raw.get(f"median_{prefix}_ms", 0.0)))
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
