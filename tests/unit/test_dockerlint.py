"""hadolint on rendered Dockerfiles: findings fail `builder lint` unless a chip waives the rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.cli import main
from builder.core.dockerlint import Finding, unwaived, waiver_problems
from builder.effects import hadolint as hadolint_module
from builder.effects.hadolint import hadolint, hadolint_batch


@pytest.mark.integration
def test_hadolint_runs_and_reports() -> None:
    findings = hadolint("FROM python:3.11\nWORKDIR app\n")
    assert [(f.code, f.line) for f in findings] == [("DL3000", 2)]
    assert str(findings[0]).startswith("Dockerfile:2: DL3000 (error) Use absolute WORKDIR")


@pytest.mark.integration
def test_inline_ignore_pragmas_do_not_count() -> None:
    text = "FROM python:3.11\n# hadolint ignore=DL3000\nWORKDIR app\n"
    assert [f.code for f in hadolint(text)] == ["DL3000"]


@pytest.mark.integration
def test_batched_findings_go_to_their_own_dockerfile_across_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small chunks: several hadolint processes at once, and findings still land on the
    # Dockerfile they are about, the same as one run each; repeats are linted once.
    monkeypatch.setattr(hadolint_module, "CHUNK", 3)
    monkeypatch.setattr(hadolint_module, "_SEEN", {})
    clean = "FROM python:3.11\nWORKDIR /app\n"
    texts = [clean if n % 3 else f"FROM python:3.11\n# {n}\nWORKDIR app{n}\n" for n in range(40)]
    texts += texts[:5]
    batched = hadolint_batch(texts, tmp_path)
    assert batched == [hadolint(t) for t in texts]
    assert [bool(found) for found in batched] == [n % 3 == 0 for n in [*range(40), *range(5)]]
    assert len(list((tmp_path / "lint").glob("*.json"))) == len(set(texts))
    monkeypatch.setattr(hadolint_module, "_SEEN", {})
    assert hadolint_batch(texts, tmp_path) == batched  # from the cache on disk


def test_waivers_need_a_rule_and_a_reason() -> None:
    finding = Finding(code="DL3008", level="warning", line=1, message="pin")
    assert unwaived([finding], {"DL3008": "vendor image pins apt"}) == []
    assert unwaived([finding], {"DL3008": "  "}) == [finding]
    assert waiver_problems({"DL3008": "ok", "XX1": "why", "SC2086": ""}) == [
        "hadolint_waivers: SC2086: give the reason for the waiver",
        "hadolint_waivers: 'XX1' is not a hadolint rule (DL1234, SC1234)",
    ]


@pytest.fixture
def project(project: Path) -> Path:
    """The shared project, its Dockerfile template given a relative WORKDIR (DL3000)."""
    template = project / "templates" / "Dockerfile.j2"
    template.write_text(template.read_text().replace("EXPOSE", "WORKDIR app\nEXPOSE"))
    return project


@pytest.mark.integration
def test_lint_fails_on_a_finding_then_passes_with_a_waiver(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lint", "--root", str(project)]) == 2
    err = capsys.readouterr().err
    assert "recipes/tiny-llama.yaml: tiny-llama.cpu.bf16.transformers: Dockerfile:" in err
    assert "DL3000 (error) Use absolute WORKDIR" in err
    assert "waive DL3000 with a reason in conf/chip/cpu.yaml hadolint_waivers" in err

    chip = project / "conf" / "chip" / "cpu.yaml"
    chip.write_text(chip.read_text() + 'hadolint_waivers: {DL3000: "relative on purpose"}\n')
    assert main(["lint", "--root", str(project)]) == 0
    assert "tiny-llama.yaml: ok" in capsys.readouterr().out
