"""Golden files, byte for byte: each rendered file of three cells (Dockerfile, model card,
serve.sh, anythingllm.json) and a cell's manifest.json, the README table, the catalog page
and the GitHub matrix hand-off.

`nox -s update_golden` (UPDATE_GOLDEN=1) rewrites them; reviewers read the diff.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from builder.core import deploy, gates
from builder.core.catalog_model import Catalog
from builder.core.catalog_page import catalog_markdown
from builder.core.cells import Cell, Plan
from builder.core.index import index_entry, manifest
from builder.core.matrix import Selection, expand
from builder.core.plain import dumps
from builder.core.plan_view import github_handoff, github_shard_output
from builder.core.recipes import load_recipes, parse_recipe, recipe_files
from builder.core.render import render_cell
from builder.core.report import release_table
from builder.core.results import CellValidation, Check, SuiteResult
from builder.core.variants import variant_spec
from tests.conftest import ROOT

GOLDEN = ROOT / "tests" / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"

POINT = {
    "input_len": 64,
    "output_len": 16,
    "concurrency": 4,
    "num_prompts": 8,
    "completed": 8,
    "failed": 0,
    "mean_prompt_tokens": 66.0,
    "mean_output_tokens": 16.0,
    "request_throughput": 2.5,
    "output_throughput": 40.0,
    "ttft_ms": {"mean": 50.0, "p50": 48.0, "p90": 70.0, "p99": 80.0},
    "tpot_ms": {"mean": 20.0, "p50": 19.5, "p90": 25.0, "p99": 30.0},
    "itl_ms": {"mean": 20.0, "p50": 19.0, "p90": 25.0, "p99": 31.0},
    "trial_count": 3,
    "trials": [{"output_throughput": t, "completed": 8} for t in (39.0, 40.0, 41.5)],
    "output_throughput_trials": {"median": 40.0, "min": 39.0, "max": 41.5},
    "comparable": True,
}
REF_TRIALS = [{"output_throughput": t, "completed": 8} for t in (41.0, 42.0, 43.0)]
_ACCURACY = gates.compare(
    "tiny_arith_gen",
    {"metric": "exact_match", "value": 0.97, "n": 100, "samples": {}},
    {"metric": "exact_match", "value": 1.0, "n": 100},
    max_drop=0.05,
    confidence=0.95,
)
_PERF = gates.perf_gate(
    {"hardware": "cpu", "points": [POINT]},
    {"hardware": "cpu", "points": [{**POINT, "output_throughput": 42.0, "trials": REF_TRIALS}]},
    min_ratio=0.8,
    is_reference=False,
)
GATES = {
    "reference": "tiny-llama.cpu.bf16.transformers (this run)",
    "accuracy": [_ACCURACY.to_json()],
    "perf": _PERF.to_json(),
}

# A fixed validation so the card's evaluation section is pinned too.
PASSED = CellValidation(
    cell="tiny-llama.cpu.bf16.transformers",
    status="passed",
    host="Linux x86_64",
    runner_labels=("ubuntu-latest",),
    suites=(
        SuiteResult(
            name="smoke",
            duration_s=1.0,
            checks=(
                Check(name="health", passed=True, detail="health answered 200"),
                Check(
                    name="chat completion", passed=True, detail="8 token(s), finish_reason=length"
                ),
            ),
        ),
        SuiteResult(
            name="accuracy",
            duration_s=30.0,
            checks=(Check(name="tiny_arith_gen", passed=True, detail="exact_match = 0.9700"),),
            data={"tasks": {"tiny_arith_gen": {"metric": "exact_match", "value": 0.97, "n": 100}}},
        ),
        SuiteResult(
            name="perf",
            duration_s=5.0,
            checks=(Check(name="64/16@4", passed=True, detail="40.0 tok/s out"),),
            data={"tool": "builder", "hardware": "cpu", "points": [POINT]},
        ),
    ),
    gates=GATES,
)
# The same cell as a GGUF Q8_0 variant, with the record of the weights it was validated with.
GGUF_WEIGHTS = {
    "key": "0" * 64,
    "bytes": 646_208,
    "parameters": 584_320,
    "bits_per_weight": 8.53,
    "tool": "llama.cpp convert_hf_to_gguf.py (llama-cpp-python 0.3.36 source) --outtype q8_0",
    "seconds": 5.2,
    "files": {"Tiny-Llama-Q8_0.gguf": {"sha256": "ab" * 32, "bytes": 646_208}},
    "served_as": "dequantized by transformers' GGUF reader",
}
PASSED_GGUF = dataclasses.replace(
    PASSED, cell="tiny-llama.cpu.gguf-q8_0.transformers", engine={"weights": GGUF_WEIGHTS}
)
VALIDATIONS = {"tiny-llama.cpu.bf16.transformers": PASSED, PASSED_GGUF.cell: PASSED_GGUF}
CELLS = (*VALIDATIONS, "qwen3-8b.metax.w8a8.vllm")
RENDERED = ("Dockerfile", "README.md", "serve.sh", "anythingllm.json")


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"{path} is missing; run `nox -s update_golden`"
    assert text == path.read_text(encoding="utf-8"), f"{name} changed; run `nox -s update_golden`"


@pytest.fixture(scope="module")
def plan(catalog: Catalog) -> Plan:
    recipes = load_recipes(recipe_files(ROOT / "recipes"), catalog, ROOT)
    return expand(recipes, catalog, Selection())


def cell(plan: Plan, cell_id: str) -> Cell:
    return next(c for c in plan.cells if c.id == cell_id)


@pytest.mark.parametrize("cell_id", CELLS)
def test_rendered_cell(plan: Plan, catalog: Catalog, cell_id: str) -> None:
    target = cell(plan, cell_id)
    loaded = next(r for r in plan.recipes if r.name == target.recipe)
    validation = VALIDATIONS[cell_id].to_json() if cell_id in VALIDATIONS else None
    files = render_cell(ROOT / "templates", target, loaded, catalog, validation)
    for name in RENDERED:
        check_golden(f"{cell_id}/{name}", files[name])


def test_manifest(plan: Plan, catalog: Catalog) -> None:
    """What a cell's folder holds and what made it: the GGUF cell, its weights recorded."""
    target = cell(plan, PASSED_GGUF.cell)
    loaded = next(r for r in plan.recipes if r.name == target.recipe)
    validation = PASSED_GGUF.to_json()
    files = {
        name: text.encode()
        for name, text in render_cell(
            ROOT / "templates", target, loaded, catalog, validation
        ).items()
    }
    files["validation.json"] = dumps(validation).encode()
    commit = {"commit": "0" * 40, "dirty": False}
    variant = variant_spec(loaded, catalog, target.quantization)
    made_of = manifest(target, loaded, catalog, variant, files, commit, GGUF_WEIGHTS)
    check_golden(f"{target.id}/manifest.json", dumps(made_of))


def test_github_matrix(plan: Plan, catalog: Catalog) -> None:
    """The $GITHUB_OUTPUT lines the release workflow's plan job hands its shard jobs, and
    the lines of the first of four shard jobs (its cells, recomputed from the plan)."""
    text = github_handoff(plan, 4) + github_shard_output(plan, catalog, 0, 4)
    check_golden("github-matrix.txt", text)


def test_readme_table(plan: Plan) -> None:
    recipes = {r.name: r for r in plan.recipes}
    entries = [
        index_entry(
            c,
            recipes[c.recipe],
            "passed" if c.chip == "cpu" else "awaiting-runner",
            "",
            GATES if c.chip == "cpu" else {},
        )
        for c in plan.cells
    ]
    check_golden("release-table.md", release_table(entries))


def test_catalog_page(plan: Plan, catalog: Catalog) -> None:
    recipes = {r.name: r for r in plan.recipes}
    measured = {
        "tiny-llama.cpu.bf16.transformers": (
            {"bytes": 2_400_000, "bits_per_weight": 32.0},
            {"median": 42.0, "spread": [41.0, 43.0]},
        ),
        PASSED_GGUF.cell: (GGUF_WEIGHTS, {"median": 40.0, "spread": [39.0, 41.5]}),
    }
    entries = {
        c.id: index_entry(
            c,
            recipes[c.recipe],
            "passed" if c.chip == "cpu" else "awaiting-runner",
            "",
            GATES if c.chip == "cpu" else {},
            *measured.get(c.id, (None, None)),
        )
        for c in plan.cells
    }
    page = catalog_markdown(plan.recipes, plan, catalog, entries)
    check_golden("catalog.md", page)
    # Every pair the matrices name is accounted for: built, or incompatible with its rule.
    assert "incompatible: " in page
    assert "(conf/chip/" in page


def test_golden_dir_has_no_strays() -> None:
    expected = {
        Path("release-table.md"),
        Path("catalog.md"),
        Path("github-matrix.txt"),
        Path(PASSED_GGUF.cell) / "manifest.json",
        *(Path("deploy") / f"{chip}.txt" for chip in ("nvidia", "ascend", "metax")),
        *(Path(c) / n for c in CELLS for n in RENDERED),
    }
    found = {p.relative_to(GOLDEN) for p in GOLDEN.rglob("*") if p.is_file()}
    assert found == expected


DEPLOY_RECIPE = """\
model: {name: Deploy-Demo, source: "huggingface://org/Deploy-Demo@0123abc", license: mit}
matrix: {chip: [nvidia, ascend, metax], quantization: [bf16], engine: [vllm]}
release: {org: Demo}
"""


@pytest.mark.parametrize("chip", ["nvidia", "ascend", "metax"])
def test_deploy_commands_on_one_two_and_four_devices(catalog: Catalog, chip: str) -> None:
    """The card's docker run and `builder deploy`, from the same data, for 1, 2 and 4
    devices: each device listed in the visible-devices variable, one --device per device
    where the chip needs it, and the engine's tensor-parallel size set to match."""
    loaded = parse_recipe(
        DEPLOY_RECIPE, name="deploy-demo", file="deploy-demo.yaml", catalog=catalog
    )
    [target] = [c for c in expand([loaded], catalog, Selection()).cells if c.chip == chip]
    chip_conf, engine = catalog.chips[chip], catalog.engines[target.engine]
    sections = []
    for count in (1, 2, 4):
        placement = deploy.place(target, chip_conf, engine, tuple(range(count)))
        argv = deploy.docker_run(
            cell=target,
            chip=chip_conf,
            engine=engine,
            placement=placement,
            weights=deploy.host_weights(target),
            port=engine.port,
        )
        lines = deploy.shell_lines(argv)
        body = " \\\n  ".join(lines)
        sections.append(f"# {count} device(s)\n{deploy.deploy_line(target, placement)}\n{body}\n")
    check_golden(f"deploy/{chip}.txt", "\n".join(sections))


def test_a_container_validation_that_never_got_its_image_still_renders(
    plan: Plan, catalog: Catalog
) -> None:
    """A cell whose image was never built (the daemon unreachable) fails with that reason;
    its card says it was meant for the image, without an image id it does not have."""
    target = cell(plan, PASSED_GGUF.cell)
    loaded = next(r for r in plan.recipes if r.name == target.recipe)
    failed = dataclasses.replace(
        PASSED_GGUF,
        status="failed",
        reason="cannot reach the Docker daemon",
        runtime={"kind": "container"},
    )
    card = render_cell(ROOT / "templates", target, loaded, catalog, failed.to_json())["README.md"]
    assert "in this cell's image" in card
    assert "sha256:" not in card
