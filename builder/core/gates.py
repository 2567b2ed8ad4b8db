"""Gates: is a cell as good as its reference? Pure statistics on recorded results.

A gate never looks at a bare number. Accuracy is compared sample by sample when the cell and
its reference answered the same documents (matched by lm-eval's document hash): the paired
difference gets an interval, and the verdict says whether the whole interval lies inside the
tolerated drop (pass), entirely beyond it (fail), or straddles it (inconclusive, with the
sample count that would settle it). Without per-sample data it falls back to an interval for
two independent proportions. Performance compares throughput point by point, and only when
both ran on comparable hardware.

Intervals:
- paired 0/1 scores: Agresti-Min adjusted Wald (add 1/2 to each cell of the 2x2 table), which
  stays honest at small n where the plain interval collapses to zero width;
- paired scores that are not 0/1: a seeded paired bootstrap (percentile);
- unpaired proportions: Agresti-Caffo (add one success and one failure to each side).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Literal

Verdict = Literal["pass", "fail", "inconclusive", "pending", "reference", "report-only", "refused"]
BOOTSTRAP_ROUNDS = 2000
# Fields of a result's provenance that must equal the run's for a stored baseline to count.
PROVENANCE_KEYS = ("lm_eval_version", "task_hashes", "limit", "num_fewshot", "apply_chat_template")


@dataclass(frozen=True, kw_only=True)
class AccuracyGate:
    """The verdict on one task's metric."""

    task: str
    metric: str
    value: float
    reference: float | None
    n: int
    verdict: Verdict
    # Interval of (cell - reference), absolute, at the spec's confidence.
    low: float | None = None
    high: float | None = None
    paired: bool = False
    needed_n: int | None = None
    note: str = ""

    @property
    def delta(self) -> float | None:
        """Relative change against the reference (-0.03 = 3% worse)."""
        if self.reference in (None, 0):
            return None
        assert self.reference is not None
        return (self.value - self.reference) / self.reference

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "metric": self.metric,
            "value": self.value,
            "reference": self.reference,
            "delta": _round(self.delta),
            "n": self.n,
            "interval": None if self.low is None else [_round(self.low), _round(self.high)],
            "paired": self.paired,
            "verdict": self.verdict,
            "needed_n": self.needed_n,
            "note": self.note,
        }


@dataclass(frozen=True, kw_only=True)
class PerfGate:
    """The verdict on throughput across the sweep."""

    verdict: Verdict
    min_ratio: float
    ratios: dict[str, float]
    note: str = ""

    @property
    def worst(self) -> float | None:
        return min(self.ratios.values()) if self.ratios else None

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "min_ratio": self.min_ratio,
            "worst_ratio": _round(self.worst),
            "ratios": {k: _round(v) for k, v in self.ratios.items()},
            "note": self.note,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


# ------------------------------------------------------------------------------- accuracy


def accuracy_gates(
    cell: Mapping[str, Any],
    reference: Mapping[str, Any] | None,
    *,
    max_drop: float,
    confidence: float,
    is_reference: bool,
    reference_label: str,
    refused: str = "",
) -> list[AccuracyGate]:
    """One gate per task of ``cell`` (an accuracy.json document) against ``reference``.

    ``refused``: why the reference's results may not be compared (their provenance differs).
    """
    gates = []
    for task, result in sorted(cell["tasks"].items()):
        base = {"task": task, "metric": result["metric"], "value": result["value"]}
        if is_reference:
            gates.append(AccuracyGate(**base, reference=None, n=result["n"], verdict="reference"))
            continue
        ref_task = (reference or {}).get("tasks", {}).get(task)
        if ref_task is None:
            verdict: Verdict = "refused" if refused else "inconclusive"
            note = refused or f"nothing to compare with: no {task} result from {reference_label}"
            gates.append(
                AccuracyGate(**base, reference=None, n=result["n"], verdict=verdict, note=note)
            )
            continue
        gates.append(compare(task, result, ref_task, max_drop=max_drop, confidence=confidence))
    return gates


def compare(
    task: str,
    cell: Mapping[str, Any],
    reference: Mapping[str, Any],
    *,
    max_drop: float,
    confidence: float,
) -> AccuracyGate:
    """Gate one task: the interval of (cell - reference) against the tolerated drop."""
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    ref_value = float(reference["value"])
    tolerance = max_drop * abs(ref_value)
    pairs = _pairs(cell.get("samples") or {}, reference.get("samples") or {})
    if pairs:
        mine = [a for a, _ in pairs]
        theirs = [b for _, b in pairs]
        low, high = _paired_interval(mine, theirs, z, seed=len(pairs))
        n, paired = len(pairs), True
        value, ref_value = sum(mine) / n, sum(theirs) / n
        tolerance = max_drop * abs(ref_value)
    else:
        n, paired = int(cell["n"]), False
        value = float(cell["value"])
        low, high = _unpaired_interval(value, n, ref_value, int(reference["n"]), z)
    verdict: Verdict
    if low >= -tolerance:
        verdict = "pass"
    elif high < -tolerance:
        verdict = "fail"
    else:
        verdict = "inconclusive"
    needed = _needed_n(n, low, high, tolerance) if verdict == "inconclusive" else None
    return AccuracyGate(
        task=task,
        metric=str(cell["metric"]),
        value=value,
        reference=ref_value,
        n=n,
        verdict=verdict,
        low=low,
        high=high,
        paired=paired,
        needed_n=needed,
        note=_accuracy_note(verdict, tolerance, needed, paired, n),
    )


def _pairs(mine: Mapping[str, float], theirs: Mapping[str, float]) -> list[tuple[float, float]]:
    """Scores of the documents both sides answered, in a stable order."""
    return [(float(mine[k]), float(theirs[k])) for k in sorted(mine.keys() & theirs.keys())]


def _paired_interval(
    mine: Sequence[float], theirs: Sequence[float], z: float, *, seed: int
) -> tuple[float, float]:
    if all(v in (0.0, 1.0) for v in (*mine, *theirs)):
        return agresti_min(mine, theirs, z)
    return paired_bootstrap(mine, theirs, z, seed=seed)


def agresti_min(mine: Sequence[float], theirs: Sequence[float], z: float) -> tuple[float, float]:
    """Adjusted Wald interval for the difference of two paired proportions."""
    gained = sum(1 for a, b in zip(mine, theirs, strict=True) if a > b) + 0.5
    lost = sum(1 for a, b in zip(mine, theirs, strict=True) if a < b) + 0.5
    n = len(mine) + 2  # four half-counts: every cell of the 2x2 table gets 1/2
    diff = (gained - lost) / n
    variance = ((gained + lost) - (gained - lost) ** 2 / n) / n**2
    half = z * math.sqrt(max(variance, 0.0))
    return max(diff - half, -1.0), min(diff + half, 1.0)


def paired_bootstrap(
    mine: Sequence[float], theirs: Sequence[float], z: float, *, seed: int
) -> tuple[float, float]:
    """Percentile interval of the mean paired difference, from a seeded resample."""
    diffs = [a - b for a, b in zip(mine, theirs, strict=True)]
    rng = random.Random(seed)
    n = len(diffs)
    means = sorted(sum(rng.choices(diffs, k=n)) / n for _ in range(BOOTSTRAP_ROUNDS))
    tail = 1 - NormalDist().cdf(z)
    low = means[int(tail * (BOOTSTRAP_ROUNDS - 1))]
    high = means[int((1 - tail) * (BOOTSTRAP_ROUNDS - 1))]
    return low, high


def _unpaired_interval(
    value: float, n: int, ref_value: float, ref_n: int, z: float
) -> tuple[float, float]:
    """Agresti-Caffo interval for the difference of two independent proportions."""
    p1 = (value * n + 1) / (n + 2)
    p2 = (ref_value * ref_n + 1) / (ref_n + 2)
    half = z * math.sqrt(p1 * (1 - p1) / (n + 2) + p2 * (1 - p2) / (ref_n + 2))
    diff = p1 - p2
    return max(diff - half, -1.0), min(diff + half, 1.0)


def _needed_n(n: int, low: float, high: float, tolerance: float) -> int:
    """About how many samples would make the interval clear the tolerance line.

    The half-width shrinks with the square root of n; the distance from the centre to the
    line stays (to first order) what it is now.
    """
    centre, half = (low + high) / 2, (high - low) / 2
    margin = abs(centre + tolerance)
    if margin < 1e-9:
        return 0  # centred on the line: no sample size settles it
    return max(n + 1, math.ceil(n * (half / margin) ** 2))


def _accuracy_note(
    verdict: Verdict, tolerance: float, needed: int | None, paired: bool, n: int
) -> str:
    how = f"{'paired' if paired else 'unpaired'}, n={n}, tolerated drop {tolerance:.4f}"
    if verdict != "inconclusive":
        return how
    if needed == 0:
        return f"{how}; the difference sits on the tolerance line"
    return f"{how}; about {needed} samples would decide"


# ------------------------------------------------------------------------------ provenance


def provenance_mismatch(stored: Mapping[str, Any], run: Mapping[str, Any]) -> list[str]:
    """How a stored baseline's provenance differs from the setup being run (empty: usable)."""
    problems = []
    for key in PROVENANCE_KEYS:
        if stored.get(key) != run.get(key):
            problems.append(f"{key}: baseline has {stored.get(key)!r}, this run {run.get(key)!r}")
    return problems


def baseline_identity_mismatch(
    stored: Mapping[str, Any], reference: Mapping[str, Any]
) -> list[str]:
    """Whether a baseline was made by the reference cell as configured now."""
    problems = []
    for key in ("cell", "engine", "engine_version", "model_source"):
        if stored.get(key) != reference.get(key):
            problems.append(
                f"{key}: baseline has {stored.get(key)!r}, reference is {reference.get(key)!r}"
            )
    digest = stored.get("image_digest")
    if digest and reference.get("image_digest") and digest != reference["image_digest"]:
        problems.append(
            f"image_digest: baseline has {digest}, reference is {reference['image_digest']}"
        )
    return problems


# ------------------------------------------------------------------------------------ perf


def point_key(point: Mapping[str, Any]) -> str:
    return f"{point['input_len']}/{point['output_len']}@{point['concurrency']}"


def perf_gate(
    cell: Mapping[str, Any] | None,
    reference: Mapping[str, Any] | None,
    *,
    min_ratio: float,
    is_reference: bool,
) -> PerfGate:
    """Output-token throughput of every sweep point against the reference's same point."""
    if cell is None:
        return PerfGate(
            verdict="report-only", min_ratio=min_ratio, ratios={}, note="no perf result"
        )
    if is_reference:
        return PerfGate(verdict="reference", min_ratio=min_ratio, ratios={})
    if reference is None:
        note = "the reference has no perf result: report only"
        return PerfGate(verdict="report-only", min_ratio=min_ratio, ratios={}, note=note)
    ref_points = {point_key(p): p for p in reference["points"]}
    ratios = {}
    for point in cell["points"]:
        ref = ref_points.get(point_key(point))
        if ref and ref["output_throughput"] > 0:
            ratios[point_key(point)] = point["output_throughput"] / ref["output_throughput"]
    if cell.get("hardware") != reference.get("hardware"):
        note = (
            f"reference ran on {reference.get('hardware')!r}, this cell on "
            f"{cell.get('hardware')!r}: not comparable, report only"
        )
        return PerfGate(verdict="report-only", min_ratio=min_ratio, ratios=ratios, note=note)
    if not ratios:
        note = "no sweep point in common with the reference: report only"
        return PerfGate(verdict="report-only", min_ratio=min_ratio, ratios=ratios, note=note)
    slow = [k for k, r in ratios.items() if r < min_ratio]
    if slow:
        note = f"below {min_ratio:g}x the reference at {', '.join(slow)}"
        return PerfGate(verdict="fail", min_ratio=min_ratio, ratios=ratios, note=note)
    return PerfGate(verdict="pass", min_ratio=min_ratio, ratios=ratios)
