"""Retries and failures from Rust: the ``postato`` logger, ``POSTATO_LOG``, and ``on_retry``.

``POSTATO_LOG`` (``error``, ``warn``, ``info``, ``debug`` or ``trace``, or a filter such as
``hyper=warn,postato=debug``, read by the extension as the CLI reads it) gives the ``postato``
logger a stderr handler at that level when the package is imported, unless the application
configured the logger itself.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import Callable, Optional

from . import _native

logger = logging.getLogger("postato")

_LEVELS = {
    "error": logging.ERROR,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "trace": logging.DEBUG,
}


@dataclass(frozen=True)
class RetryEvent:
    """What ``on_retry`` is told before each retry (called on one of postato's worker
    threads: keep it quick, and thread-safe)."""

    business_key: str
    attempt: int
    """The attempt that follows the wait (2 for the first retry)."""
    delay: float
    """Seconds the publish waits first."""
    reason: str
    """Why, as the logs say it (``the server answered 503``, ``rate limited (429)``, …)."""
    status: Optional[int]
    """The HTTP status behind the retry, when the server answered."""


RetryHook = Callable[[RetryEvent], None]


def configure_from_env() -> None:
    """Applies ``POSTATO_LOG``: a stderr handler on the ``postato`` logger at its level."""
    level_name = _native.log_level()
    if level_name is None or level_name == "off" or logger.handlers:
        return
    level = _LEVELS.get(level_name)
    if level is None:
        print(
            f"postato: POSTATO_LOG gives level {level_name!r}, which is not one: use error, warn, info, debug or trace",
            file=sys.stderr,
        )
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)


def notice(message: str) -> None:
    """Called by the extension for a post that is valid but probably not what was meant."""
    logger.warning("%s", message)


def emit(
    what: str,
    business_key: str,
    attempt: int,
    status: Optional[int],
    reason: str,
    delay: float,
    on_retry: Optional[RetryHook] = None,
) -> None:
    """Called by the extension for each retry (``what == "retry"``) and each failed publish."""
    extra = {"business_key": business_key, "attempt": attempt, "status": status, "reason": reason, "delay": delay}
    if what != "retry":
        logger.warning("publish of %s failed after %d attempt(s): %s", business_key, attempt, reason, extra=extra)
        return
    logger.info("retrying %s: attempt %d in %.3f s (%s)", business_key, attempt, delay, reason, extra=extra)
    if on_retry is not None:
        try:
            on_retry(RetryEvent(business_key, attempt, delay, reason, status))
        except Exception:  # a failing hook must not fail the publish
            logger.exception("the on_retry hook raised (the publish goes on)")
