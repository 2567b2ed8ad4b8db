"""Retries with exponential backoff for calls to remote services (hubs, registries)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def status_of(exc: BaseException) -> int | None:
    """The HTTP status an SDK error carries, if any (the SDKs store it differently)."""
    for attr in ("status_code", "status"):
        value = getattr(exc, attr, None)
        if isinstance(value, int):
            return value
    response = getattr(exc, "response", None)
    value = getattr(response, "status_code", None)
    return value if isinstance(value, int) else None


def transient(exc: BaseException) -> bool:
    """Worth another try: a dropped connection, a time-out, a 429 or a 5xx."""
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    name = type(exc).__name__
    if name in {
        "ConnectError",
        "ReadError",
        "RemoteProtocolError",
        "ReadTimeout",
        "ConnectTimeout",
    }:
        return True
    if name in {"ConnectionError", "NetworkError", "RequestTimeoutError", "ServerError"}:
        return True
    status = status_of(exc)
    return status in TRANSIENT_STATUS


def with_retries(
    call: Callable[[], T],
    *,
    what: str,
    log: Callable[[str], None],
    attempts: int = 5,
    base_delay_s: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``call()``, retried on transient errors with delays 1, 2, 4, ... times ``base_delay_s``."""
    attempt = 1
    while True:
        try:
            return call()
        except Exception as exc:
            if attempt >= attempts or not transient(exc):
                raise
            delay = base_delay_s * 2 ** (attempt - 1)
            log(f"    {what}: {type(exc).__name__} (try {attempt}/{attempts}); retry in {delay:g}s")
            sleep(delay)
            attempt += 1
