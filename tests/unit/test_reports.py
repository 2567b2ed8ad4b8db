"""The ``--format json`` documents: each has ``schema_version`` 1 and the keys the README's
"Machine-readable output" lists (readers rely on them: keys are only added)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from builder.core import reports
from builder.core.cells import Exclusion, Plan
from builder.core.keys import CellChange
from builder.core.results import CellValidation
from builder.core.uploads import FileOp, LocalFile, UploadPlan
from builder.errors import Problem, SourceLoc


def roundtrip(document: reports.Document) -> reports.Document:
    """What a reader gets: the document as JSON text, parsed again."""
    loaded: reports.Document = json.loads(json.dumps(document))
    assert loaded["schema_version"] == reports.SCHEMA_VERSION == 1
    return loaded


def test_plan_keeps_its_keys_and_adds_the_version() -> None:
    excluded = Exclusion(
        recipe="a",
        chip="cpu",
        quantization="fp8",
        engine="vllm",
        reason="chip cpu does not support fp8",
        rule="x",
    )
    plan = Plan(cells=(), excluded=(excluded,), recipes=())
    doc = roundtrip(reports.plan_doc(plan))
    assert set(doc) == {"schema_version", "cells", "excluded"}
    assert doc["excluded"] == [{"id": "a.cpu.fp8.vllm", "reason": excluded.reason, "rule": "x"}]


def test_outcomes_name_each_cell_and_count_them() -> None:
    done = [
        (CellValidation(cell="a", status="passed"), ""),
        (CellValidation(cell="b", status="failed", reason="accuracy gate"), ""),
        (CellValidation(cell="c", status="passed"), "validation reused from 2026-01-01"),
    ]
    doc = roundtrip(reports.outcomes_doc("validate", done, seconds=1.234, out_dir="/p/out"))
    assert doc["command"] == "validate"
    assert doc["seconds"] == 1.2
    assert doc["totals"] == {"failed": 1, "passed": 2}
    assert doc["cells"][1] == {
        "id": "b",
        "status": "failed",
        "reason": "accuracy gate",
        "reused": "",
    }
    assert doc["cells"][2]["reused"].startswith("validation reused")


def test_lint_findings_say_where_and_how_bad() -> None:
    loc = SourceLoc(file="recipes/x.yaml", line=3, column=5)
    error = Problem(loc=loc, key="model.licence", message="unknown key")
    warning = Problem(loc=SourceLoc(file="recipes/y.yaml"), key="", message="unpinned")
    doc = roundtrip(reports.lint_doc(errors=[error], warnings=[warning]))
    assert doc["ok"] is False
    assert doc["findings"] == [
        {
            "file": "recipes/x.yaml",
            "line": 3,
            "column": 5,
            "key": "model.licence",
            "severity": "error",
            "message": "unknown key",
        },
        {
            "file": "recipes/y.yaml",
            "line": None,
            "column": None,
            "key": "",
            "severity": "warning",
            "message": "unpinned",
        },
    ]
    recipe = reports.LintedRecipe(file="recipes/y.yaml", cells=2, excluded=1, notes=("n",))
    passed = roundtrip(reports.lint_doc(errors=[], warnings=[], recipes=[recipe]))
    assert passed["ok"] is True
    assert passed["recipes"] == [
        {"file": "recipes/y.yaml", "cells": 2, "excluded": 1, "notes": ["n"]}
    ]


def test_diff_lists_each_change() -> None:
    changes = [
        CellChange(cell="a", change="added"),
        CellChange(cell="b", change="changed", parts=("model_source",)),
    ]
    doc = roundtrip(reports.diff_doc(changes, base="main"))
    assert doc["base"] == "main"
    assert doc["changes"][1] == {"cell": "b", "change": "changed", "parts": ["model_source"]}
    assert doc["totals"] == {"added": 1, "changed": 1}


@dataclass(frozen=True)
class FakeDeployment:
    cell: str = "tiny-llama.cpu.bf16.transformers"
    runtime: str = "host"
    url: str = "http://127.0.0.1:8000/v1"
    devices: tuple[int, ...] = (0, 1)
    port: int = 8000
    started_at: str = "2026-01-01T00:00:00+00:00"
    request_model: str = "tiny-llama"
    log: str = "/p/out/deployments/x.log"
    pid: int | None = 42
    container: str = ""
    image: str = ""


def test_deploy_and_status_show_the_deployment() -> None:
    found = FakeDeployment()
    deployed = roundtrip(reports.deploy_doc(found, seconds=3.21))
    assert deployed["seconds"] == 3.2
    assert deployed["deployment"]["devices"] == [0, 1]
    assert {"cell", "url", "runtime", "devices"} <= set(deployed["deployment"])
    status = roundtrip(reports.status_doc([(found, "healthy", 61.0)]))
    (row,) = status["deployments"]
    assert row["state"] == "healthy"
    assert row["uptime_s"] == 61.0
    assert row["url"] == found.url
    assert roundtrip(reports.status_doc([]))["deployments"] == []


@dataclass(frozen=True)
class FakeResult:
    cell: str
    target: str
    status: str
    detail: str = ""
    uploaded_bytes: int = 0
    commit: str = ""
    plan: UploadPlan | None = None


@dataclass(frozen=True)
class FakeEntry:
    kind: str
    name: str
    size: int


def test_publish_gc_and_the_rest() -> None:
    results = [
        FakeResult("a", "local", "published", uploaded_bytes=10),
        FakeResult("b", "hf", "failed"),
    ]
    published = roundtrip(reports.publish_doc(results, dry_run=False))
    assert published["totals"] == {"failed": 1, "published": 1}
    assert published["results"][0]["uploaded_bytes"] == 10
    assert published["results"][0]["plan"] is None
    swept = roundtrip(reports.gc_doc([FakeEntry("render", "f" * 64, 300)], dry_run=True))
    assert swept["dry_run"] is True
    assert swept["freed_bytes"] == 300
    assert swept["removed"] == [{"kind": "render", "name": "f" * 64, "bytes": 300}]
    assert roundtrip(reports.export_doc(["out/images/a.tar"]))["written"] == ["out/images/a.tar"]
    assert (
        roundtrip(reports.baseline_doc("a", "baselines/a/a.json"))["wrote"] == "baselines/a/a.json"
    )


@dataclass(frozen=True)
class FakeBuilt:
    tag: str = "builder-cpu-base:abc"
    image_id: str = "sha256:0123"
    key: str = "abc"
    ran: tuple[str, ...] = ()


def test_base_image_says_what_it_ran() -> None:
    doc = roundtrip(reports.base_image_doc(FakeBuilt()))
    assert doc == {
        "schema_version": 1,
        "tag": "builder-cpu-base:abc",
        "image_id": "sha256:0123",
        "key": "abc",
        "ran": [],
    }


def test_a_publish_result_shows_its_upload_plan() -> None:
    sent = LocalFile(path="README.md", source="cell/README.md", size=5, sha256="a", git_sha1="b")
    plan = UploadPlan(
        cell="a",
        target="local",
        kind="local",
        repo="FlagRelease/A",
        revision="main",
        staging="",
        tag="",
        qualified=True,
        ops=(FileOp(file=sent, state="new"),),
    )
    doc = roundtrip(
        reports.publish_doc([FakeResult("a", "local", "planned", plan=plan)], dry_run=True)
    )
    assert doc["results"][0]["plan"] == {
        "repo": "FlagRelease/A",
        "revision": "main",
        "qualified": True,
        "files": [{"path": "README.md", "state": "new", "bytes": 5}],
        "extra": [],
        "upload_bytes": 5,
    }
