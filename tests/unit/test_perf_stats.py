"""The perf suite's arithmetic: percentiles, per-point figures, and vLLM's result layout."""

from __future__ import annotations

import pytest

from builder.core.model import PerfScenario
from builder.effects.suites.perf import _Request, from_vllm_result, point_stats, prompts

SHAPE = PerfScenario(input_len=8, output_len=4)


def request(ttft: float, latency: float, tokens: int) -> _Request:
    gaps = [(latency - ttft) / (tokens - 1)] * (tokens - 1) if tokens > 1 else []
    return _Request(
        ok=True, ttft_s=ttft, latency_s=latency, gaps_s=gaps, prompt_tokens=8, output_tokens=tokens
    )


def test_point_figures_from_measured_requests() -> None:
    done = [request(0.1, 0.4, 4), request(0.2, 0.5, 4)]
    failed = _Request(error="ReadTimeout: x")
    point = point_stats(SHAPE, 2, [*done, failed], 1.0, request_extra={})
    assert (point["completed"], point["failed"], point["errors"]) == (2, 1, ["ReadTimeout: x"])
    assert point["output_throughput"] == 8.0
    assert point["request_throughput"] == 2.0
    assert point["total_token_throughput"] == 24.0
    assert point["ttft_ms"]["p50"] == pytest.approx(100.0)
    assert point["ttft_ms"]["p99"] == pytest.approx(200.0)
    assert point["tpot_ms"]["mean"] == pytest.approx(100.0)  # (latency - ttft) / (tokens - 1)
    assert point["itl_ms"]["p50"] == pytest.approx(100.0)


def test_nothing_completed_gives_zeros_not_a_crash() -> None:
    point = point_stats(SHAPE, 1, [_Request(error="boom")], 0.5, request_extra={})
    assert point["completed"] == 0
    assert point["output_throughput"] == 0.0
    assert point["ttft_ms"] == {"mean": 0.0, "p50": 0.0, "p90": 0.0, "p99": 0.0}


def test_prompts_are_seeded() -> None:
    assert prompts(SHAPE, 3) == prompts(SHAPE, 3)
    assert len(set(prompts(SHAPE, 3))) == 3
    assert all(len(p.split()) == 8 for p in prompts(SHAPE, 3))


def test_vllm_bench_result_maps_to_a_point() -> None:
    raw = {
        "num_prompts": 8,
        "completed": 8,
        "duration": 2.0,
        "total_input_tokens": 256,
        "total_output_tokens": 128,
        "request_throughput": 4.0,
        "output_throughput": 64.0,
        "total_token_throughput": 192.0,
        "mean_ttft_ms": 19.0,
        "p50_ttft_ms": 18.0,
        "p90_ttft_ms": 25.0,
        "p99_ttft_ms": 30.0,
    }
    point = from_vllm_result(raw, SHAPE, 2, ["vllm", "bench", "serve"])
    assert point["output_throughput"] == 64.0
    assert point["mean_output_tokens"] == 16.0
    assert point["ttft_ms"] == {"mean": 19.0, "p50": 18.0, "p90": 25.0, "p99": 30.0}
    assert point["command"] == "vllm bench serve"
