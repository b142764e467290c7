"""The running event loop and its completions queue, for the native async calls.

Each loop gets one ``_native.Completions``: the Rust side hands finished publishes back
through it, waking the loop once per batch rather than once per publish.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any, Tuple

from . import _native

_BY_LOOP: "weakref.WeakKeyDictionary[Any, _native.Completions]" = weakref.WeakKeyDictionary()


def running_loop() -> Tuple[asyncio.AbstractEventLoop, _native.Completions]:
    """The running loop and its completions queue (a fresh queue for a loop without weak
    references, which then works unbatched)."""
    loop = asyncio.get_running_loop()
    try:
        completions = _BY_LOOP.get(loop)
        if completions is None:
            completions = _BY_LOOP[loop] = _native.Completions()
    except TypeError:
        completions = _native.Completions()
    return loop, completions
