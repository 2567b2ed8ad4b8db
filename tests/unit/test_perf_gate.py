"""The throughput gate: ratios of trial medians with intervals, pass / fail / inconclusive
as the accuracy gate means them, and points that generated too little left out."""

from __future__ import annotations

from typing import Any

import pytest

from builder.core import evaluation, gates, perfstats


def point(
    trials: list[float],
    *,
    concurrency: int = 4,
    output_len: int = 16,
    generated: float = 16.0,
    reference_trials: list[float] | None = None,
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "input_len": 64,
        "output_len": output_len,
        "concurrency": concurrency,
        "mean_output_tokens": generated,
        "output_throughput": sorted(trials)[len(trials) // 2],
        "trials": [{"output_throughput": t, "completed": 8} for t in trials],
    }
    if reference_trials is not None:
        found["reference_trials"] = [
            {"output_throughput": t, "completed": 8, "mean_output_tokens": generated}
            for t in reference_trials
        ]
    return found


def doc(*points: dict[str, Any], hardware: str = "cpu: x") -> dict[str, Any]:
    return {"hardware": hardware, "points": list(points)}


REF = doc(point([100.0, 101.0, 99.0, 100.5, 99.5]))


def gate(cell: dict[str, Any], ref: dict[str, Any] | None = REF) -> gates.PerfGate:
    return gates.perf_gate(cell, ref, min_ratio=0.8, is_reference=False)


def test_a_cell_as_fast_as_its_reference_passes_with_an_interval() -> None:
    found = gate(doc(point([98.0, 100.0, 101.0, 99.0, 100.0])))
    assert found.verdict == "pass"
    worst = found.worst
    assert worst is not None
    assert worst.low <= worst.ratio <= worst.high
    assert worst.low >= 0.8
    data = found.to_json()
    assert data["worst_interval"] == [round(worst.low, 4), round(worst.high, 4)]


def test_a_cell_30_percent_slower_fails_only_when_the_whole_interval_is_below() -> None:
    found = gate(doc(point([70.0, 69.0, 71.0, 70.5, 69.5])))
    assert found.verdict == "fail"
    assert "64/16@4" in found.note
    assert "0.70× [" in found.note


def test_trials_that_jump_straddle_the_line_and_say_how_many_would_decide() -> None:
    found = gate(doc(point([100.0, 50.0, 100.0, 50.0, 100.0, 50.0])))
    assert found.verdict == "inconclusive"
    worst = found.worst
    assert worst is not None
    assert worst.low < 0.8 <= worst.high
    assert "trials would decide" in found.note or "sits on the line" in found.note


def test_interleaved_reference_trials_are_used_and_paired() -> None:
    # The machine slowed down half way: both sides slowed alike, so the pairs agree.
    mine = [100.0, 100.0, 60.0, 60.0]
    theirs = [101.0, 99.0, 61.0, 59.0]
    found = gate(doc(point(mine, reference_trials=theirs)), ref=None)
    assert found.verdict == "pass"
    worst = found.worst
    assert worst is not None
    assert worst.paired
    assert "interleaved" in found.note


def test_points_that_generated_under_half_are_not_compared() -> None:
    short = point([500.0, 510.0, 490.0], concurrency=1, generated=1.0)
    found = gate(
        doc(short, point([100.0, 100.0, 100.0])),
        ref=doc(
            *[
                {**short, "output_throughput": 100.0, "mean_output_tokens": 1.0},
                REF["points"][0],
            ]
        ),
    )
    assert found.not_comparable == ("64/16@1",)
    assert "64/16@1" not in found.points
    assert found.verdict == "pass"
    only_short = gate(doc(short), ref=doc({**short, "mean_output_tokens": 16.0}))
    assert only_short.verdict == "report-only"
    assert "not comparable" in only_short.note


def test_other_hardware_is_report_only_with_the_ratio_still_shown() -> None:
    found = gate(doc(point([70.0, 70.0, 70.0]), hardware="nvidia: y"))
    assert found.verdict == "report-only"
    assert "not comparable" in found.note
    assert found.points


def test_the_interval_is_seeded() -> None:
    one = perfstats.ratio_interval([1.0, 1.2, 0.9], [1.0, 1.1, 1.05], confidence=0.95, paired=True)
    two = perfstats.ratio_interval([1.0, 1.2, 0.9], [1.0, 1.1, 1.05], confidence=0.95, paired=True)
    assert one == two


@pytest.mark.parametrize(
    "values", [[3.0], [1.0, 2.0], [5.0, 1.0, 4.0, 2.0], [0.1 * i for i in range(37)]]
)
def test_percentiles_interpolate_like_numpy_as_vllm_bench_serve_does(values: list[float]) -> None:
    # vllm bench serve reports np.percentile(values, p) (linear interpolation).
    np = pytest.importorskip("numpy")
    for p in (50, 90, 99):
        assert perfstats.percentile(values, p) == pytest.approx(float(np.percentile(values, p)))


def test_nothing_measured_gives_no_percentile_not_zero() -> None:
    assert perfstats.latency_summary([]) == {"mean": None, "p50": None, "p90": None, "p99": None}


def test_tables_show_the_ratio_with_its_interval_never_bare() -> None:
    found = gate(doc(point([98.0, 100.0, 101.0, 99.0, 100.0]))).to_json()
    cell = evaluation.throughput_cell({"perf": found})
    assert cell.startswith("1.00× [")
    assert cell.endswith("✅ pass")
    bare = {"verdict": "pass", "worst_ratio": 0.97, "worst_interval": None}
    assert "0.97" not in evaluation.throughput_cell({"perf": bare})


def test_a_not_comparable_point_gets_no_throughput_in_the_card() -> None:
    short = {
        **point([500.0, 510.0, 490.0], generated=1.0),
        "comparable": False,
        "request_throughput": 30.0,
        "mean_prompt_tokens": 64.0,
        "ttft_ms": {"p50": 1.0, "p99": 2.0},
        "tpot_ms": {"p50": None},
        "itl_ms": {"p50": None},
    }
    validation = {
        "suites": [{"name": "perf", "data": {"points": [short]}}],
        "gates": {"perf": {"not_comparable": ["64/16@4"], "points": {}}},
    }
    (row,) = evaluation.perf_rows(validation, "perf")
    assert row["output_throughput"] == "not comparable"
    assert row["ratio"] == "not comparable"
    assert "500" not in str(row)
    assert row["tokens"] == "64/1 of 16"
