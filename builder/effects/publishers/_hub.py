"""What the model-repository targets (local, Hugging Face, ModelScope) share."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from builder.core.catalog_model import PublishConf
from builder.core.cells import Cell
from builder.core.uploads import LocalFile, RemoteFile, UploadPlan, mismatched
from builder.effects.publishers import Context
from builder.effects.publishers._files import collect
from builder.effects.retry import with_retries
from builder.errors import PublishError


class RepoTarget:
    """A target that holds a cell as a model repository: weights, card and results."""

    def __init__(self, conf: PublishConf, ctx: Context) -> None:
        self.conf = conf
        self.log = ctx.log

    def files(self, cell: Cell, cell_dir: Path, model_dir: Callable[[], Path]) -> list[LocalFile]:
        return collect(cell_dir, model_dir())

    def _retry(self, what: str, call: Callable[[], Any]) -> Any:
        return with_retries(call, what=what, log=self.log)

    def check_landed(self, plan: UploadPlan, landed: Mapping[str, RemoteFile], where: str) -> None:
        """Raise unless every file of ``plan`` is on the target as it was sent."""
        wrong = mismatched(plan, landed)
        if wrong:
            msg = f"{where}: not as uploaded: {', '.join(wrong)}"
            raise PublishError(msg)


def endpoint(conf: PublishConf, variable: str) -> str | None:
    """The target's API endpoint: its catalog entry's, else the SDK's environment variable."""
    return conf.endpoint or os.environ.get(variable) or None


def token(conf: PublishConf) -> str | None:
    """The token from the variable the catalog entry names; it goes to the SDK object only,
    never into a message or a file."""
    return os.environ.get(conf.token_env) if conf.token_env else None
