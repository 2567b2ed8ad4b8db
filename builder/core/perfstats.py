"""Performance statistics: percentiles the way ``vllm bench serve`` computes them, the
summary of a sweep point's repeated trials, and the interval of a throughput ratio.

A sweep point is measured in several *trials* (the same requests, again); one trial's
throughput is one number, so the comparison of a cell with its reference is a comparison
of two small samples. The ratio of their medians gets a seeded bootstrap interval: when the
trials were interleaved with the reference's (ABAB on one host), the pairs are resampled
together, so drift that hit both sides cancels; otherwise each side is resampled on its own.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

PERCENTILES = (50, 90, 99)
BOOTSTRAP_ROUNDS = 2000
# A point whose requests generated less than this share of the requested output length on
# average is not comparable: its throughput measures early stops, not generation.
COMPARABLE_SHARE = 0.5


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile with linear interpolation between closest ranks: numpy's
    default method, which ``vllm bench serve`` uses (``np.percentile``) for TTFT, TPOT, ITL
    and E2EL. ``values`` must not be empty."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(values_s: Sequence[float]) -> dict[str, float | None]:
    """Mean and percentiles in milliseconds; None (not zero) when nothing was measured."""
    if not values_s:
        return {"mean": None, **{f"p{p}": None for p in PERCENTILES}}
    out = {"mean": statistics.fmean(values_s) * 1000}
    for p in PERCENTILES:
        out[f"p{p}"] = percentile(values_s, p) * 1000
    return {k: round(v, 3) for k, v in out.items()}


def median_of(summaries: Sequence[Mapping[str, float | None]]) -> dict[str, float | None]:
    """Per statistic, the median over trials of each trial's value (None stays None: a
    percentile a tool did not report is never filled in from another)."""
    keys = ["mean", *(f"p{p}" for p in PERCENTILES)]
    out: dict[str, float | None] = {}
    for key in keys:
        found = [float(v) for s in summaries if (v := s.get(key)) is not None]
        out[key] = round(statistics.median(found), 3) if found else None
    return out


def comparable(point: Mapping[str, Any]) -> bool:
    """Whether a point generated what was asked (at least half the output length, on
    average): a throughput of early stops is not compared with anything."""
    asked = float(point.get("output_len") or 0)
    got = float(point.get("mean_output_tokens") or 0)
    return asked > 0 and got >= COMPARABLE_SHARE * asked


def throughputs(trials: Sequence[Mapping[str, Any]]) -> list[float]:
    """Output tokens per second of each trial that completed requests."""
    return [float(t["output_throughput"]) for t in trials if t.get("completed")]


def spread(values: Sequence[float]) -> dict[str, float | None]:
    """The median and the range of trial values (what tables show beside a figure)."""
    if not values:
        return {"median": None, "min": None, "max": None}
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


@dataclass(frozen=True, kw_only=True)
class RatioInterval:
    """The ratio of two medians and its bootstrap interval."""

    ratio: float
    low: float
    high: float
    paired: bool
    trials: tuple[int, int]


def ratio_interval(
    mine: Sequence[float],
    theirs: Sequence[float],
    *,
    confidence: float,
    paired: bool,
    seed: int = 0,
) -> RatioInterval:
    """median(mine) / median(theirs) with a seeded percentile-bootstrap interval.

    ``paired``: the i-th trials of both sides were run back to back (interleaved), and are
    resampled as pairs. Both samples must be non-empty with positive values.
    """
    rng = random.Random(seed)
    estimate = statistics.median(mine) / statistics.median(theirs)
    ratios = []
    n, m = len(mine), len(theirs)
    pairs = paired and n == m
    for _ in range(BOOTSTRAP_ROUNDS):
        if pairs:
            picks = [rng.randrange(n) for _ in range(n)]
            a = [mine[i] for i in picks]
            b = [theirs[i] for i in picks]
        else:
            a, b = rng.choices(mine, k=n), rng.choices(theirs, k=m)
        ratios.append(statistics.median(a) / statistics.median(b))
    ratios.sort()
    tail = (1 - confidence) / 2
    low = ratios[int(tail * (BOOTSTRAP_ROUNDS - 1))]
    high = ratios[min(math.ceil((1 - tail) * (BOOTSTRAP_ROUNDS - 1)), BOOTSTRAP_ROUNDS - 1)]
    return RatioInterval(
        ratio=estimate,
        low=min(low, estimate),
        high=max(high, estimate),
        paired=pairs,
        trials=(n, m),
    )


def needed_trials(n: int, low: float, high: float, line: float) -> int:
    """About how many trials per side would move the interval off ``line``: its width
    shrinks with the square root of the trial count, its centre stays (to first order).
    0 when the centre sits on the line (no trial count settles it)."""
    centre, half = (low + high) / 2, (high - low) / 2
    margin = abs(centre - line)
    if margin < 1e-9:
        return 0
    return max(n + 1, math.ceil(n * (half / margin) ** 2))
