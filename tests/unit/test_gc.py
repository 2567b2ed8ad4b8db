"""``builder gc`` removes what no current cell refers to (and says how many bytes), keeps
everything a current cell needs, and with ``--keep N`` the N newest unused of each kind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from builder.cli import main
from builder.core.gc import Entry, size_text, unreferenced
from builder.core.plain import as_dict


def entry(kind: str, name: str, mtime: float, size: int = 10) -> Entry:
    return Entry(kind=kind, name=name, size=size, mtime=mtime)


def test_only_unreferenced_entries_go_and_keep_spares_the_newest() -> None:
    found = [
        entry("validation", "current", 1),
        entry("validation", "old", 2),
        entry("validation", "older", 1),
        entry("render", "r-old", 5),
        entry("variants", "v-current", 1),
    ]
    referenced = {"validation": {"current"}, "variants": {"v-current"}}
    assert [e.name for e in unreferenced(found, referenced)] == ["old", "older", "r-old"]
    assert [e.name for e in unreferenced(found, referenced, keep=1)] == ["older"]
    assert unreferenced(found, referenced, keep=5) == []


def test_sizes_read_as_people_read_them() -> None:
    assert [size_text(n) for n in (512, 1536, 12 * 2**20)] == ["512 B", "1.5 KiB", "12.0 MiB"]


@pytest.mark.integration  # render runs git and hadolint
def test_gc_removes_stale_entries_and_keeps_what_current_cells_use(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", "--root", str(project)]) == 0
    cache = project / "out" / ".cache" / "builds"
    kept = sorted(str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file())
    assert kept  # the render cached its cells
    stale = {
        cache / "validation" / ("0" * 64) / "validation.json": b"{}",
        cache / "validation" / ("1" * 64) / "validation.json": b"{}",
        cache / "render" / ("f" * 64) / "manifest.json": b"{}" * 100,
        cache / "cells" / "gone.cpu.bf16.vllm.json": b"{}",
        project / "out" / ".cache" / "variants" / ("e" * 64) / "weights" / "w": b"x" * 1000,
    }
    for path, data in stale.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    # Of the two unused validations, --keep 1 spares the newer (and the one of each other kind).
    os.utime(cache / "validation" / ("0" * 64), (1e9, 1e9))
    capsys.readouterr()

    assert main(["gc", "--dry-run", "--root", str(project)]) == 0
    out = capsys.readouterr().out
    assert "would free" in out
    assert "in 5 entries" in out
    assert all(path.exists() for path in stale)

    assert main(["gc", "--keep", "1", "--root", str(project)]) == 0
    out = capsys.readouterr().out
    assert "removed validation/" + "0" * 64 in out
    assert "render/" not in out
    assert main(["gc", "--root", str(project)]) == 0
    out = capsys.readouterr().out
    assert f"removed render/{'f' * 64} (200 B)" in out
    assert "removed validation/" + "1" * 64 in out
    assert "in 4 entries" in out
    assert not any(path.exists() for path in stale)
    after = sorted(str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file())
    assert after == kept
    # What gc kept is what a new render uses: it adds no entry.
    assert main(["render", "--root", str(project)]) == 0
    again = sorted(str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file())
    assert again == kept


def test_gc_tools_removes_only_tool_environments_no_current_cell_uses(
    project: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Tool environments are shared by every project: untouched by a plain gc; with
    --tools, those no quantizer of the current cells uses go, the ones in use stay."""
    from builder.effects.quantizers import gguf
    from builder.session import load_catalog

    tools = tmp_path / "tools"
    monkeypatch.setenv("LLMRB_TOOLS_DIR", str(tools))
    catalog = load_catalog(project / "conf", [])
    in_use = tools / gguf.tool_dir_name(as_dict(catalog.quantizers["gguf"]))
    stale = tools / "llama.cpp-converter-0.0.1-aaaaaaaaaaaa"
    for folder in (in_use, stale):
        (folder / "convert_hf_to_gguf.py").parent.mkdir(parents=True)
        (folder / "convert_hf_to_gguf.py").write_text("#")
    assert main(["gc", "--root", str(project)]) == 0
    assert "tools/" not in capsys.readouterr().out
    assert stale.exists()
    assert main(["gc", "--tools", "--root", str(project)]) == 0
    out = capsys.readouterr().out
    assert f"removed tools/{stale.name} (1 B)" in out
    assert not stale.exists()
    assert in_use.exists()
