"""Moving revisions resolved to commits at plan time.

A Hub source pinned to a branch or a tag (``huggingface://org/name@main``) names whatever
upstream last pushed. When the Hub is reachable, each such source is resolved to the commit
it names now, once per run; the commit enters the cell's validation key (so a push to
``main`` invalidates the cached validation, and ``plan --explain`` names ``model_source``),
the manifest and the model card. Offline (``HF_HUB_OFFLINE=1``, no network, an unknown
repository) nothing is resolved and the source is keyed by its text, as before; ``builder
lint --strict`` refuses such sources in pull requests. Only reading: nothing is downloaded.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from builder.core.render import source_parts
from builder.core.values import is_commit

# A plan must stay quick when the Hub is slow: a source that does not answer in time is
# left unresolved (keyed by its text).
TIMEOUT_S = 5.0


def resolve(sources: Iterable[str]) -> Mapping[str, str]:
    """Source -> the commit its branch or tag names now, for the Hugging Face sources that
    do not name a commit and that the Hub answers for."""
    moving = sorted({s for s in sources if _moving(s)})
    if not moving or os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0"):
        return {}
    try:
        from huggingface_hub import HfApi
    except ImportError:
        return {}
    api = HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None)
    found: dict[str, str] = {}
    for source in moving:
        commit = _commit(api, source)
        if commit is not None:
            found[source] = commit
    return found


def _commit(api: Any, source: str) -> str | None:
    """The commit the source's revision names now; None on any failure (offline, no such
    repository or branch, a slow Hub): the source then stays keyed by its text."""
    parts = source_parts(source)
    try:
        info = api.model_info(parts["repo"], revision=parts["revision"] or None, timeout=TIMEOUT_S)
    except Exception:  # noqa: BLE001 - whatever the Hub client raises means "not now"
        return None
    sha = getattr(info, "sha", None)
    return sha if isinstance(sha, str) and is_commit(sha) else None


def _moving(source: str) -> bool:
    parts = source_parts(source)
    return parts["kind"] == "huggingface" and not is_commit(parts["revision"])
