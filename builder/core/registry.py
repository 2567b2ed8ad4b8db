"""Plugin registries: one shape for every kind of plugin.

A plugin of a kind (an engine's argument translation, a suite, a quantizer, a publish
target, a launcher) is a module in the kind's package, and its name is the module's name:
adding one is adding a module (plus, for the kinds conf/ describes, its YAML file). The
module provides what the kind's Protocol names, at module level, as cibuildwheel's platform
modules do. Modules whose names start with ``_`` are the kind's own helpers, never plugins.

A registry lists its plugins without importing them, so conf/ can be checked against the
names cheaply when the catalog loads, and imports a plugin only when it is used.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Sequence
from types import ModuleType
from typing import Generic, TypeVar, cast

from builder.errors import ConfigError, SourceLoc, unknown_name

P = TypeVar("P")


class Registry(Generic[P]):
    """The plugins of one kind: the modules of package ``package`` found on ``path``.

    ``provides``: the module-level names every plugin of the kind must define (the kind's
    Protocol, checked when a plugin is imported).
    """

    def __init__(
        self, *, kind: str, package: str, path: Iterable[str], provides: Sequence[str]
    ) -> None:
        self.kind = kind
        self.package = package
        # The package's own __path__ list: a test (or a site) that extends it adds plugins.
        self._path = path
        self.provides = tuple(provides)
        # Plugins already imported and checked: a plan of 100,000 cells asks for the same
        # few thousands of times, and listing the package each time would dominate it.
        self._loaded: dict[str, P] = {}

    def names(self) -> tuple[str, ...]:
        """Every plugin's name, sorted (modules are listed, not imported)."""
        found = {m.name for m in pkgutil.iter_modules(list(self._path))}
        return tuple(sorted(n for n in found if not n.startswith("_")))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.names()

    def unknown(self, name: str) -> str:
        """The message for a name no plugin has: the valid ones and the closest one."""
        return unknown_name(self.kind, name, self.names())

    def check(self, name: str, *, loc: SourceLoc, key: str) -> None:
        """Raise a config error at ``loc`` (the conf/ line that names it) for an unknown name."""
        if name not in self:
            msg = f"{loc}: {key}: {self.unknown(name)}"
            raise ConfigError(msg)

    def get(self, name: str) -> P:
        """The plugin ``name``, imported and checked against the kind's Protocol."""
        found = self._loaded.get(name)
        if found is not None:
            return found
        if name not in self:
            raise ConfigError(self.unknown(name))
        module = importlib.import_module(f"{self.package}.{name}")
        missing = [attr for attr in self.provides if not hasattr(module, attr)]
        if missing:
            msg = (
                f"{self.kind} {name!r} ({module.__file__}) does not provide "
                f"{', '.join(missing)}, which every {self.kind} must"
            )
            raise ConfigError(msg)
        self._loaded[name] = cast(P, module)
        return self._loaded[name]

    def forget(self, name: str) -> None:
        """Drop ``name`` from the loaded plugins, so the next :meth:`get` imports it again
        (a plugin folder added to the package's path for a while, as tests do)."""
        self._loaded.pop(name, None)

    def modules(self) -> dict[str, ModuleType]:
        """Every plugin, imported (for conformance tests and listings)."""
        return {name: cast(ModuleType, self.get(name)) for name in self.names()}
