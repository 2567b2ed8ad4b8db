"""Plots of the perf sweep, as PNG bytes (matplotlib, imported only when a plot is drawn)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any


def perf_png(title: str, cell: Mapping[str, Any], reference: Mapping[str, Any] | None) -> bytes:
    """Output throughput against concurrency, one line per request shape, reference dashed."""
    import matplotlib

    matplotlib.use("Agg")  # no display; and never pick a GUI backend from the environment
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    try:
        for label, doc, style in (("this cell", cell, "-o"), ("reference", reference, "--s")):
            for shape, points in _by_shape(doc).items():
                levels = [p["concurrency"] for p in points]
                axes.plot(
                    levels,
                    [p["output_throughput"] for p in points],
                    style,
                    label=f"{label} {shape}",
                )
        axes.set_xscale("log", base=2)
        axes.set_xlabel("concurrent requests")
        axes.set_ylabel("output tokens/s")
        axes.set_title(title, fontsize=9)
        axes.grid(True, alpha=0.3)
        axes.legend(fontsize=8)
        buffer = io.BytesIO()
        # No timestamp in the file: the same figures give the same bytes.
        figure.savefig(buffer, format="png", metadata={"Software": None})
    finally:
        plt.close(figure)
    return buffer.getvalue()


def _by_shape(doc: Mapping[str, Any] | None) -> dict[str, list[dict[str, Any]]]:
    shapes: dict[str, list[dict[str, Any]]] = {}
    for point in (doc or {}).get("points", []):
        shapes.setdefault(f"{point['input_len']}/{point['output_len']}", []).append(point)
    return {k: sorted(v, key=lambda p: p["concurrency"]) for k, v in shapes.items()}
