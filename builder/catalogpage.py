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

from builder import evaluation
from builder.model import Catalog, LoadedRecipe, Plan

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
    """One row per (quantization, engine) the recipe releases, with measured numbers."""
    rows = []
    for cell in plan.cells:
        if cell.recipe != loaded.name:
            continue
        entry = entries.get(cell.id, {})
        gates = entry.get("gates") or {}
        quant = catalog.quantizations[cell.quantization]
        accuracy = gates.get("accuracy") or []
        perf = gates.get("perf") or {}
        rows.append(
            {
                "cell": cell.id,
                "quantization": quant.display_name,
                "bits": quant.bits,
                "chip": cell.chip,
                "engine": cell.engine,
                "status": entry.get("status", "planned"),
                "size_bytes": entry.get("weights_bytes"),
                "accuracy": {g["task"]: g["value"] for g in accuracy},
                "accuracy_delta": _worst_delta(accuracy),
                "throughput_ratio": perf.get("worst_ratio"),
                "hint": hint(entry.get("status", "planned"), accuracy, perf),
            }
        )
    return rows


def _worst_delta(accuracy: list[Mapping[str, Any]]) -> float | None:
    deltas = [g["delta"] for g in accuracy if g.get("delta") is not None]
    return min(deltas) if deltas else None


def _size(size: int | None) -> str:
    if size is None:
        return "—"
    return f"{size / 1e9:.2f} GB" if size >= 1e8 else f"{size / 1e6:.2f} MB"


def hint(status: str, accuracy: list[Mapping[str, Any]], perf: Mapping[str, Any]) -> str:
    """A 'use this when' line derived from the measured verdicts, never typed by hand."""
    if any(g["verdict"] == "reference" for g in accuracy):
        return "the reference: full quality; compare the others with it"
    if status != "passed":
        return f"not qualified yet ({status})"
    ratio = perf.get("worst_ratio")
    delta = _worst_delta(list(accuracy))
    faster = ratio is not None and ratio > 1.1
    if faster and delta is not None and delta > -0.01:
        return "faster with no measurable quality loss: prefer it"
    if faster:
        return "faster; a small, measured quality loss within the gate"
    return "within the quality gate; use when this chip and engine are what you have"


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
            (
                "| Variant | Bits | Size | Chip | Engine | Status | Accuracy | Δ vs reference "
                "| Throughput × | Release | Use this when |"
            ),
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for row in variants(loaded, plan, catalog, entries):
            entry = entries.get(row["cell"], {})
            scores = ", ".join(f"{v * 100:.1f}% {k}" for k, v in sorted(row["accuracy"].items()))
            lines.append(
                "| {q} | {b} | {z} | {c} | {e} | {s} | {a} | {d} | {t} | {r} | {h} |".format(
                    q=_cell(row["quantization"]),
                    b=row["bits"],
                    z=_size(row["size_bytes"]),
                    c=_cell(row["chip"]),
                    e=_cell(row["engine"]),
                    s=DEPLOYMENT_TEXT.get(row["status"], row["status"]),
                    a=scores or "—",
                    d=evaluation.signed_pct(row["accuracy_delta"]),
                    t="—" if row["throughput_ratio"] is None else f"{row['throughput_ratio']:.2f}×",
                    r=_cell(entry.get("release_repo", "")),
                    h=_cell(row["hint"]),
                )
            )
        lines.append("")
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
