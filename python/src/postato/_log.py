"""Forwards retries and failures from Rust to the ``postato`` logger."""

from __future__ import annotations

import logging
from typing import Optional

logger = logging.getLogger("postato")


def notice(message: str) -> None:
    """Called by the extension for a post that is valid but probably not what was meant."""
    logger.warning("%s", message)


def emit(what: str, business_key: str, attempt: int, status: Optional[int], reason: str, delay: float) -> None:
    """Called by the extension for each retry (``what == "retry"``) and each failed publish."""
    extra = {"business_key": business_key, "attempt": attempt, "status": status, "reason": reason, "delay": delay}
    if what == "retry":
        logger.info("retrying %s: attempt %d in %.3f s (%s)", business_key, attempt, delay, reason, extra=extra)
    else:
        logger.warning("publish of %s failed after %d attempt(s): %s", business_key, attempt, reason, extra=extra)
