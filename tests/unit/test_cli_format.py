"""What the CLI prints fits the terminal (COLUMNS), ``--wide`` prints it whole, and
``--format json`` prints one document on stdout and nothing else there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builder.cli import main
from builder.effects.deployments import Deployment, save
from tests.conftest import ROOT


def run_cli(
    capsys: pytest.CaptureFixture[str], command: str, *argv: str, root: Path = ROOT
) -> tuple[int, str, str]:
    code = main([command, "--root", str(root), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def widest(text: str) -> int:
    return max(len(line) for line in text.split("\n"))


@pytest.mark.parametrize("columns", [60, 100])
@pytest.mark.parametrize("explain", [[], ["--explain"]], ids=["plan", "explain"])
def test_plan_fits_columns(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    columns: int,
    explain: list[str],
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    code, out, _ = run_cli(capsys, "plan", *explain)
    assert code == 0
    assert widest(out) <= columns
    # Every cell id is shown whole (ids are never cut), the notes under the table too.
    assert "deepseek-r1-distill-qwen-7b.nvidia.gguf-q4_k_m.llamacpp" in out.split("\n")
    if explain:
        assert "excluded by chip=ascend, quantization=fp8" in out
    else:
        assert "(run with --explain" in out


def test_wide_and_pipes_print_tables_whole(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # stdout is no terminal here: without COLUMNS nothing is wrapped (CI logs, grep).
    monkeypatch.delenv("COLUMNS", raising=False)
    _, whole, _ = run_cli(capsys, "plan", "--explain")
    assert widest(whole) > 200
    assert "…" not in whole
    monkeypatch.setenv("COLUMNS", "100")
    _, wide, _ = run_cli(capsys, "plan", "--explain", "--wide")
    assert wide == whole


def test_plan_json_has_a_schema_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "plan", "recipe=tiny-llama", "--format", "json")
    data = json.loads(out)
    assert code == 0
    assert data["schema_version"] == 1
    assert {"cells", "excluded"} <= set(data)
    assert err == ""


def test_a_json_command_that_fails_prints_its_error_to_stderr_only(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run_cli(capsys, "plan", "chip=metx", "--format", "json")
    assert code == 2
    assert out == ""
    assert err.startswith("error: ")


def record(project: Path, cell: str, url: str) -> None:
    # A host deployment whose process is gone: status shows it dead (nothing is started).
    save(
        project / "out",
        Deployment(
            cell=cell,
            runtime="host",
            port=8000,
            bind="127.0.0.1",
            devices=(0, 1),
            token="no-such-token-" + cell,
            log=str(project / "out" / "deployments" / f"{cell}.log"),
            started_at="2026-01-01T00:00:00+00:00",
            url=url,
            health_url=url + "/health",
            request_model=cell,
        ),
    )


def test_status_fits_and_has_json(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run_cli(capsys, "status", "--format", "json", root=project)
    assert (code, json.loads(out)) == (0, {"schema_version": 1, "deployments": []})
    cell = "tiny-llama.cpu.bf16.transformers"
    url = "http://127.0.0.1:8000/v1/" + "long-path/" * 12
    record(project, cell, url)
    monkeypatch.setenv("COLUMNS", "60")
    code, out, _ = run_cli(capsys, "status", root=project)
    assert code == 0
    assert widest(out) <= 60
    assert cell in out.split("\n")
    assert "dead" in out
    code, out, _ = run_cli(capsys, "status", "--format", "json", root=project)
    (row,) = json.loads(out)["deployments"]
    assert (row["cell"], row["url"], row["state"], row["devices"]) == (cell, url, "dead", [0, 1])


@pytest.mark.integration  # lint runs hadolint
def test_lint_json_findings(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "lint", "--format", "json", root=project)
    data = json.loads(out)
    assert code == 0
    assert data["schema_version"] == 1
    assert data["ok"] is True
    assert [r["file"] for r in data["recipes"]] == ["recipes/tiny-llama.yaml"]
    recipe = project / "recipes" / "tiny-llama.yaml"
    recipe.write_text(recipe.read_text().replace("  license:", "  licence:"))
    code, out, err = run_cli(capsys, "lint", "--format", "json", root=project)
    data = json.loads(out)
    assert code == 2
    assert data["ok"] is False
    finding = data["findings"][0]
    assert finding["file"] == "recipes/tiny-llama.yaml"
    assert isinstance(finding["line"], int)
    assert isinstance(finding["column"], int)
    assert finding["severity"] == "error"
    assert finding["key"] == "model.licence"
    assert "unknown key" in finding["message"]
    assert all(f["severity"] == "error" for f in data["findings"])
    assert err.startswith("error: recipes/tiny-llama.yaml:")


@pytest.mark.integration  # render runs git and hadolint
def test_render_and_gc_json(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "render", "--format", "json", root=project)
    data = json.loads(out)
    assert code == 0
    assert data["schema_version"] == 1
    assert data["command"] == "render"
    assert data["totals"] == {"rendered": len(data["cells"])}
    assert {"id", "status", "reason", "reused"} <= set(data["cells"][0])
    assert err, "progress lines go to stderr"
    stale = project / "out" / ".cache" / "builds" / "render" / ("f" * 64) / "manifest.json"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"{}")
    code, out, _ = run_cli(capsys, "gc", "--dry-run", "--format", "json", root=project)
    data = json.loads(out)
    assert code == 0
    assert data["dry_run"] is True
    assert {"kind": "render", "name": "f" * 64, "bytes": 2} in data["removed"]
    assert data["freed_bytes"] >= 2
