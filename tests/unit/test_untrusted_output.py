"""What the builder echoes back from a recipe reaches a terminal or a CI log as text only:
no escape sequence, no forged GitHub workflow command, no 200 KB line."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.cli import main
from builder.text import escape, line, lines, shown
from tests.unit.test_untrusted_recipes import ONE_CELL

RECIPE = ONE_CELL.replace("chip: [nvidia]", "chip: [cpu]").replace(
    "engine: [vllm]", "engine: [transformers]"
)


def errors_for(project: Path, capsys: pytest.CaptureFixture[str], extra: str) -> str:
    (project / "recipes" / "evil.yaml").write_text(RECIPE + extra, encoding="utf-8")
    assert main(["plan", "--root", str(project)]) == 2
    return capsys.readouterr().err


def assert_safe(output: str) -> None:
    for text in output.split("\n"):
        assert text.isprintable(), repr(text)
        assert not text.lstrip().startswith("::"), text
        assert len(text) < 5000


@pytest.mark.parametrize(
    "extra",
    [
        '"\\e]0;owned\\a\\e[2J": 1\n',  # set the terminal title, clear the screen
        '"\\n::error file=README.md::forged": 1\n',  # a workflow command on a line of its own
        '"::add-mask::x\\n::stop-commands::t": 1\n',
        '"\\u202e\\u2066key\\U000e0041": 1\n',  # bidirectional override, isolate, tag
        "x: 1\n" + "y" * 200_000 + ": 2\n",  # a 200 KB key
    ],
    ids=["osc-and-clear", "newline-workflow-command", "mask", "invisible", "huge-key"],
)
def test_hostile_keys_are_echoed_as_inert_text(
    project: Path, capsys: pytest.CaptureFixture[str], extra: str
) -> None:
    err = errors_for(project, capsys, extra)
    assert "recipes/evil.yaml:" in err
    assert_safe(err)


def test_a_huge_value_is_shown_cut_with_its_length(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = RECIPE.replace("license: apache-2.0", "license: " + "x" * 200_000)
    (project / "recipes" / "evil.yaml").write_text(text, encoding="utf-8")
    assert main(["plan", "--root", str(project)]) == 2
    err = capsys.readouterr().err
    assert "(200,000 characters)" in err
    assert max(len(t) for t in err.split("\n")) < 1000


def test_escaping_keeps_printable_text_and_escapes_the_rest() -> None:
    assert escape("Qwen3 模型 é ✓") == "Qwen3 模型 é ✓"
    assert escape("a\x1b[31mb\r\n\t") == "a\\x1b[31mb\\x0d\\x0a\\x09"
    assert escape("\u202e\u200b\U000e0041\ud800") == "\\u202e\\u200b\\U000e0041\\ud800"
    assert line("::error::x") == "\\x3a\\x3aerror::x"
    assert line("   ::warning::x") == "   \\x3a\\x3awarning::x"
    assert line("a ::error::x") == "a ::error::x"  # only a line's start is a command
    assert lines("ok\n::error::x") == "ok\n\\x3a\\x3aerror::x"
    assert shown("a" * 100, limit=10) == "'aaaaaaaaa…' (100 characters)"
