"""Validation results as display rows: the card's tables, the README columns, the report.

Pure functions from a cell's validation.json data to strings, so the card, the README and the
release report say the same thing in the same words.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from builder.core import gates

VERDICT_TEXT = {
    "pass": "✅ pass",
    "fail": "❌ fail",
    "inconclusive": "❔ inconclusive",
    "refused": "⛔ refused",
    "pending": "⏳ pending",
    "reference": "reference",
    "report-only": "report only",
}


def _pct(value: float | None, *, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value * 100:+.1f}%" if signed else f"{value * 100:.1f}%"


def signed_pct(value: float | None) -> str:
    """A relative change as text: -3.0%, +0.5%, or — when there is none."""
    return _pct(value, signed=True)


def accuracy_rows(validation: Mapping[str, Any] | None) -> list[dict[str, str]]:
    """One row per task: metric, reference, this cell, Δ, interval, n and verdict."""
    rows = []
    for gate in (validation or {}).get("gates", {}).get("accuracy", []):
        interval = gate.get("interval")
        rows.append(
            {
                "task": gate["task"],
                "metric": gate["metric"],
                "reference": _pct(gate["reference"]),
                "value": _pct(gate["value"]),
                "delta": _pct(gate["delta"], signed=True),
                "interval": (
                    f"[{interval[0] * 100:+.1f}, {interval[1] * 100:+.1f}] pts" if interval else "—"
                ),
                "n": str(gate["n"]),
                "verdict": VERDICT_TEXT.get(gate["verdict"], gate["verdict"]),
                "note": gate.get("note", ""),
            }
        )
    return rows


def perf_rows(validation: Mapping[str, Any] | None, suite_name: str | None) -> list[dict[str, str]]:
    """One row per sweep point of suite ``suite_name`` (the one the perf gate judges): the
    median of its trials with their range, and the ratio to the reference with its interval
    where it was compared. A point that generated under half the asked length shows no
    throughput: it is *not comparable*."""
    suites = (validation or {}).get("suites", [])
    suite = next((s for s in suites if s["name"] == suite_name), None)
    if suite is None:
        return []
    gate = (validation or {}).get("gates", {}).get("perf", {})
    rows = []
    for point in suite.get("data", {}).get("points", []):
        key = f"{point['input_len']}/{point['output_len']}@{point['concurrency']}"
        fits = point.get("comparable", True)
        rows.append(
            {
                "shape": f"{point['input_len']}/{point['output_len']}",
                "concurrency": str(point["concurrency"]),
                "output_throughput": median_spread(point) if fits else NOT_COMPARABLE,
                "request_throughput": _fixed(point.get("request_throughput"), ".2f")
                if fits
                else "—",
                "ttft_p50": _fixed(point["ttft_ms"].get("p50"), ".1f"),
                "ttft_p99": _fixed(point["ttft_ms"].get("p99"), ".1f"),
                "tpot_p50": _fixed(point["tpot_ms"].get("p50"), ".1f"),
                "itl_p50": _fixed(point["itl_ms"].get("p50"), ".1f"),
                "tokens": (
                    f"{point['mean_prompt_tokens']:g}/{point['mean_output_tokens']:g} "
                    f"of {point['output_len']}"
                ),
                "trials": str(point.get("trial_count", 1)),
                "ratio": _point_ratio(gate, key),
            }
        )
    return rows


NOT_COMPARABLE = "not comparable"


def perf_note(validation: Mapping[str, Any] | None) -> str:
    """The throughput gate's verdict and note, for the card ("" when it was not gated)."""
    gate = (validation or {}).get("gates", {}).get("perf") or {}
    if not gate or gate.get("verdict") == "reference":
        return ""
    verdict = VERDICT_TEXT.get(gate["verdict"], gate["verdict"])
    return f"{verdict}; {gate['note']}" if gate.get("note") else verdict


def _fixed(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def median_spread(point: Mapping[str, Any]) -> str:
    """A point's output throughput: the median of its trials and their range."""
    figures = point.get("output_throughput_trials") or {}
    if figures.get("median") is None:
        return f"{point['output_throughput']:.1f} (1 trial)"
    return f"{figures['median']:.1f} ({figures['min']:.1f}–{figures['max']:.1f})"


def _point_ratio(gate: Mapping[str, Any], key: str) -> str:
    if key in (gate.get("not_comparable") or []):
        return NOT_COMPARABLE
    found = (gate.get("points") or {}).get(key)
    if not found:
        return "—"
    low, high = found["interval"]
    return ratio_text(found["ratio"], low, high)


def ratio_text(ratio: float, low: float | None, high: float | None) -> str:
    """A throughput ratio with its interval: ``0.97× [0.91, 1.03]``, never a bare ratio."""
    if low is None or high is None:
        return "—"
    return gates.ratio_text(ratio, low, high)


def accuracy_cell(gates: Mapping[str, Any]) -> str:
    """The README's accuracy column: the worst task's Δ and verdict, or what the cell is."""
    found = gates.get("accuracy") or []
    if not found:
        return "—"
    if all(g["verdict"] == "reference" for g in found):
        return "reference: " + ", ".join(f"{_pct(g['value'])} {g['task']}" for g in found)
    worst = min(found, key=lambda g: g["delta"] if g["delta"] is not None else 0.0)
    order = ("fail", "refused", "inconclusive", "pending", "pass")
    verdict = next((v for v in order if any(g["verdict"] == v for g in found)), "pass")
    return f"{_pct(worst['delta'], signed=True)} {VERDICT_TEXT[verdict]}"


def throughput_cell(gates: Mapping[str, Any]) -> str:
    """The README's throughput column: the worst point's ratio to the reference with its
    interval, and the verdict (``0.97× [0.91, 1.03] ✅ pass``)."""
    perf = gates.get("perf")
    if not perf:
        return "—"
    if perf["verdict"] == "reference":
        return "reference"
    verdict = VERDICT_TEXT.get(perf["verdict"], perf["verdict"])
    worst, interval = perf.get("worst_ratio"), perf.get("worst_interval")
    if worst is None or not interval:
        if perf.get("not_comparable"):
            return f"{NOT_COMPARABLE} {verdict}"
        return f"— {verdict}"
    return f"{ratio_text(worst, interval[0], interval[1])} {verdict}"


def model_index(
    release_name: str, validation: Mapping[str, Any] | None, suite_name: str | None
) -> list[dict[str, Any]]:
    """The card's ``model-index`` metadata (Hugging Face's evaluation results format), from
    suite ``suite_name`` (the one the accuracy gate judges)."""
    results = []
    for suite in (validation or {}).get("suites", []):
        if suite["name"] != suite_name:
            continue
        for task, result in sorted(suite.get("data", {}).get("tasks", {}).items()):
            results.append(
                {
                    "task": {"type": "text-generation"},
                    "dataset": {"name": task, "type": task},
                    "metrics": [
                        {
                            "type": result["metric"],
                            "value": round(result["value"], 4),
                            "name": f"{result['metric']} (n={result['n']})",
                            "verified": False,
                        }
                    ],
                }
            )
    return [{"name": release_name, "results": results}] if results else []
