"""The GGUF quantizer's tool: the pinned archive is checked before anything in it runs, and only
the converter's own files are unpacked, inside their folder."""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from builder.core.variants import VariantSpec
from builder.effects.quantizers import QuantizeJob, gguf
from builder.errors import QuantizeError

MEMBERS = {
    "llama_cpp_python-0.3.36/vendor/llama.cpp/convert_hf_to_gguf.py": b"print('convert')\n",
    "llama_cpp_python-0.3.36/vendor/llama.cpp/gguf-py/gguf/__init__.py": b"",
    "llama_cpp_python-0.3.36/vendor/llama.cpp/conversion/llama.py": b"",
    "llama_cpp_python-0.3.36/vendor/llama.cpp/src/llama.cpp": b"int main() {}\n",
    "llama_cpp_python-0.3.36/setup.py": b"import os; os.system('echo pwned')\n",
}


def archive(path: Path, members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


def job(tmp_path: Path, sha256: str) -> QuantizeJob:
    spec = VariantSpec(
        recipe="tiny",
        quantization="gguf-q8_0",
        method="quantize",
        source="generate://tiny-llama",
        quantizer={"package": "llama-cpp-python==0.3.36", "version": "0.3.36", "sha256": sha256},
        args={"outtype": "q8_0"},
        file="M-Q8_0.gguf",
        format="gguf",
    )
    return QuantizeJob(
        spec=spec,
        source_dir=tmp_path,
        out_dir=tmp_path / "out",
        work_dir=tmp_path / "work",
        tools_dir=tmp_path / "tools",
        project_root=tmp_path,
        env={},
        timeout_s=10,
        log=lambda _: None,
    )


def fake_pip(data: dict[str, bytes]) -> object:
    def run_tool(job: QuantizeJob, argv: Sequence[str], *, name: str) -> None:
        dest = Path(argv[argv.index("--dest") + 1])
        archive(dest / "llama_cpp_python-0.3.36.tar.gz", data)

    return run_tool


def test_only_the_converter_is_unpacked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blob = archive(tmp_path / "a.tar.gz", MEMBERS)
    monkeypatch.setattr(gguf, "run_tool", fake_pip(MEMBERS))
    script = gguf.converter_script(job(tmp_path, hashlib.sha256(blob).hexdigest()))
    home = script.parent
    unpacked = sorted(p.relative_to(home).as_posix() for p in home.rglob("*") if p.is_file())
    assert unpacked == [
        "conversion/llama.py",
        "convert_hf_to_gguf.py",
        "gguf-py/gguf/__init__.py",
    ]
    assert not list((tmp_path / "tools").glob(".download-*"))  # the download is cleaned up


def test_an_archive_with_another_hash_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gguf, "run_tool", fake_pip(MEMBERS))
    with pytest.raises(QuantizeError, match="refusing to run it"):
        gguf.converter_script(job(tmp_path, "0" * 64))
    assert not [p for p in (tmp_path / "tools").iterdir() if not p.name.startswith(".")]


def test_members_cannot_escape_the_tool_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    evil = {
        **MEMBERS,
        "llama_cpp_python-0.3.36/vendor/llama.cpp/conversion/../../../../escaped.py": b"x",
    }
    blob = archive(tmp_path / "a.tar.gz", evil)
    monkeypatch.setattr(gguf, "run_tool", fake_pip(evil))
    with pytest.raises(QuantizeError, match="refusing to unpack"):
        gguf.converter_script(job(tmp_path, hashlib.sha256(blob).hexdigest()))
    assert not list(tmp_path.rglob("escaped.py"))


def test_k_quants_without_compiled_llama_cpp_say_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(QuantizeError, match=r"pip install 'llama-cpp-python==9\.9\.9'"):
        gguf._check_compiled("9.9.9", "q4_k_m")


def test_quantizers_get_no_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from builder.core.project import Project
    from builder.run.validate import _workshop
    from builder.session import load_catalog
    from tests.conftest import ROOT

    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("LLMRB_KEEP", "1")
    shop = _workshop(Project(root=ROOT), load_catalog(ROOT / "conf"), tmp_path, tmp_path)
    assert "HF_TOKEN" not in shop.env
    assert "AWS_SECRET_ACCESS_KEY" not in shop.env
    assert shop.env["LLMRB_KEEP"] == "1"
