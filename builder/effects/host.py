"""Which chips this host has: a chip is present when its management command runs cleanly."""

from __future__ import annotations

import os
import platform
from pathlib import Path

from builder.core.catalog_model import ChipConf
from builder.effects import proc, tools


def chip_present(chip: ChipConf) -> bool:
    """``cpu`` (no management command) is always present; others need e.g. ``npu-smi``."""
    if not chip.smi_command:
        return True
    program = chip.smi_command.split()[0]
    if tools.find(program) is None:
        return False
    return proc.run([program], timeout=20).returncode == 0


def program_present(argv: list[str]) -> bool:
    """Whether the first word of a command is an executable beside the builder's Python or
    on PATH (where :func:`builder.effects.proc.run` will find it)."""
    return bool(argv) and tools.find(argv[0]) is not None


def describe() -> str:
    """A short, stable description of this host for reports."""
    return f"{platform.system()} {platform.machine()}"


def hardware(chip: ChipConf) -> str:
    """What performance numbers were measured on, to tell comparable runs apart.

    The chip family and this host's architecture, plus the CPU model and core count for CPU
    cells (for accelerators the chip family is what the catalog can vouch for).
    """
    text = f"{chip.name}: {describe()}"
    if chip.smi_command:
        return text
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{text}, {model or platform.processor() or 'unknown CPU'} x{os.cpu_count()}"
