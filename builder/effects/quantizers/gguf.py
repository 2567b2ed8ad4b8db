"""GGUF variants with llama.cpp's own tools: convert_hf_to_gguf.py, then llama_model_quantize.

The converter is pure Python and ships in the llama-cpp-python source archive on PyPI. The
builder downloads the exact archive the catalog pins, checks its sha256 and unpacks only the
converter (with the gguf-py it needs: PyPI's ``gguf`` lags behind it). The converter itself
writes f32, f16, bf16 and q8_0. K-quants (q4_k_m, ...) need llama.cpp's compiled quantizer,
taken from an installed llama-cpp-python of the same version.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import shutil
import sys
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from builder.effects.quantizers import Produced, QuantizeJob, run_tool
from builder.errors import QuantizeError

# What the converter writes by itself (its --outtype values that quantize or cast).
CONVERTER_TYPES = ("f32", "f16", "bf16", "q8_0")
# What llama_model_quantize makes (llama.cpp's ftype names, lowercase).
QUANTIZE_TYPES = (
    "q4_0",
    "q4_1",
    "q5_0",
    "q5_1",
    "q8_0",
    "q2_k",
    "q3_k_m",
    "q4_k_m",
    "q5_k_m",
    "q6_k",
)
# The parts of llama.cpp's tree the converter needs (under <sdist>/vendor/llama.cpp/).
CONVERTER_PARTS = ("convert_hf_to_gguf.py", "conversion/", "gguf-py/", "LICENSE")


def quantize(job: QuantizeJob) -> Produced:
    outtype = job.spec.args.get("outtype", "f16")
    target = job.spec.args.get("type", "")
    if outtype not in CONVERTER_TYPES:
        msg = f"gguf: outtype {outtype!r} is not one of {', '.join(CONVERTER_TYPES)}"
        raise QuantizeError(msg)
    if target and target not in QUANTIZE_TYPES:
        msg = f"gguf: type {target!r} is not one of {', '.join(QUANTIZE_TYPES)}"
        raise QuantizeError(msg)
    converter = converter_script(job)
    final = job.out_dir / job.spec.file
    converted = job.work_dir / f"converted-{outtype}.gguf" if target else final
    convert = [
        sys.executable,
        str(converter),
        str(job.source_dir),
        "--outtype",
        outtype,
        "--outfile",
        str(converted),
    ]
    run_tool(job, convert, name="convert_hf_to_gguf")
    commands = [convert]
    version = job.spec.quantizer["version"]
    tool = (
        f"llama.cpp convert_hf_to_gguf.py (llama-cpp-python {version} source) --outtype {outtype}"
    )
    if target:
        _check_compiled(version, target)
        quant = [sys.executable, "-m", "builder.effects.quantizers._llama_quantize"]
        quant += [str(converted), str(final), target]
        run_tool(job, quant, name="llama_model_quantize")
        commands.append(quant)
        tool += f", then llama_model_quantize {target} (llama-cpp-python {version})"
    if not final.is_file():
        msg = f"gguf: the tools exited cleanly but wrote no {final.name}"
        raise QuantizeError(msg)
    return Produced(tool=tool, commands=tuple(tuple(c) for c in commands))


def _check_compiled(version: str, target: str) -> None:
    """K-quants need llama.cpp compiled; say how to get it rather than fail obscurely."""
    try:
        installed = importlib.metadata.version("llama-cpp-python")
    except importlib.metadata.PackageNotFoundError:
        installed = ""
    if installed != version:
        have = f"llama-cpp-python {installed} is installed" if installed else "it is not installed"
        msg = (
            f"gguf: {target} needs llama.cpp's compiled quantizer from llama-cpp-python "
            f"{version}, and {have}: pip install 'llama-cpp-python=={version}' (it compiles "
            "llama.cpp, about 18 minutes on 2 cores), or use gguf-q8_0, which the converter "
            "makes alone"
        )
        raise QuantizeError(msg)


def tool_dir_name(conf: Mapping[str, Any]) -> str:
    """The folder of the tools dir this quantizer's catalog entry uses (``builder gc``)."""
    return f"llama.cpp-converter-{conf['version']}-{conf['sha256'][:12]}"


def converter_script(job: QuantizeJob) -> Path:
    """convert_hf_to_gguf.py from the pinned source archive, fetched and unpacked once."""
    home = job.tools_dir / tool_dir_name(job.spec.quantizer)
    script = home / "convert_hf_to_gguf.py"
    if script.is_file():
        return script
    job.tools_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=job.tools_dir, prefix=".download-") as tmp:
        archive = _download(job, Path(tmp))
        staged = Path(tmp) / "converter"
        _unpack_converter(archive, staged)
        try:
            staged.rename(home)
        except OSError:
            if not script.is_file():  # another run put it there first: use theirs
                raise
    return script


def _download(job: QuantizeJob, into: Path) -> Path:
    conf = job.spec.quantizer
    argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
    argv += ["--dest", str(into), conf["package"]]
    run_tool(job, argv, name="download-llama-cpp-python")
    archives = sorted(into.glob("*.tar.gz"))
    if len(archives) != 1:
        msg = f"gguf: pip download of {conf['package']} gave {len(archives)} archives, not one"
        raise QuantizeError(msg)
    actual = hashlib.sha256(archives[0].read_bytes()).hexdigest()
    if actual != conf["sha256"]:
        msg = (
            f"gguf: {archives[0].name} has sha256 {actual}, but conf/quantizer/gguf.yaml pins "
            f"{conf['sha256']}: refusing to run it"
        )
        raise QuantizeError(msg)
    return archives[0]


def _unpack_converter(archive: Path, dest: Path) -> None:
    """Only the converter's files, each checked to stay inside ``dest``."""
    with tarfile.open(archive) as tar:
        members = []
        for member in tar.getmembers():
            parts = PurePosixPath(member.name).parts
            # <name>-<version>/vendor/llama.cpp/<path>
            if len(parts) < 4 or parts[1:3] != ("vendor", "llama.cpp"):
                continue
            inner = "/".join(parts[3:])
            if any(inner == p or inner.startswith(p) for p in CONVERTER_PARTS):
                member.name = inner
                members.append(member)
        if not members:
            msg = f"gguf: {archive.name} holds no vendor/llama.cpp/convert_hf_to_gguf.py"
            raise QuantizeError(msg)
        try:
            tar.extractall(dest, members=members, filter="data")
        except tarfile.FilterError as exc:  # a member reaching outside dest, a device, ...
            shutil.rmtree(dest, ignore_errors=True)
            msg = f"gguf: {archive.name}: refusing to unpack {exc}"
            raise QuantizeError(msg) from None
    if not (dest / "convert_hf_to_gguf.py").is_file():
        shutil.rmtree(dest, ignore_errors=True)
        msg = f"gguf: {archive.name} holds no convert_hf_to_gguf.py"
        raise QuantizeError(msg)
