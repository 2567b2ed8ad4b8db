"""compressed-tensors variants (W8A8, W4A16, FP8 dynamic) with vLLM's llm-compressor.

llm-compressor pins its own transformers, which the builder's does not satisfy, so it runs in
a virtual environment of its own, made once per set of requirements under the tools folder.
The builder and that environment talk only through files: this plugin writes a job document
(JSON) and the environment's python runs _llmcompressor_job.py on it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from builder.core.variants import VariantSpec
from builder.effects.quantizers import Produced, QuantizeJob, run_tool
from builder.errors import QuantizeError

# Installed before the requirements, and pinned again beside them, so pip keeps the build the
# index offers for this exact version (the CPU wheel here, the CUDA one on a GPU runner).
TORCH = "torch==2.13.0"
JOB_SCRIPT = Path(__file__).with_name("_llmcompressor_job.py")
# Written last into a finished environment: its presence means "complete".
MARKER = "llmrb-installed.json"
# The schemes (compressed-tensors preset names) and the algorithms that make each, default first.
SCHEMES: Mapping[str, tuple[str, ...]] = {
    "W8A8": ("smoothquant+gptq", "gptq"),
    "W4A16": ("gptq", "rtn"),
    "FP8_DYNAMIC": ("rtn",),
}
# Algorithms that observe activations: they need calibration texts. rtn rounds weights alone.
CALIBRATED = ("smoothquant+gptq", "gptq")
# llm-compressor's own W8A8 examples use 0.8: most of the activation outliers move to weights.
SMOOTHING_STRENGTH = 0.8
HUB = "huggingface://"
LOCAL = "calibration/"


def quantize(job: QuantizeJob) -> Produced:
    document = job_document(job.spec, job.source_dir, job.out_dir, job.project_root)
    python = tool_python(job)
    path = job.work_dir / "llmcompressor-job.json"
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    # -I: the script's folder (this package, with this very llmcompressor.py) must not come
    # first on sys.path, or it would shadow the real llmcompressor package.
    argv = [str(python), "-I", str(JOB_SCRIPT), str(path)]
    started = time.monotonic()
    run_tool(job, argv, name="llmcompressor")
    job.log(f"    llmcompressor: {document['scheme']} in {time.monotonic() - started:.1f}s")
    _check_output(job.out_dir)
    version = job.spec.quantizer["version"]
    return Produced(tool=f"llmcompressor {version} ({document['scheme']})", commands=(argv,))


def scheme_and_algorithm(args: Mapping[str, str]) -> tuple[str, str]:
    """The quantization's scheme and algorithm, checked; the algorithm defaults per scheme."""
    scheme = args.get("scheme", "")
    if scheme not in SCHEMES:
        msg = f"llmcompressor: scheme {scheme!r} is not one of {', '.join(SCHEMES)}"
        raise QuantizeError(msg)
    algorithm = args.get("algorithm", SCHEMES[scheme][0])
    if algorithm not in SCHEMES[scheme]:
        msg = (
            f"llmcompressor: algorithm {algorithm!r} cannot make {scheme}; "
            f"use one of {', '.join(SCHEMES[scheme])}"
        )
        raise QuantizeError(msg)
    return scheme, algorithm


def job_document(
    spec: VariantSpec, source_dir: Path, out_dir: Path, project_root: Path
) -> dict[str, Any]:
    """Everything _llmcompressor_job.py does, as plain data (the script decides nothing)."""
    scheme, algorithm = scheme_and_algorithm(spec.args)
    calibration = None
    if algorithm in CALIBRATED:
        calibration = calibration_source(spec, algorithm, project_root)
    return {
        "source_dir": str(source_dir),
        "out_dir": str(out_dir),
        # The source's own dtype: bf16 checkpoints stay bf16 outside the quantized layers.
        "dtype": "auto",
        "scheme": scheme,
        "algorithm": algorithm,
        "modifiers": recipe(scheme, algorithm),
        "calibration": calibration,
    }


def recipe(scheme: str, algorithm: str) -> list[dict[str, Any]]:
    """The llm-compressor modifiers, in order, by class name and keyword arguments."""
    # Every Linear layer but the output head: quantizing lm_head costs accuracy for little.
    layers = {"scheme": scheme, "targets": "Linear", "ignore": ["lm_head"]}
    if algorithm == "rtn":
        return [{"type": "QuantizationModifier", "args": layers}]
    gptq = {"type": "GPTQModifier", "args": layers}
    if algorithm == "smoothquant+gptq":
        smooth = {"type": "SmoothQuantModifier", "args": {"smoothing_strength": SMOOTHING_STRENGTH}}
        return [smooth, gptq]
    return [gptq]


def calibration_source(spec: VariantSpec, algorithm: str, project_root: Path) -> dict[str, Any]:
    """Where the calibration texts come from: a project file (absolute path) or a hub dataset."""
    dataset = str(spec.calibration.get("dataset", ""))
    if not dataset:
        msg = (
            f"llmcompressor: {algorithm} needs calibration data: set "
            f"variants.{spec.quantization}.calibration.dataset in recipe {spec.recipe}"
        )
        raise QuantizeError(msg)
    sizes = {
        "samples": int(spec.calibration.get("samples", 256)),
        "max_seq_length": int(spec.calibration.get("max_seq_length", 2048)),
    }
    org, _, name = dataset.removeprefix(HUB).partition("/")
    if dataset.startswith(HUB) and org and name and "/" not in name:
        return {"huggingface": f"{org}/{name}", **sizes}
    if dataset.startswith(LOCAL):
        return {"jsonl": str(local_calibration(project_root, dataset)), **sizes}
    msg = f"llmcompressor: calibration {dataset!r} is not {LOCAL}<file>.jsonl nor {HUB}org/name"
    raise QuantizeError(msg)


def local_calibration(project_root: Path, dataset: str) -> Path:
    """The project's calibration file, refused when it resolves outside calibration/."""
    folder = (project_root / LOCAL).resolve()
    path = (project_root / dataset).resolve()
    if not path.is_relative_to(folder):
        msg = f"llmcompressor: calibration file {dataset!r} is outside {folder}: refusing it"
        raise QuantizeError(msg)
    if not path.is_file():
        msg = f"llmcompressor: calibration file {path} does not exist"
        raise QuantizeError(msg)
    return path


def venv_dir(tools_dir: Path, requirements: Sequence[str]) -> Path:
    """The tool environment for these requirements (and this Python): new pins, new folder."""
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    key = json.dumps([python, TORCH, *requirements]).encode()
    return tools_dir / f"llmcompressor-{hashlib.sha256(key).hexdigest()[:12]}"


def tool_dir_name(conf: Mapping[str, Any]) -> str:
    """The folder of the tools dir this quantizer's catalog entry uses (``builder gc``)."""
    return venv_dir(Path(), conf["requirements"]).name


def tool_python(job: QuantizeJob) -> Path:
    """The python of the tool environment, made now if no complete one exists."""
    home = venv_dir(job.tools_dir, job.spec.quantizer["requirements"])
    if (home / MARKER).is_file():
        return home / "bin" / "python"
    job.tools_dir.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f".{home.name}.", suffix=".tmp", dir=job.tools_dir))
    try:
        _build_venv(job, staged)
        try:
            staged.rename(home)
        except OSError:
            if not (home / MARKER).is_file():  # not another run's finished copy: a real error
                raise
            shutil.rmtree(staged)  # another run finished first: use theirs
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return home / "bin" / "python"


def _build_venv(job: QuantizeJob, staged: Path) -> None:
    """Make the environment in ``staged``. It is renamed afterwards, which breaks the scripts'
    shebangs (bin/pip): so only ``bin/python -m ...`` is ever run, which stays valid."""
    started = time.monotonic()
    requirements = list(job.spec.quantizer["requirements"])
    run_tool(job, [sys.executable, "-m", "venv", str(staged)], name="llmcompressor-venv")
    # -I: a PYTHONPATH of the builder's must not make pip think a requirement is installed.
    pip = [str(staged / "bin" / "python"), "-I", "-m", "pip", "install"]
    pip += ["--disable-pip-version-check", "--no-input"]
    run_tool(job, [*pip, TORCH], name="llmcompressor-install-torch")
    run_tool(job, [*pip, TORCH, *requirements], name="llmcompressor-install")
    marker = {"requirements": [TORCH, *requirements], "installed": _installed(staged)}
    (staged / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    job.log(f"    llmcompressor: tool environment made in {time.monotonic() - started:.0f}s")


def _installed(venv: Path) -> dict[str, str]:
    """Name -> version of every distribution in the environment, read from its metadata."""
    paths = [str(p) for p in venv.glob("lib/python*/site-packages")]
    found = {d.metadata["Name"]: d.version for d in importlib.metadata.distributions(path=paths)}
    return dict(sorted(found.items()))


def _check_output(out_dir: Path) -> None:
    """A compressed-tensors checkpoint, world-readable (safetensors writes its files 0600,
    which a container running as another user could not read)."""
    try:
        config = json.loads((out_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        msg = f"llmcompressor: exited cleanly but wrote no readable config.json ({exc})"
        raise QuantizeError(msg) from None
    method = config.get("quantization_config", {}).get("quant_method")
    if method != "compressed-tensors" or not any(out_dir.glob("*.safetensors")):
        msg = f"llmcompressor: {out_dir} is not a compressed-tensors checkpoint"
        raise QuantizeError(msg)
    for path in out_dir.iterdir():
        path.chmod(0o644 if path.is_file() else 0o755)
