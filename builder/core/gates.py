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
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any, Literal

from builder.core import perfstats

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
class PointRatio:
    """One sweep point's throughput against the reference's: the ratio of the medians of
    their trials, its interval and what it says."""

    point: str
    ratio: float
    low: float
    high: float
    verdict: Verdict
    trials: tuple[int, int]
    paired: bool
    needed_trials: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "ratio": _round(self.ratio),
            "interval": [_round(self.low), _round(self.high)],
            "verdict": self.verdict,
            "trials": list(self.trials),
            "paired": self.paired,
            "needed_trials": self.needed_trials,
        }


@dataclass(frozen=True, kw_only=True)
class PerfGate:
    """The verdict on throughput across the sweep."""

    verdict: Verdict
    min_ratio: float
    points: dict[str, PointRatio] = field(default_factory=dict)
    # Points left out of the comparison: they generated less than half of what was asked.
    not_comparable: tuple[str, ...] = ()
    confidence: float = 0.95
    note: str = ""

    @property
    def worst(self) -> PointRatio | None:
        return min(self.points.values(), key=lambda p: p.ratio) if self.points else None

    def to_json(self) -> dict[str, Any]:
        worst = self.worst
        return {
            "verdict": self.verdict,
            "min_ratio": self.min_ratio,
            "confidence": self.confidence,
            "worst_point": None if worst is None else worst.point,
            "worst_ratio": None if worst is None else _round(worst.ratio),
            "worst_interval": None if worst is None else [_round(worst.low), _round(worst.high)],
            "points": {k: p.to_json() for k, p in self.points.items()},
            "not_comparable": list(self.not_comparable),
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
    confidence: float = 0.95,
) -> PerfGate:
    """Output-token throughput of every sweep point against the reference's same point.

    The reference's trials come from the cell's own perf.json when the suite measured the
    reference in alternation with the cell (``reference_trials``: same host, same minutes),
    else from the reference's perf.json. **pass**: every compared point's interval lies at
    or above ``min_ratio``; **fail**: some point's whole interval is below it;
    **inconclusive**: some interval straddles it (the note says how many trials would
    decide). Points that generated less than half of what was asked are not compared.
    """
    base: dict[str, Any] = {"min_ratio": min_ratio, "confidence": confidence}
    if cell is None:
        return PerfGate(verdict="report-only", note="no perf result", **base)
    if is_reference:
        return PerfGate(verdict="reference", **base)
    ref_points = {point_key(p): p for p in (reference or {}).get("points", [])}
    if reference is None and not any(p.get("reference_trials") for p in cell["points"]):
        note = "the reference has no perf result: report only"
        return PerfGate(verdict="report-only", note=note, **base)
    found, skipped = _point_ratios(cell, ref_points, min_ratio, confidence)
    return _perf_verdict(cell, reference, found, skipped, base)


def _point_ratios(
    cell: Mapping[str, Any],
    ref_points: Mapping[str, Mapping[str, Any]],
    min_ratio: float,
    confidence: float,
) -> tuple[dict[str, PointRatio], list[str]]:
    found: dict[str, PointRatio] = {}
    skipped: list[str] = []
    for point in cell["points"]:
        key = point_key(point)
        interleaved = point.get("reference_trials")
        ref = {**point, "trials": interleaved} if interleaved else ref_points.get(key)
        if ref is None:
            continue
        if not (perfstats.comparable(point) and perfstats.comparable(ref)):
            skipped.append(key)
            continue
        mine = perfstats.throughputs(point.get("trials") or [point])
        theirs = perfstats.throughputs(ref.get("trials") or [ref])
        if not mine or not theirs or min(theirs) <= 0:
            continue
        found[key] = _point_ratio(key, mine, theirs, bool(interleaved), min_ratio, confidence)
    return found, skipped


def _point_ratio(
    key: str,
    mine: list[float],
    theirs: list[float],
    paired: bool,
    min_ratio: float,
    confidence: float,
) -> PointRatio:
    # Seeded by the point, so the same trials always give the same interval.
    seed = int.from_bytes(key.encode()[:8].ljust(8, b"\0"), "big")
    r = perfstats.ratio_interval(mine, theirs, confidence=confidence, paired=paired, seed=seed)
    verdict: Verdict
    if r.low >= min_ratio:
        verdict = "pass"
    elif r.high < min_ratio:
        verdict = "fail"
    else:
        verdict = "inconclusive"
    needed = None
    if verdict == "inconclusive":
        needed = perfstats.needed_trials(min(r.trials), r.low, r.high, min_ratio)
    return PointRatio(
        point=key,
        ratio=r.ratio,
        low=r.low,
        high=r.high,
        verdict=verdict,
        trials=r.trials,
        paired=r.paired,
        needed_trials=needed,
    )


def ratio_text(ratio: float, low: float, high: float) -> str:
    """A ratio with its interval, as every table shows it: ``0.97× [0.91, 1.03]``."""
    return f"{ratio:.2f}× [{low:.2f}, {high:.2f}]"


def _perf_verdict(
    cell: Mapping[str, Any],
    reference: Mapping[str, Any] | None,
    found: dict[str, PointRatio],
    skipped: list[str],
    base: dict[str, Any],
) -> PerfGate:
    extra = {"points": found, "not_comparable": tuple(skipped), **base}
    short = f"; not comparable (outputs under half the asked length): {', '.join(skipped)}"
    skipped_note = short if skipped else ""
    interleaved = any(p.get("reference_trials") for p in cell["points"])
    if (
        not interleaved
        and reference is not None
        and cell.get("hardware") != reference.get("hardware")
    ):
        note = (
            f"reference ran on {reference.get('hardware')!r}, this cell on "
            f"{cell.get('hardware')!r}: not comparable, report only"
        )
        return PerfGate(verdict="report-only", note=note + skipped_note, **extra)
    if not found:
        note = "no sweep point to compare with the reference: report only" + skipped_note
        return PerfGate(verdict="report-only", note=note, **extra)
    how = "interleaved with the reference" if interleaved else "reference measured apart"
    line = base["min_ratio"]
    slow = [p for p in found.values() if p.verdict == "fail"]
    if slow:
        where = ", ".join(f"{p.point} {ratio_text(p.ratio, p.low, p.high)}" for p in slow)
        note = f"below {line:g}x the reference at {where} ({how}){skipped_note}"
        return PerfGate(verdict="fail", note=note, **extra)
    unsure = [p for p in found.values() if p.verdict == "inconclusive"]
    if unsure:
        parts = []
        for p in unsure:
            more = (
                "the ratio sits on the line"
                if p.needed_trials == 0
                else f"about {p.needed_trials} trials would decide"
            )
            parts.append(f"{p.point} {ratio_text(p.ratio, p.low, p.high)}: {more}")
        note = f"straddles {line:g}x at {'; '.join(parts)} ({how}){skipped_note}"
        return PerfGate(verdict="inconclusive", note=note, **extra)
    return PerfGate(verdict="pass", note=how + skipped_note, **extra)
