"""Retries and failures from Rust: the ``postato`` logger, ``POSTATO_LOG``, and ``on_retry``.

``POSTATO_LOG`` (``error``, ``warn``, ``info``, ``debug`` or ``trace``, as for the CLI) gives
the ``postato`` logger a stderr handler at that level when the package is imported, unless
the application configured the logger itself.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from typing import Callable, Optional

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


def _level_name(value: str) -> str:
    """The level a ``tracing`` filter such as ``hyper=warn,postato=debug`` (the CLI's syntax)
    gives postato: its ``postato=`` directive, else its bare level, else ``warn``."""
    directives = [d.strip() for d in value.split(",") if d.strip()]
    for directive in directives:
        target, _, level = directive.partition("=")
        if level and target.strip() == "postato":
            return level.strip()
    bare = [d for d in directives if "=" not in d]
    return bare[-1] if bare else "warn"


def configure_from_env() -> None:
    """Applies ``POSTATO_LOG``: a stderr handler on the ``postato`` logger at its level."""
    value = os.environ.get("POSTATO_LOG", "").strip().lower()
    if not value or logger.handlers:
        return
    level_name = _level_name(value)
    if level_name == "off":
        return
    level = _LEVELS.get(level_name)
    if level is None:
        print(
            f"postato: POSTATO_LOG={value!r} is not a level: use error, warn, info, debug or trace",
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
