"""The perf suite's arithmetic: percentiles, per-point figures, and vLLM's result layout."""

from __future__ import annotations

import json

import pytest

from builder.core.catalog_model import EngineConf
from builder.core.model import PerfScenario
from builder.effects.suites.perf import (
    _Request,
    from_vllm_result,
    length_fields,
    point_stats,
    prompts,
    summarise,
)

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
    # Interpolated between the two requests, as np.percentile (and vllm bench serve) does.
    assert point["ttft_ms"]["p50"] == pytest.approx(150.0)
    assert point["ttft_ms"]["p99"] == pytest.approx(199.0)
    assert point["tpot_ms"]["mean"] == pytest.approx(100.0)  # (latency - ttft) / (tokens - 1)
    assert point["itl_ms"]["p50"] == pytest.approx(100.0)


def test_nothing_completed_gives_zeros_not_a_crash() -> None:
    point = point_stats(SHAPE, 1, [_Request(error="boom")], 0.5, request_extra={})
    assert point["completed"] == 0
    assert point["output_throughput"] == 0.0
    assert point["ttft_ms"] == {"mean": None, "p50": None, "p90": None, "p99": None}


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


def test_a_percentile_vllm_did_not_report_stays_missing() -> None:
    raw = {"completed": 4, "num_prompts": 4, "mean_tpot_ms": 9.0, "median_tpot_ms": 8.0}
    point = from_vllm_result(raw, SHAPE, 1, ["vllm"])
    # The median is p50 and nothing else: p90 and p99 are never filled in from it.
    assert point["tpot_ms"] == {"mean": 9.0, "p50": 8.0, "p90": None, "p99": None}


def test_a_point_is_the_median_of_its_trials_with_their_range() -> None:
    trials = []
    for seconds in (1.0, 2.0, 1.25):
        done = [request(0.1, 0.4, 4), request(0.2, 0.5, 4)]
        trials.append(point_stats(SHAPE, 2, done, seconds, request_extra={}))
    point = summarise(SHAPE, 2, trials)
    assert point["trial_count"] == 3
    assert point["output_throughput"] == 6.4  # 8 tokens in 1.25 s: the median trial
    assert point["output_throughput_trials"] == {"median": 6.4, "min": 4.0, "max": 8.0}
    assert [t["output_throughput"] for t in point["trials"]] == [8.0, 4.0, 6.4]
    assert point["mean_output_tokens"] == 4.0
    assert point["requested_output_tokens"] == 4
    assert point["comparable"] is True


def test_early_stops_make_a_point_not_comparable() -> None:
    short = [request(0.1, 0.2, 1), request(0.1, 0.2, 1)]
    point = summarise(SHAPE, 2, [point_stats(SHAPE, 2, short, 1.0, request_extra={})] * 3)
    assert point["mean_output_tokens"] == 1.0
    assert point["comparable"] is False


def test_engines_are_asked_for_the_exact_length_their_own_way() -> None:
    def engine(**fields: object) -> EngineConf:
        return EngineConf(
            name="e", display_name="E", package="e", version="1", serve=["e"], **fields
        )  # type: ignore[arg-type]

    assert length_fields(engine(), 32) == {"ignore_eos": True}
    assert length_fields(engine(accepts_ignore_eos=False), 32) == {}
    assert length_fields(engine(exact_length="min_tokens"), 32) == {"min_tokens": 32}
    config = length_fields(engine(exact_length="generation_config"), 32)["generation_config"]
    assert json.loads(config) == {"do_sample": False, "max_new_tokens": 32, "min_new_tokens": 32}
