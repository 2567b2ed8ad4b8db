"""The command line: plan output, the GitHub matrix, lint, and errors as users see them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from builder.cli import main
from tests.conftest import ROOT


def run_cli(
    capsys: pytest.CaptureFixture[str], command: str, *argv: str, root: Path = ROOT
) -> tuple[int, str, str]:
    code = main([command, "--root", str(root), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_plan_explain_lists_built_and_excluded(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "plan", "--explain")
    assert code == 0
    assert "tiny-llama.cpu.bf16.transformers" in out
    assert "qwen3-8b.metax.w8a8.vllm" in out
    assert "excluded by chip=ascend, quantization=fp8" in out
    assert "does not support" in out


def test_plan_json_is_data(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "plan", "recipe=qwen3-8b", "chip=metax", "--format", "json")
    data = json.loads(out)
    assert code == 0
    assert {c["id"] for c in data["cells"]} == {
        "qwen3-8b.metax.bf16.vllm",
        "qwen3-8b.metax.fp8.vllm",
        "qwen3-8b.metax.w8a8.vllm",
    } - {e["id"] for e in data["excluded"]}
    assert all(c["serve_args"]["tensor_parallel_size"] == 2 for c in data["cells"])


def test_github_matrix_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "plan", "--format", "github")
    assert code == 0
    assert "\n" not in out.strip(), "GITHUB_OUTPUT needs one line"
    matrix = json.loads(out)
    assert set(matrix) == {"include"}
    assert 0 < len(matrix["include"]) <= 256
    for entry in matrix["include"]:
        assert set(entry) == {"id", "recipe", "chip", "quantization", "engine", "runs-on"}
        assert entry["runs-on"]
        assert all(isinstance(label, str) for label in entry["runs-on"])
    cpu = next(e for e in matrix["include"] if e["id"] == "tiny-llama.cpu.bf16.transformers")
    assert cpu["runs-on"] == ["ubuntu-latest"]


def test_catalog_override_reaches_the_plan(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        capsys, "plan", "recipe=tiny-llama", "settings.registry=example.org/me", "--format", "json"
    )
    assert code == 0
    assert json.loads(out)["cells"][0]["image"].startswith("example.org/me/tiny-llama:")


def test_unknown_override_key_suggests(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "plan", "chip.cpu.base_imag.transformers=x")
    assert code == 2
    assert "did you mean 'base_image'?" in err


def test_unknown_selection_suggests(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "plan", "chip=metx")
    assert code == 2
    assert "unknown chip 'metx'" in err
    assert "did you mean 'metax'?" in err


@pytest.mark.integration
def test_lint_shipped_recipes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "lint")
    assert code == 0
    assert out.count(": ok (") == len(list((ROOT / "recipes").glob("*.yaml")))


@pytest.mark.integration
def test_lint_reference_must_be_built(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recipe = project / "recipes" / "tiny-llama.yaml"
    recipe.write_text(
        recipe.read_text().replace("reference: {chip: cpu", "reference: {chip: nvidia")
    )
    code, _, err = run_cli(capsys, "lint", root=project)
    assert code == 2
    assert "recipes/tiny-llama.yaml:" in err
    assert "validate.reference: reference cell" in err


@pytest.mark.integration
@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("  license:", "  licence:"), "model.licence: unknown key; expected one of"),
        (("engine: [transformers]", "engine: [transformers"), "invalid YAML"),
        (("chip: [cpu]", "chip: cpu"), "matrix.chip: expected a list, got the string 'cpu'"),
        (("chip: [cpu]", "chip: [cpuu]"), "unknown chip 'cpuu'; expected one of"),
    ],
)
def test_bad_recipe_exit_code_and_message(
    project: Path, change: tuple[str, str], expected: str
) -> None:
    recipe = project / "recipes" / "tiny-llama.yaml"
    recipe.write_text(recipe.read_text().replace(*change))
    done = subprocess.run(
        [sys.executable, "-m", "builder", "plan", "--root", str(project)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error: recipes/tiny-llama.yaml:")
    assert expected in done.stderr
