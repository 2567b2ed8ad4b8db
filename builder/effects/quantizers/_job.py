"""What a quantizer plugin gets and returns, and the one way it runs a tool."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from builder.core.variants import VariantSpec
from builder.effects.proc import run_job
from builder.errors import QuantizeError


@dataclass(frozen=True, kw_only=True)
class QuantizeJob:
    """One quantizer run."""

    spec: VariantSpec
    # The input weights (a Hugging Face folder: config.json, tokenizer, *.safetensors).
    source_dir: Path
    # An empty folder the quantizer fills with the variant's files, and nothing else.
    out_dir: Path
    # Scratch space for this run (logs, intermediate files); removed afterwards.
    work_dir: Path
    # Where downloaded tools and tool environments are kept between runs.
    tools_dir: Path
    # The project root: calibration/ files named by the recipe are read from here.
    project_root: Path
    env: Mapping[str, str]
    timeout_s: float
    log: Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class Produced:
    """What a quantizer ran: recorded with the variant (manifest, card)."""

    tool: str
    commands: Sequence[Sequence[str]] = field(default_factory=tuple)


def run_tool(job: QuantizeJob, argv: Sequence[str], *, name: str) -> None:
    """Run one tool command to its end in its own process group, output in the work folder;
    a failure raises with the log's last lines."""
    log_path = job.work_dir / f"{name}.log"
    job.log(f"    quantize: {' '.join(argv)}")
    code = run_job(argv, env=job.env, log_path=log_path, timeout_s=job.timeout_s)
    if code != 0:
        tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        reason = "timed out" if code == 124 else f"exited with code {code}"
        msg = f"{name} {reason} ({log_path}); last lines:\n" + "\n".join(tail)
        raise QuantizeError(msg)
