"""The README table: replaced only between the markers, stable, escaped."""

from __future__ import annotations

import pytest

from builder.core.report import END, START, release_table, replace_between_markers


def entry(cell_id: str, status: str = "passed") -> dict[str, str]:
    return {
        "id": cell_id,
        "model": "M|x",
        "chip": "cpu",
        "quantization": "bf16",
        "engine": "e",
        "status": status,
        "release_repo": "Org/M",
        "image": "img:1",
    }


def test_rows_are_sorted_and_escaped() -> None:
    table = release_table([entry("b"), entry("a", "awaiting-runner")])
    lines = table.splitlines()
    assert lines[2].startswith("| M\\|x | cpu | bf16 | e | ⏳ awaiting runner |")
    assert len(lines) == 4


def test_replace_is_idempotent_and_keeps_the_rest() -> None:
    text = f"# T\n\n{START}\nold\n{END}\ntail\n"
    once = replace_between_markers(text, release_table([entry("a")]), file="README.md")
    assert once.startswith("# T\n\n" + START + "\n| Model |")
    assert once.endswith(f"{END}\ntail\n")
    assert replace_between_markers(once, release_table([entry("a")]), file="README.md") == once


def test_missing_markers_name_the_file() -> None:
    with pytest.raises(ValueError, match=r"README\.md: needs the markers"):
        replace_between_markers("no markers", "", file="README.md")
