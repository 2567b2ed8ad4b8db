"""Which chips this host has: a chip is present when its management command runs cleanly."""

from __future__ import annotations

import platform
import shutil

from builder.effects import proc
from builder.model import ChipConf


def chip_present(chip: ChipConf) -> bool:
    """``cpu`` (no management command) is always present; others need e.g. ``npu-smi``."""
    if not chip.smi_command:
        return True
    program = chip.smi_command.split()[0]
    if shutil.which(program) is None:
        return False
    return proc.run([program], timeout=20).returncode == 0


def program_present(argv: list[str]) -> bool:
    """Whether the first word of a command is an executable on PATH."""
    return bool(argv) and shutil.which(argv[0]) is not None


def describe() -> str:
    """A short, stable description of this host for reports."""
    return f"{platform.system()} {platform.machine()}"
