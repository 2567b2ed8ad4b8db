"""The GitHub Actions workflows: actionlint passes, and the rules the design sets hold."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
NAMES = ("release.yml", "build-cells.yml", "recipes.yml")


def actionlint() -> str:
    """The actionlint binary the test extra installs (next to this Python, or on PATH)."""
    beside = Path(sys.executable).parent / "actionlint"
    found = str(beside) if beside.is_file() else shutil.which("actionlint")
    if found is None:
        pytest.fail("actionlint is not installed; pip install -e '.[test]'")
    return found


def lint(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [actionlint(), "-no-color", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )


def workflow(name: str) -> dict[Any, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    assert isinstance(data, dict)
    return data


@pytest.mark.integration
def test_actionlint_passes_on_every_workflow() -> None:
    assert sorted(p.name for p in WORKFLOWS.glob("*.yml")) == sorted(NAMES)
    done = lint(*(WORKFLOWS / n for n in NAMES))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.integration
def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    """The check above can fail: a typo in an expression is reported."""
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    original = (WORKFLOWS / "build-cells.yml").read_text()
    text = original.replace("inputs.shards", "inputs.shrds")
    assert text != original  # the typo is really planted
    (folder / "build-cells.yml").write_text(text)
    done = lint(folder / "build-cells.yml")
    assert done.returncode != 0
    assert "shrds" in done.stdout


def test_cells_fan_out_to_their_chips_runners_without_fail_fast() -> None:
    job = workflow("build-cells.yml")["jobs"]["cell"]
    assert job["strategy"]["fail-fast"] is False
    assert job["strategy"]["matrix"] == "${{ fromJSON(needs.matrix.outputs.matrix) }}"
    assert job["needs"] == "matrix"
    # The shard's cells are recomputed from the plan, by index: nothing large is handed over.
    runs = " ".join(
        s.get("run", "") for s in workflow("build-cells.yml")["jobs"]["matrix"]["steps"]
    )
    assert 'builder plan --format github --shard "$SHARD" --shards "$SHARDS"' in runs
    assert job["runs-on"] == "${{ matrix.runs-on }}"
    upload = next(
        s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact")
    )
    assert upload["with"]["name"] == "cell-${{ matrix.id }}"


def test_release_shards_the_matrix_and_publishes_only_on_dispatch_or_tag() -> None:
    data = workflow("release.yml")
    triggers = data[True]  # YAML 1.1 reads the key `on` as True
    assert "pull_request" not in triggers
    assert "pull_request_target" not in triggers
    jobs = data["jobs"]
    plan_step = next(s for s in jobs["plan"]["steps"] if s.get("id") == "plan")
    # The shard count is computed from the plan, never a number written here.
    assert "--shards auto" in plan_step["run"]
    job = jobs["shards"]
    assert job["uses"] == "./.github/workflows/build-cells.yml"
    assert job["strategy"]["matrix"]["shard"] == "${{ fromJSON(needs.plan.outputs.shards) }}"
    assert job["with"]["shard"] == "${{ matrix.shard }}"
    assert set(jobs["assemble"]["needs"]) == {"plan", "shards"}
    # Only the publish job holds tokens, in a protected environment, and runs no engine.
    publish = jobs["publish"]
    assert publish["if"] == (
        "github.event_name == 'workflow_dispatch' || startsWith(github.ref, 'refs/tags/')"
    )
    assert publish["environment"] == "release"
    assert publish["needs"] == ["assemble"]
    runs = " ".join(s.get("run", "") for s in publish["steps"])
    assert "builder publish" in runs
    assert "builder release" not in runs
    assert "builder validate" not in runs
    for name, job in jobs.items():
        text = yaml.safe_dump(job)
        if name != "publish":
            assert "secrets." not in text, f"job {name} must hold no secrets"


def test_pull_requests_lint_and_diff_into_the_job_summary() -> None:
    data = workflow("recipes.yml")
    assert set(data[True]) == {"pull_request"}
    assert data["permissions"] == {"contents": "read"}
    runs = [s.get("run", "") for s in data["jobs"]["lint"]["steps"]]
    assert "builder lint" in [r.split("#")[0].strip() for r in runs]  # every recipe
    # Unpinned Hub sources fail a pull request in the recipes it adds or changes.
    assert any(
        r.startswith("git diff -z --name-only") and r.endswith("xargs -0 -r builder lint --strict")
        for r in runs
    )
    assert any(
        r.startswith("builder diff --base") and r.endswith('>> "$GITHUB_STEP_SUMMARY"')
        for r in runs
    )


PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}  # v[0-9]+(?:\.[0-9]+){0,2}$")


def test_every_action_is_pinned_by_commit_sha_with_its_tag_in_a_comment() -> None:
    """A tag can be moved to other code; a commit cannot (SECURITY.md, CI rule 4)."""
    seen = 0
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            found = re.match(r"^\s*(?:-\s+)?uses:\s*(.*)$", line)
            if not found or found.group(1).startswith("./"):
                continue  # a reusable workflow of this repository is pinned by the checkout
            seen += 1
            assert PINNED.match(found.group(1)), f"{path.name}:{number}: {found.group(1)}"
    assert seen >= 5


def test_codeowners_covers_conf_templates_github_and_builder() -> None:
    """Every path outside recipes/ that steers a run needs an owner's review: the last
    matching CODEOWNERS line (GitHub's rule) must name one."""
    text = (ROOT / ".github" / "CODEOWNERS").read_text()
    rules = [line.split() for line in text.splitlines() if line.strip() and line[0] != "#"]
    for wanted in ("/conf/", "/templates/", "/.github/", "/builder/"):
        matching = [rule for rule in rules if wanted.startswith(rule[0].rstrip("*"))]
        assert matching, f"no CODEOWNERS rule for {wanted}"
        owners = matching[-1][1:]
        assert owners, f"{wanted}: the last matching rule names no owner"
        assert all(o.startswith("@") or "@" in o for o in owners), owners
