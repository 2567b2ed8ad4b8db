"""Launcher plugins: where ``builder validate|release --launcher NAME`` runs its jobs.

A launcher is one of Hydra's launcher plugins; its module here names the Hydra config
(``hydra/launcher=<HYDRA_NAME>``), the package that provides it and the module that package
installs, so a missing plugin is a clear error before any job starts. Adding a launcher is
<name>.py here (its Hydra settings go on the command line: hydra.launcher.*=...).
"""

from __future__ import annotations

import importlib.util
from typing import Final, Protocol

from builder.core.registry import Registry
from builder.errors import UsageError


class Launcher(Protocol):
    """What a launcher module provides."""

    # The Hydra launcher config: ``hydra/launcher=<HYDRA_NAME>``.
    HYDRA_NAME: str
    # The distribution to install, and the module it puts under hydra_plugins.
    PACKAGE: str
    PLUGIN_MODULE: str


REGISTRY: Final = Registry[Launcher](
    kind="launcher",
    package=__name__,
    path=__path__,
    provides=("HYDRA_NAME", "PACKAGE", "PLUGIN_MODULE"),
)


def launcher(name: str) -> Launcher:
    """The launcher ``name``, refused with the install line when its plugin is missing."""
    if name not in REGISTRY:
        msg = f"--launcher {name}: {REGISTRY.unknown(name)}"
        raise UsageError(msg)
    found = REGISTRY.get(name)
    try:
        installed = importlib.util.find_spec(found.PLUGIN_MODULE) is not None
    except ModuleNotFoundError:
        installed = False
    if not installed:
        msg = f"--launcher {name}: Hydra's {name} launcher is not installed; pip install {found.PACKAGE}"
        raise UsageError(msg)
    return found
