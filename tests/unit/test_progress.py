"""Progress as a run reports it: the log parsers, the three displays, GitHub's commands."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from builder.cli import main
from builder.core import progress
from builder.core.progress import (
    CellEnded,
    CellStarted,
    Note,
    PhaseEnded,
    PhaseStarted,
    PhaseTick,
    RunStarted,
)
from builder.core.results import CellValidation, Check, SuiteResult
from builder.display import (
    GitHubDisplay,
    LiveDisplay,
    PlainDisplay,
    annotation,
    make_display,
    step_summary,
)
from builder.effects import progress as report
from tests.conftest import ROOT

LM_EVAL_LOG = (
    "INFO Building contexts for sums\n"
    "Requesting API:   0%|          | 0/20 [00:00<?, ?it/s]\r"
    "Requesting API:  45%|####5     | 9/20 [00:03<00:04,  2.61it/s]\r"
)
HOSTILE = "evil\n::warning::forged [bold red]markup[/] <script>x</script> | cell"


def test_the_request_bar_is_read_from_a_log_redrawn_with_carriage_returns() -> None:
    assert progress.bar_progress(LM_EVAL_LOG) == ("Requesting API", 9, 20)
    assert progress.bar_progress("no bar here\n") is None
    assert progress.last_line(LM_EVAL_LOG).startswith("Requesting API:  45%")


def test_the_last_error_line_of_an_engine_log() -> None:
    log = "INFO loading\nTraceback (most recent call last):\nRuntimeError: CUDA out of memory\nINFO bye\n"
    assert progress.error_line(log) == "RuntimeError: CUDA out of memory"
    assert progress.error_line("all fine\n") == ""


def failed_validation() -> CellValidation:
    accuracy = SuiteResult(
        name="accuracy",
        checks=(Check(name="sums", passed=False, detail="exact_match 0.10 < 0.50"),),
        duration_s=3.0,
        artifacts={"lm-eval.log": b"...", "accuracy.json": b"{}"},
    )
    return CellValidation(
        cell="m.cpu.bf16.e", status="failed", reason="suite(s) failed: accuracy", suites=(accuracy,)
    )


def test_a_failure_ends_with_the_reason_the_engine_error_and_the_file_to_read() -> None:
    validation = failed_validation()
    files = progress.files_to_read(validation, "out/m/m.cpu.bf16.e", engine_log=True)
    assert files == [
        "out/m/m.cpu.bf16.e/lm-eval.log",
        "out/m/m.cpu.bf16.e/engine.log",
        "out/m/m.cpu.bf16.e/validation.json",
    ]
    lines = progress.failure_summary(validation, "INFO\nERROR: worker died\nINFO\n", files)
    assert lines == (
        "why:    accuracy: sums: exact_match 0.10 < 0.50",
        "engine: ERROR: worker died",
        "read:   out/m/m.cpu.bf16.e/lm-eval.log",
    )


def test_the_engine_line_is_left_out_when_the_reason_already_says_it() -> None:
    error = (
        "engine exited with code 1 before it was healthy; last log lines:\nOSError: no such file"
    )
    validation = CellValidation(cell="c", status="failed", reason=error)
    lines = progress.failure_summary(validation, "OSError: no such file\n", ["out/c/engine.log"])
    assert lines == (
        "why:    engine exited with code 1 before it was healthy; last log lines:",
        "read:   out/c/engine.log",
    )


def a_run() -> list[progress.Event]:
    return [
        RunStarted(stage="release", total=2),
        CellStarted(cell="a.cpu.bf16.t", number=1, total=2),
        PhaseStarted(cell="a.cpu.bf16.t", phase="engine", detail="starting Transformers"),
        PhaseTick(cell="a.cpu.bf16.t", phase="engine", detail="3s: Uvicorn running"),
        PhaseEnded(cell="a.cpu.bf16.t", phase="engine", seconds=3.2),
        PhaseStarted(cell="a.cpu.bf16.t", phase="perf"),
        PhaseTick(cell="a.cpu.bf16.t", phase="perf", detail="point 1/2", done=0, total=2),
        PhaseEnded(cell="a.cpu.bf16.t", phase="perf", seconds=9.0),
        CellEnded(cell="a.cpu.bf16.t", status="passed", seconds=12.5),
        CellStarted(cell=HOSTILE, number=2, total=2),
        Note(line="weights 0123: 42 bytes"),
        CellEnded(
            cell=HOSTILE,
            status="failed",
            seconds=1.0,
            reason="suite(s) failed",
            summary=("why:    perf: 1/1@1: no output", "read:   out/x/engine.log"),
        ),
        PhaseStarted(cell="", phase="index", detail="release.json"),
        PhaseEnded(cell="", phase="index", seconds=0.1),
    ]


def plain_lines(display: PlainDisplay) -> list[str]:
    for event in a_run():
        display.event(event)
    display.close()
    assert isinstance(display.stream, io.StringIO)
    return display.stream.getvalue().splitlines()


def test_plain_lines_one_per_phase_change_and_the_failure_summary() -> None:
    lines = plain_lines(PlainDisplay(io.StringIO(), clock=False))
    assert lines[:5] == [
        "[1/2] a.cpu.bf16.t",
        "    engine: starting Transformers",
        "    perf",
        "    passed in 12.5s",
        "[2/2] evil\\x0a::warning::forged [bold red]markup[/] <script>x</script> | cell",
    ]
    assert lines[-4:] == [
        "    failed in 1.0s",
        "      why:    perf: 1/1@1: no output",
        "      read:   out/x/engine.log",
        "index: release.json",
    ]
    assert not any(line.startswith("::") for line in lines)


def test_plain_lines_are_timestamped_and_verbose_adds_the_news() -> None:
    lines = plain_lines(PlainDisplay(io.StringIO(), verbose=True))
    assert all(line[:8].count(":") == 2 and line[8] == " " for line in lines)
    assert any(line.endswith("engine: 3s: Uvicorn running") for line in lines)


def test_quiet_keeps_only_the_failures() -> None:
    lines = plain_lines(PlainDisplay(io.StringIO(), quiet=True, clock=False))
    assert lines[0].endswith(": failed in 1.0s")
    assert lines[1:] == ["      why:    perf: 1/1@1: no output", "      read:   out/x/engine.log"]


def test_github_groups_each_cell_and_nothing_from_a_recipe_forges_a_command(
    tmp_path: Path,
) -> None:
    summary = tmp_path / "summary.md"
    display = GitHubDisplay(io.StringIO(), summary_path=summary)
    lines = plain_lines(display)
    commands = [line for line in lines if line.startswith("::")]
    assert commands == [
        "::group::[1/2] a.cpu.bf16.t",
        "::endgroup::",
        "::group::[2/2] evil\\x0a::warning::forged [bold red]markup[/] <script>x</script> | cell",
        "::endgroup::",
    ]
    text = summary.read_text()
    assert "| a.cpu.bf16.t | passed | 12 s |" in text
    assert "<script>" not in text
    assert "&lt;script&gt;" in text
    assert "\\| cell" in text  # the recipe's pipe cannot open a column


def test_an_annotation_escapes_what_could_end_the_command() -> None:
    line = annotation(
        "error",
        "bad value\n::add-mask::secret 100%",
        file="recipes/a,b:c.yaml",
        line=3,
        col=7,
        title="builder",
    )
    assert line == (
        "::error file=recipes/a%2Cb%3Ac.yaml,line=3,col=7,title=builder::"
        "bad value%0A::add-mask::secret 100%25"
    )
    assert "\n" not in line


def test_the_live_view_draws_text_never_markup() -> None:
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, width=100, color_system=None)
    display = LiveDisplay(console)
    for event in a_run():
        display.event(event)
    display.close()
    out = stream.getvalue()
    assert "[bold red]markup[/]" in out  # shown as typed, not interpreted
    assert "why:    perf: 1/1@1: no output" in out
    assert "\x1b]" not in out.replace("\x1b[", "")  # no OSC sequence (links, titles)


def test_the_display_follows_where_output_goes(tmp_path: Path) -> None:
    assert isinstance(make_display(io.StringIO(), env={}), PlainDisplay)
    github = make_display(io.StringIO(), env={"GITHUB_ACTIONS": "true"})
    assert isinstance(github, GitHubDisplay)


def test_events_reach_the_installed_sink_with_their_cell_and_phase() -> None:
    seen: list[progress.Event] = []
    with report.reporting(seen.append), report.cell("c"), report.phase("perf"):
        report.tick("point 1/2", done=0, total=2)
    report.tick("nobody listens")  # no sink: dropped
    assert [type(e).__name__ for e in seen] == ["PhaseStarted", "PhaseTick", "PhaseEnded"]
    tick = seen[1]
    assert isinstance(tick, PhaseTick)
    assert (tick.cell, tick.phase, tick.done, tick.total) == ("c", "perf", 0, 2)


def test_a_phase_that_raises_ends_failed() -> None:
    seen: list[progress.Event] = []
    with pytest.raises(RuntimeError), report.reporting(seen.append), report.phase("weights"):
        raise RuntimeError
    ended = seen[-1]
    assert isinstance(ended, PhaseEnded)
    assert not ended.ok


def test_step_summary_totals() -> None:
    display = GitHubDisplay(io.StringIO(), summary_path=None)
    plain_lines(display)
    assert step_summary(display.tally).startswith("### builder: 2/2 cells: 1 failed, 1 passed")


def test_a_malformed_recipe_in_github_actions_is_an_annotation_on_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("conf", "templates", "tasks"):
        shutil.copytree(ROOT / name, tmp_path / name)
    (tmp_path / "recipes").mkdir()
    text = (ROOT / "recipes" / "tiny-llama.yaml").read_text()
    bad = text.replace("matrix:\n", "matrix:\n  chips: [cpu]\n", 1)
    (tmp_path / "recipes" / "tiny-llama.yaml").write_text(bad)
    line = bad.splitlines().index("  chips: [cpu]") + 1
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert main(["lint", "--root", str(tmp_path)]) == 2
    out = capsys.readouterr().out
    assert f"::error file=recipes/tiny-llama.yaml,line={line},col=3,title=builder::" in out
    assert "did you mean" in out
