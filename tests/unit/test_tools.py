"""Console tools are found beside the running Python first, then on PATH."""

from __future__ import annotations

import os
import sys
import sysconfig
from pathlib import Path

import pytest

from builder.effects import host, tools


def _tool(folder: Path, name: str, text: str = "#!/bin/sh\necho found\n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    path.chmod(0o755)
    return path


@pytest.fixture
def venv_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake environment's bin/ holding the running Python (a symlink, as in a venv), with
    an empty PATH."""
    folder = tmp_path / "venv" / "bin"
    folder.mkdir(parents=True)
    python = folder / "python"
    python.symlink_to(sys.executable)
    monkeypatch.setattr(sys, "executable", str(python))
    monkeypatch.setattr(sysconfig, "get_path", lambda name: str(folder))
    monkeypatch.setenv("PATH", "")
    return folder


def test_a_tool_beside_the_interpreter_is_found_with_an_empty_path(venv_bin: Path) -> None:
    fake = _tool(venv_bin, "hadolint")
    assert tools.find("hadolint") == str(fake)
    assert host.program_present(["hadolint", "--version"])
    assert tools.resolve(["hadolint", "-"]) == [str(fake), "-"]


def test_the_symlinked_interpreter_is_not_resolved(venv_bin: Path) -> None:
    # sys.executable's real file lies elsewhere; its folder as written is the venv's bin/.
    assert venv_bin in tools.interpreter_dirs()
    assert Path(os.path.realpath(sys.executable)).parent != venv_bin


def test_sysconfig_scripts_folder_is_searched_too(
    tmp_path: Path, venv_bin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripts = tmp_path / "scripts"
    fake = _tool(scripts, "transformers")
    monkeypatch.setattr(sysconfig, "get_path", lambda name: str(scripts))
    assert tools.interpreter_dirs() == [venv_bin, scripts]
    assert tools.find("transformers") == str(fake)


def test_path_is_the_fallback_and_keeps_the_name(
    tmp_path: Path, venv_bin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_path = _tool(tmp_path / "elsewhere", "vllm")
    monkeypatch.setenv("PATH", str(on_path.parent))
    assert tools.find("vllm") == str(on_path)
    # Found on PATH only: the command stays as written, for the process's own lookup.
    assert tools.resolve(["vllm", "serve"]) == ["vllm", "serve"]


def test_beside_the_interpreter_wins_over_path(
    tmp_path: Path, venv_bin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    beside = _tool(venv_bin, "vllm")
    monkeypatch.setenv("PATH", str(_tool(tmp_path / "elsewhere", "vllm").parent))
    assert tools.find("vllm") == str(beside)


def test_a_missing_tool_is_none(venv_bin: Path) -> None:
    assert tools.find("no-such-tool") is None
    assert not host.program_present(["no-such-tool"])
    assert tools.resolve(["no-such-tool", "x"]) == ["no-such-tool", "x"]


def test_a_path_is_checked_as_written(tmp_path: Path, venv_bin: Path) -> None:
    fake = _tool(tmp_path / "other", "tool")
    assert tools.find(str(fake)) == str(fake)
    assert tools.find(str(tmp_path / "absent")) is None
    assert tools.resolve([str(fake)]) == [str(fake)]


def test_the_python_of_a_console_script(tmp_path: Path, venv_bin: Path) -> None:
    python = str(venv_bin / "python")
    script = _tool(venv_bin, "lm_eval", f"#!{python}\nimport sys\n")
    assert tools.python_of(str(script)) == python
    assert tools.python_of(python) == python
    wrapper = _tool(tmp_path, "long", "#!/bin/sh\n'''exec' \"$0\" \"$@\"\n")
    assert tools.python_of(str(wrapper)) == sys.executable
    assert tools.python_of(str(tmp_path / "absent")) == sys.executable
