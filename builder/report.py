"""Release indexes and the README table: pure functions from results to text."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

START = "<!-- START:models -->"
END = "<!-- END:models -->"

STATUS_TEXT = {
    "passed": "✅ passed",
    "failed": "❌ failed",
    "awaiting-runner": "⏳ awaiting runner",
    "rendered": "📝 rendered",
}


def dumps(data: object) -> str:
    """Stable JSON text: sorted keys, two-space indent, final newline."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def release_table(entries: Iterable[Mapping[str, Any]]) -> str:
    """The Markdown release table, one row per cell, sorted by cell id."""
    header = [
        "| Model | Chip | Quantization | Engine | Status | Release name | Image |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = [
        "| {model} | {chip} | {quantization} | {engine} | {status} | {name} | `{image}` |".format(
            model=_cell(e["model"]),
            chip=_cell(e["chip"]),
            quantization=_cell(e["quantization"]),
            engine=_cell(e["engine"]),
            status=STATUS_TEXT.get(e["status"], e["status"]),
            name=_linked(e),
            image=_cell(e["image"]),
        )
        for e in sorted(entries, key=lambda e: str(e["id"]))
    ]
    return "\n".join(header + rows) + "\n"


HUB_LINKS = {"huggingface": "HF", "modelscope": "ModelScope"}


def _linked(entry: Mapping[str, Any]) -> str:
    """The release name, with a link to each hub it was published to (and only those)."""
    links = [
        f"[{label}]({entry['published'][t]['url']})"
        for kind, label in HUB_LINKS.items()
        for t in sorted(entry.get("published", {}))
        if entry["published"][t].get("kind") == kind
    ]
    name = _cell(entry["release_repo"])
    return f"{name} ({' · '.join(links)})" if links else name


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def replace_between_markers(text: str, table: str, *, file: str) -> str:
    """``text`` with everything between the markers replaced by ``table``."""
    start = text.find(START)
    end = text.find(END)
    if start < 0 or end < 0 or end < start:
        msg = f"{file}: needs the markers {START} and {END} (in that order) around the table"
        raise ValueError(msg)
    return f"{text[: start + len(START)]}\n{table}{text[end:]}"
