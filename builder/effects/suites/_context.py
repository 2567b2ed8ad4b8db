"""What a suite gets to work with: the running engine, the recipe's settings, a work directory."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from builder.core.catalog_model import EngineConf, SuiteConf
from builder.core.model import ValidateSpec
from builder.effects.engine_runtime import RunningEngine


@dataclass(frozen=True, kw_only=True)
class Peer:
    """The reference cell's engine, running beside the cell's own (see :class:`PeerStarter`)."""

    engine: RunningEngine
    engine_conf: EngineConf
    tokenizer_dir: Path


@dataclass(frozen=True, kw_only=True)
class PeerStarter:
    """How a suite may start the reference cell's engine on this host, to measure both in
    alternation (the perf suite's interleaved trials). Given only when the reference's chip
    and engine are on this host; ``start(work_dir)`` serves it until the block ends."""

    cell: str
    # The reference's validation key: which build of the reference was measured.
    key: str
    start: Callable[[Path], AbstractContextManager[Peer]]


@dataclass(frozen=True, kw_only=True)
class SuiteContext:
    """Everything one suite run may use; suites write only under ``work_dir``."""

    engine: RunningEngine
    engine_conf: EngineConf
    suite: SuiteConf
    spec: ValidateSpec
    # The whole suite's time limit, and one request's (smoke checks, lm-eval, the perf client).
    timeout_s: float
    request_timeout_s: float
    # A folder holding the served weights' tokenizer, for clients that count tokens.
    tokenizer_dir: Path
    work_dir: Path
    tasks_dir: Path
    env: dict[str, str]
    # Who ran it: the cell id, engine and version, image, model source, hardware.
    identity: dict[str, Any]
    # The reference cell's engine, when it can run here beside this one (None: it cannot,
    # or this cell is the reference).
    reference: PeerStarter | None = None
