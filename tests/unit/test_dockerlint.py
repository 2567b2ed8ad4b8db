"""hadolint on rendered Dockerfiles: findings fail `builder lint` unless a chip waives the rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.cli import main
from builder.core.dockerlint import Finding, unwaived, waiver_problems
from builder.effects.hadolint import hadolint


@pytest.mark.integration
def test_hadolint_runs_and_reports() -> None:
    findings = hadolint("FROM python:3.11\nWORKDIR app\n")
    assert [(f.code, f.line) for f in findings] == [("DL3000", 2)]
    assert str(findings[0]).startswith("Dockerfile:2: DL3000 (error) Use absolute WORKDIR")


@pytest.mark.integration
def test_inline_ignore_pragmas_do_not_count() -> None:
    text = "FROM python:3.11\n# hadolint ignore=DL3000\nWORKDIR app\n"
    assert [f.code for f in hadolint(text)] == ["DL3000"]


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
