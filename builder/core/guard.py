"""What command-line overrides and the composed catalogs may hold: plain values only.

Hydra and OmegaConf can do more than set values: ``${oc.env:HF_TOKEN}`` reads the
environment when a value is resolved (and would carry a token into a Dockerfile or a model
card), ``hydra.searchpath=[file:///...]`` and ``+chip@chip.x=../../path`` load configuration
from outside the repository. None of that is needed to change a catalog value for a run, so
it is refused here, before anything is resolved. Recipes never reach OmegaConf at all
(:mod:`builder.core.yamlsafe` reads them as plain data).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from builder.errors import ConfigError, UsageError

CONFIG_GROUPS = ("chip", "engine", "quantization", "suite", "publish")


def check_override(key: str, package: str | None, text: str) -> None:
    """Refuse an override that reaches beyond setting a value of conf/."""
    if key == "hydra" or key.startswith("hydra."):
        msg = f"command line: {text}: Hydra's own settings cannot be overridden here"
        raise UsageError(msg)
    if package is not None or key in CONFIG_GROUPS:
        msg = (
            f"command line: {text}: config group overrides are not allowed; add the entry "
            "to conf/ and conf/config.yaml instead"
        )
        raise UsageError(msg)


def has_interpolation(value: str) -> bool:
    """Whether OmegaConf would evaluate something in ``value`` (``${...}``, any kind).

    Plain references (``${settings.registry}``) are refused too: catalog entries are typed
    one by one, so they could not resolve anyway, and one rule is easier to trust.
    """
    return "${" in value


def check_plain(data: Any, where: str, path: str = "") -> None:
    """Raise if any key or string in ``data`` (an unresolved container) uses a resolver."""
    items: Iterable[tuple[Any, Any]]
    if isinstance(data, dict):
        items = data.items()
    elif isinstance(data, list):
        items = enumerate(data)
    else:
        if isinstance(data, str) and has_interpolation(data):
            msg = (
                f"{where}: {path}: {data!r}: interpolations and resolvers such as "
                "${oc.env:...} are disabled; write the value itself"
            )
            raise ConfigError(msg)
        return
    for key, value in items:
        check_plain(str(key), where, path)
        check_plain(value, where, f"{path}.{key}" if path else str(key))
