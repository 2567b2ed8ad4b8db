"""Where a project's inputs and outputs live."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from builder.core.catalog_model import Settings
from builder.errors import UsageError


@dataclass(frozen=True, kw_only=True)
class Project:
    """The folders of one project: conf/, recipes/, templates/, and where output goes."""

    root: Path

    @property
    def conf_dir(self) -> Path:
        return self.root / "conf"

    @property
    def recipes_dir(self) -> Path:
        return self.root / "recipes"

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    def out_dir(self, settings: Settings) -> Path:
        return self._inside(settings.out_dir, "settings.out_dir")

    def cache_dir(self, settings: Settings) -> Path:
        return self._inside(settings.cache_dir, "settings.cache_dir")

    def readme(self, settings: Settings) -> Path:
        return self._inside(settings.readme, "settings.readme")

    def _inside(self, relative: str, key: str) -> Path:
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root.resolve()):
            msg = f"{key}: {relative!r} is outside the project root {self.root}"
            link = _first_link(self.root, relative)
            if link is not None:
                msg += f" ({link.relative_to(self.root)} is a symbolic link)"
            raise UsageError(msg)
        return path


def _first_link(root: Path, relative: str) -> Path | None:
    """The first folder on the way from ``root`` to ``relative`` that is a symbolic link."""
    here = root
    for part in Path(relative).parts:
        here = here / part
        if here.is_symlink():
            return here
    return None


def find_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` that has conf/config.yaml."""
    for folder in (start, *start.parents):
        if (folder / "conf" / "config.yaml").is_file():
            return folder
    msg = f"no conf/config.yaml in {start} or above; run from a project or pass --root"
    raise UsageError(msg)
