"""Validation results as display rows: the card's tables, the README columns, the report.

Pure functions from a cell's validation.json data to strings, so the card, the README and the
release report say the same thing in the same words.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
    """One row per sweep point of suite ``suite_name`` (the one the perf gate judges), with
    the ratio to the reference where it was compared."""
    suites = (validation or {}).get("suites", [])
    suite = next((s for s in suites if s["name"] == suite_name), None)
    if suite is None:
        return []
    ratios = (validation or {}).get("gates", {}).get("perf", {}).get("ratios", {})
    rows = []
    for point in suite.get("data", {}).get("points", []):
        key = f"{point['input_len']}/{point['output_len']}@{point['concurrency']}"
        ratio = ratios.get(key)
        rows.append(
            {
                "shape": f"{point['input_len']}/{point['output_len']}",
                "concurrency": str(point["concurrency"]),
                "output_throughput": f"{point['output_throughput']:.1f}",
                "request_throughput": f"{point['request_throughput']:.2f}",
                "ttft_p50": f"{point['ttft_ms']['p50']:.1f}",
                "ttft_p99": f"{point['ttft_ms']['p99']:.1f}",
                "tpot_p50": f"{point['tpot_ms']['p50']:.1f}",
                "itl_p50": f"{point['itl_ms']['p50']:.1f}",
                "tokens": f"{point['mean_prompt_tokens']:g}/{point['mean_output_tokens']:g}",
                "ratio": "—" if ratio is None else f"{ratio:.2f}×",
            }
        )
    return rows


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
    """The README's throughput column: the worst ratio to the reference and its verdict."""
    perf = gates.get("perf")
    if not perf:
        return "—"
    if perf["verdict"] == "reference":
        return "reference"
    worst = perf.get("worst_ratio")
    ratio = "—" if worst is None else f"{worst:.2f}×"
    return f"{ratio} {VERDICT_TEXT.get(perf['verdict'], perf['verdict'])}"


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
