"""The catalog users browse: every model, its variants, and where it runs. Pure functions.

``out/catalog.md`` and ``out/catalog.json`` list each recipe's model (description, license,
languages), a *supported deployment* table (engine x chip: validated, failed, awaiting a
runner, or incompatible with the rule that says so), and a *variant* table whose numbers all
come from the build (accuracy and its change against the unquantized reference, throughput),
with a hint derived from them. Nothing here is typed by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from builder.core import evaluation, report
from builder.core.catalog_model import Catalog, QuantizationConf
from builder.core.cells import Cell, LoadedRecipe, Plan

DEPLOYMENT_TEXT = {
    "passed": "✅ validated",
    "failed": "❌ failed",
    "inconclusive": "❔ inconclusive",
    "awaiting-runner": "⏳ awaiting runner",
    "rendered": "📝 rendered",
}


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def deployment(
    loaded: LoadedRecipe, plan: Plan, entries: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, dict[str, str]]]:
    """engine -> chip -> {status, detail} for every pair the recipe's matrix names."""
    table: dict[str, dict[str, dict[str, str]]] = {}
    for cell in plan.cells:
        if cell.recipe != loaded.name:
            continue
        entry = entries.get(cell.id, {})
        status = str(entry.get("status", "planned"))
        slot = table.setdefault(cell.engine, {}).setdefault(cell.chip, {})
        quants = slot.get("quantizations", "")
        slot["quantizations"] = ", ".join(filter(None, [quants, cell.quantization]))
        # The worst status across the pair's quantizations is the pair's status.
        order = ["failed", "inconclusive", "awaiting-runner", "rendered", "planned", "passed"]
        current = slot.get("status", "passed")
        slot["status"] = min(current, status, key=lambda s: order.index(s) if s in order else 0)
    for excluded in plan.excluded:
        if excluded.recipe != loaded.name:
            continue
        slot = table.setdefault(excluded.engine, {}).setdefault(excluded.chip, {})
        if "status" not in slot:
            slot.update(status="incompatible", detail=f"{excluded.reason} ({excluded.rule})")
    return table


def deployment_markdown(
    loaded: LoadedRecipe, plan: Plan, entries: Mapping[str, Mapping[str, Any]]
) -> str:
    table = deployment(loaded, plan, entries)
    chips = sorted({chip for row in table.values() for chip in row})
    lines = [
        "| Engine | " + " | ".join(chips) + " |",
        "|---|" + "---|" * len(chips),
    ]
    for engine in sorted(table):
        cells = []
        for chip in chips:
            slot = table[engine].get(chip)
            if slot is None:
                cells.append("—")
            elif slot["status"] == "incompatible":
                cells.append(f"incompatible: {_cell(slot['detail'])}")
            else:
                text = DEPLOYMENT_TEXT.get(slot["status"], slot["status"])
                cells.append(f"{text} ({_cell(slot['quantizations'])})")
        lines.append(f"| {engine} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def variants(
    loaded: LoadedRecipe,
    plan: Plan,
    catalog: Catalog,
    entries: Mapping[str, Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """One row per variant (quantization) the recipe releases, with the numbers its cells
    measured: size and bits per weight of the weights, accuracy and its worst change against
    the reference, and output throughput on every chip it ran on."""
    by_quant: dict[str, list[Cell]] = {}
    for cell in plan.cells:
        if cell.recipe == loaded.name:
            by_quant.setdefault(cell.quantization, []).append(cell)
    reference_bytes = _reference_bytes(plan, loaded, entries)
    # The recipe's order (its reference first, as authors write it); included ones after.
    order = list(loaded.recipe.matrix.quantization)
    rows = []
    for quant_name in sorted(by_quant, key=lambda q: (_position(order, q), q)):
        cells = by_quant[quant_name]
        found = [entries.get(c.id, {}) for c in cells]
        quant = catalog.quantizations[quant_name]
        accuracy = [g for e in found for g in (e.get("gates") or {}).get("accuracy") or []]
        measured = next((e for e in found if e.get("weights_bytes")), {})
        statuses = sorted({str(e.get("status", "planned")) for e in found})
        rows.append(
            {
                "variant": f"{loaded.recipe.model.name}{quant.suffix}",
                "quantization": quant.display_name,
                "method": quant.method,
                "made_by": measured.get("weights_tool") or _method_text(quant, catalog),
                "bits": quant.bits,
                "size_bytes": measured.get("weights_bytes"),
                "bits_per_weight": measured.get("bits_per_weight"),
                "accuracy": _scores(accuracy),
                "accuracy_delta": _worst_delta(accuracy),
                "throughput": _throughput(cells, entries),
                "cells": {c.id: entries.get(c.id, {}).get("status", "planned") for c in cells},
                "hint": hint(
                    statuses,
                    accuracy,
                    [e.get("gates", {}).get("perf") or {} for e in found],
                    _smaller(reference_bytes, measured.get("weights_bytes")),
                ),
            }
        )
    return rows


def _position(order: list[str], name: str) -> int:
    return order.index(name) if name in order else len(order)


def _method_text(quant: QuantizationConf, catalog: Catalog) -> str:
    """How a variant is made, before a build has recorded the exact tool."""
    if quant.method == "quantize":
        return f"{catalog.quantizers[quant.quantizer].display_name} (when built)"
    texts = {"none": "source weights", "prequantized": "prequantized upstream"}
    return texts.get(quant.method, "peft merge (when built)")


def _reference_bytes(
    plan: Plan, loaded: LoadedRecipe, entries: Mapping[str, Mapping[str, Any]]
) -> int | None:
    """Size of the reference cell's weights: what the other variants' sizes are compared to."""
    refs = {c.reference for c in plan.cells if c.recipe == loaded.name and c.reference}
    for ref in sorted(refs):
        size = entries.get(ref, {}).get("weights_bytes")
        if size:
            return int(size)
    return None


def _smaller(reference: int | None, size: int | None) -> float | None:
    return reference / size if reference and size else None


def _scores(accuracy: list[Mapping[str, Any]]) -> dict[str, float]:
    """Each task's score from the first cell that measured it."""
    scores: dict[str, float] = {}
    for gate in accuracy:
        if gate.get("value") is not None:
            scores.setdefault(str(gate["task"]), float(gate["value"]))
    return scores


def _throughput(
    cells: list[Cell], entries: Mapping[str, Mapping[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """chip -> [{engine, tokens_per_s, spread, ratio, interval}] for the cells that measured
    throughput (the peak point's median over its trials, and their range)."""
    table: dict[str, list[dict[str, Any]]] = {}
    for cell in cells:
        entry = entries.get(cell.id, {})
        if entry.get("throughput") is None:
            continue
        perf = (entry.get("gates") or {}).get("perf") or {}
        table.setdefault(cell.chip, []).append(
            {
                "engine": cell.engine,
                "tokens_per_s": entry["throughput"],
                "spread": entry.get("throughput_spread"),
                "ratio": perf.get("worst_ratio"),
                "interval": perf.get("worst_interval"),
            }
        )
    return table


def _worst_delta(accuracy: list[Mapping[str, Any]]) -> float | None:
    deltas = [g["delta"] for g in accuracy if g.get("delta") is not None]
    return min(deltas) if deltas else None


def _size(size: int | None) -> str:
    if size is None:
        return "—"
    return f"{size / 1e9:.2f} GB" if size >= 1e8 else f"{size / 1e6:.2f} MB"


def hint(
    statuses: list[str],
    accuracy: list[Mapping[str, Any]],
    perf: list[Mapping[str, Any]],
    smaller: float | None,
) -> str:
    """A 'use this when' line derived from the measured verdicts and sizes, never typed."""
    if any(g["verdict"] == "reference" for g in accuracy):
        return "the reference: full quality; compare the others with it"
    if "passed" not in statuses:
        return f"not qualified yet ({', '.join(statuses)})"
    # Faster only when the gate compared like with like and the whole interval of the worst
    # point is above the reference: a noisy or stand-in measurement claims nothing.
    ratios = [
        p["worst_interval"][0]
        for p in perf
        if p.get("verdict") == "pass" and p.get("worst_interval")
    ]
    delta = _worst_delta(accuracy)
    lossless = delta is None or delta > -0.01
    if smaller is not None and smaller >= 1.5:
        if lossless:
            return f"{smaller:.1f}× smaller with no measurable quality loss: prefer it when memory is tight"
        return (
            f"{smaller:.1f}× smaller at {evaluation.signed_pct(delta)} accuracy: "
            "when memory matters more than the last points"
        )
    if ratios and max(ratios) > 1.05:
        if lossless:
            return "faster with no measurable quality loss: prefer it"
        return "faster; a small, measured quality loss within the gate"
    return "within the quality gate; use when this chip and engine are what you have"


def variant_grid(
    loaded: LoadedRecipe,
    plan: Plan,
    catalog: Catalog,
    entries: Mapping[str, Mapping[str, Any]],
) -> tuple[list[str], list[list[str]]]:
    """The variant table of one model as its header and rows of plain, unescaped text:
    the Markdown table and the site page's HTML table show the same cells."""
    rows = variants(loaded, plan, catalog, entries)
    chips = sorted({c.chip for c in plan.cells if c.recipe == loaded.name})
    header = [
        "Variant",
        "Quantization",
        "Made by",
        "Size",
        "Bits/weight",
        "Accuracy",
        "Δ vs reference",
        *(f"{chip} peak tok/s (range; worst × [interval])" for chip in chips),
        "Use this when",
    ]
    grid = []
    for row in rows:
        scores = ", ".join(f"{v * 100:.1f}% {k}" for k, v in sorted(row["accuracy"].items()))
        bpw = row["bits_per_weight"]
        grid.append(
            [
                str(row["variant"]),
                str(row["quantization"]),
                str(row["made_by"]),
                _size(row["size_bytes"]),
                "—" if bpw is None else f"{bpw:.2f}",
                scores or "—",
                evaluation.signed_pct(row["accuracy_delta"]),
                *(_throughput_text(row["throughput"].get(chip, [])) for chip in chips),
                str(row["hint"]),
            ]
        )
    return header, grid


def variant_markdown(
    loaded: LoadedRecipe,
    plan: Plan,
    catalog: Catalog,
    entries: Mapping[str, Mapping[str, Any]],
) -> str:
    """The variant table of one model (catalog page, README and every card of the model)."""
    header, grid = variant_grid(loaded, plan, catalog, entries)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(text) for text in row) + " |" for row in grid]
    return "\n".join(lines) + "\n"


def _throughput_text(measured: list[Mapping[str, Any]]) -> str:
    if not measured:
        return "—"
    parts = []
    for m in measured:
        interval = m.get("interval")
        ratio = ""
        if m["ratio"] is not None and interval:
            ratio = f" ({evaluation.ratio_text(m['ratio'], interval[0], interval[1])})"
        spread = m.get("spread")
        rng = f" ({spread[0]:.1f}–{spread[1]:.1f})" if spread else " (1 trial)"
        engine = f"{m['engine']} " if len(measured) > 1 else ""
        parts.append(f"{engine}{m['tokens_per_s']:.1f}{rng}{ratio}")
    return "; ".join(parts)


def catalog_markdown(
    recipes: Iterable[LoadedRecipe],
    plan: Plan,
    catalog: Catalog,
    entries: Mapping[str, Mapping[str, Any]],
) -> str:
    lines = ["# Model catalog", ""]
    for loaded in sorted(recipes, key=lambda r: r.name):
        model = loaded.recipe.model
        lines += [
            f"## {model.name}",
            "",
            model.description or "",
            "",
            (
                f"License: `{model.license}`. Languages: {', '.join(model.languages) or '—'}. "
                f"Source: `{model.source}`. Recipe: `{loaded.file}`."
            ),
            "",
            "### Supported deployments",
            "",
            deployment_markdown(loaded, plan, entries).rstrip("\n"),
            "",
            "### Variants",
            "",
            variant_markdown(loaded, plan, catalog, entries).rstrip("\n"),
            "",
            "### Releases",
            "",
            *(
                f"- {report.release_link({**entries.get(c.id, {}), 'release_repo': c.release_repo})}"
                f" — {c.chip}, {c.quantization}, {c.engine}"
                for c in plan.cells
                if c.recipe == loaded.name
            ),
            "",
        ]
    return "\n".join(lines)


def catalog_json(
    recipes: Iterable[LoadedRecipe],
    plan: Plan,
    catalog: Catalog,
    entries: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    models = []
    for loaded in sorted(recipes, key=lambda r: r.name):
        model = loaded.recipe.model
        models.append(
            {
                "name": model.name,
                "recipe": loaded.name,
                "description": model.description,
                "license": model.license,
                "languages": list(model.languages),
                "source": model.source,
                "deployments": deployment(loaded, plan, entries),
                "variants": variants(loaded, plan, catalog, entries),
                "releases": {
                    cell.id: {
                        "repo": cell.release_repo,
                        "image": cell.image,
                        "published": entries.get(cell.id, {}).get("published", {}),
                    }
                    for cell in plan.cells
                    if cell.recipe == loaded.name
                },
            }
        )
    return {"models": models}
