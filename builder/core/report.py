"""Release indexes and the README table: pure functions from results to text."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from builder.core import evaluation
from builder.text import escape

START = "<!-- START:models -->"
END = "<!-- END:models -->"

STATUS_TEXT = {
    "passed": "✅ passed",
    "failed": "❌ failed",
    "inconclusive": "❔ inconclusive",
    "awaiting-runner": "⏳ awaiting runner",
    "rendered": "📝 rendered",
}


RELEASE_COLUMNS = (
    "Model",
    "Chip",
    "Quantization",
    "Engine",
    "Status",
    "Accuracy Δ",
    "Throughput ×",
    "Release name",
    "Image",
)


def release_rows(entries: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The release table's rows, sorted by cell id, as plain unescaped text: the README
    (Markdown) and the site page (HTML) each escape them for their own syntax. ``links``:
    (hub label, URL) of each hub the cell was published to; ``image``: its tag once pushed."""
    return [
        {
            "id": str(e["id"]),
            "path": str(e.get("path", "")),
            "model": str(e["model"]),
            "chip": str(e["chip"]),
            "quantization": str(e["quantization"]),
            "engine": str(e["engine"]),
            "status": STATUS_TEXT.get(e["status"], str(e["status"])),
            "accuracy": evaluation.accuracy_cell(e.get("gates") or {}),
            "throughput": evaluation.throughput_cell(e.get("gates") or {}),
            "name": str(e["release_repo"]),
            "links": hub_links(e),
            "image": str(e["image"]) if _pushed(e) else None,
        }
        for e in sorted(entries, key=lambda e: str(e["id"]))
    ]


def release_table(entries: Iterable[Mapping[str, Any]]) -> str:
    """The Markdown release table, one row per cell, sorted by cell id."""
    header = ["| " + " | ".join(RELEASE_COLUMNS) + " |", "|" + "---|" * len(RELEASE_COLUMNS)]
    rows = [
        "| {model} | {chip} | {quantization} | {engine} | {status} | {accuracy} | {throughput} "
        "| {name} | {image} |".format(
            model=_cell(r["model"]),
            chip=_cell(r["chip"]),
            quantization=_cell(r["quantization"]),
            engine=_cell(r["engine"]),
            status=r["status"],
            accuracy=_cell(r["accuracy"]),
            throughput=_cell(r["throughput"]),
            name=_link_text(r["name"], r["links"]),
            image="—" if r["image"] is None else f"`{_cell(r['image'])}`",
        )
        for r in release_rows(entries)
    ]
    return "\n".join(header + rows) + "\n"


def _pushed(entry: Mapping[str, Any]) -> bool:
    """Whether the cell's image was pushed (release.json keeps its digest): the table never
    names an image that is not in a registry."""
    return any(p.get("kind") == "oci" for p in (entry.get("published") or {}).values())


HUB_LINKS = {"huggingface": "HF", "modelscope": "ModelScope"}


def hub_links(entry: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, URL) of each hub the cell was published to (and only those)."""
    published = entry.get("published") or {}
    return [
        (label, str(published[t]["url"]))
        for kind, label in HUB_LINKS.items()
        for t in sorted(published)
        if published[t].get("kind") == kind
    ]


def release_link(entry: Mapping[str, Any]) -> str:
    """The release name, with a link to each hub it was published to (and only those)."""
    return _link_text(str(entry["release_repo"]), hub_links(entry))


def _link_text(name: str, links: list[tuple[str, str]]) -> str:
    text = " · ".join(f"[{label}]({url})" for label, url in links)
    return f"{_cell(name)} ({text})" if links else _cell(name)


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


# What a markdown table cell from outside (a recipe, an engine) must not be able to do: end
# the cell, open HTML, or turn into a link, code or emphasis.
_MARKDOWN = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        "|": "\\|",
        "[": "\\[",
        "]": "\\]",
        "`": "\\`",
        "*": "\\*",
        "_": "\\_",
        "\n": " ",
        "\r": " ",
    }
)


def markdown_cell(value: object) -> str:
    """An untrusted value as the text of a markdown table cell (GitHub's job summary)."""
    return escape(str(value)).translate(_MARKDOWN)


def replace_between_markers(
    text: str, table: str, *, file: str, markers: tuple[str, str] = (START, END)
) -> str:
    """``text`` with everything between the markers replaced by ``table``."""
    start_marker, end_marker = markers
    start = text.find(start_marker)
    end = text.find(end_marker)
    if start < 0 or end < 0 or end < start:
        msg = (
            f"{file}: needs the markers {start_marker} and {end_marker} (in that order) "
            "around the table"
        )
        raise ValueError(msg)
    return f"{text[: start + len(start_marker)]}\n{table}{text[end:]}"


def release_report(entries: Iterable[Mapping[str, Any]]) -> str:
    """Every cell's verdicts side by side (out/report.md)."""
    lines = [
        "# Release report",
        "",
        (
            "Generated by llm-release-builder from out/release.json; each cell's details are in "
            "its directory (validation.json, accuracy.json, perf.json, perf.png, engine.log)."
        ),
        "",
        "| Cell | Status | Accuracy Δ | Throughput × | Reference | Reason |",
        "|---|---|---|---|---|---|",
    ]
    details = []
    for e in sorted(entries, key=lambda e: str(e["id"])):
        gates = e.get("gates") or {}
        lines.append(
            "| [{id}]({path}/) | {status} | {accuracy} | {throughput} | {reference} | {reason} |".format(
                id=_cell(e["id"]),
                path=_cell(e["path"]),
                status=STATUS_TEXT.get(e["status"], e["status"]),
                accuracy=_cell(evaluation.accuracy_cell(gates)),
                throughput=_cell(evaluation.throughput_cell(gates)),
                reference=_cell(gates.get("reference", "—")),
                reason=_cell(e.get("reason", "")[:200]),
            )
        )
        rows = evaluation.accuracy_rows({"gates": gates})
        if rows:
            details += ["", f"## {e['id']}", ""]
            details += [
                "| Task | Metric | Reference | This cell | Δ | Interval | n | Verdict | Note |",
                "|---|---|---|---|---|---|---|---|---|",
            ]
            details += [
                "| {task} | {metric} | {reference} | {value} | {delta} | {interval} | {n} "
                "| {verdict} | {note} |".format(**{k: _cell(v) for k, v in r.items()})
                for r in rows
            ]
            perf = gates.get("perf") or {}
            if perf.get("note"):
                details += ["", f"Throughput: {_cell(perf['note'])}"]
            details += ["", f"![perf sweep]({e['path']}/perf.png)"]
    return "\n".join(lines + details) + "\n"
