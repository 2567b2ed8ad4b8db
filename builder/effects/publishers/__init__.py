"""Publish targets by kind: conf/publish/*.yaml names a ``kind``, the module of that name here.

Each publisher answers two questions and performs one action: which files a cell gives it,
what the target already holds (for the plan), and :meth:`Publisher.publish`, which carries
out a plan made from those answers. Tokens come from the environment variable the target's
catalog entry names and are handed to the SDK only: never logged, never written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from builder.core.catalog_model import PublishConf, Settings
from builder.core.cells import Cell
from builder.core.log import Log
from builder.core.registry import Registry
from builder.core.uploads import LocalFile, RemoteFile, UploadPlan


@dataclass(frozen=True, kw_only=True)
class Context:
    """What every publisher may use: where out/ is, run settings, and how to log."""

    out_dir: Path
    settings: Settings
    log: Log
    # Whether cells that did not pass (and images never run) may go out, marked as such.
    allow_unqualified: bool = False


@dataclass(frozen=True, kw_only=True)
class Published:
    """Where a cell landed."""

    url: str
    revision: str
    commit: str
    uploaded_bytes: int


@dataclass(frozen=True, kw_only=True)
class Names:
    """The repo and revisions a cell goes to on a target."""

    repo: str
    revision: str
    staging: str
    tag: str


class Publisher(Protocol):
    def files(self, cell: Cell, cell_dir: Path, model_dir: Callable[[], Path]) -> list[LocalFile]:
        """The files this target gets for a cell."""
        ...

    def names(self, cell: Cell, content: str) -> Names:
        """Repo, revision, staging revision and tag for a cell whose content id is ``content``."""
        ...

    def remote(self, names: Names) -> Mapping[str, RemoteFile]:
        """What the target holds at the revision users see (empty when nothing is there)."""
        ...

    def publish(self, plan: UploadPlan) -> Published:
        """Upload, verify, promote; raises PublishError (or the SDK's error) on failure."""
        ...


class PublisherModule(Protocol):
    """What a publisher module provides: a factory for its targets and whether they get the
    model card (the card is checked before anything goes to a target that does)."""

    SENDS_CARD: bool

    def connect(self, conf: PublishConf, ctx: Context) -> Publisher:
        """A publisher for the target ``conf``; raises PublishError when its SDK is missing."""
        ...


REGISTRY: Final = Registry[PublisherModule](
    kind="publish kind", package=__name__, path=__path__, provides=("SENDS_CARD", "connect")
)
