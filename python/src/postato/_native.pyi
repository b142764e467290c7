"""Type stubs of the Rust extension (private: use the ``postato`` package)."""

import asyncio
from collections.abc import Awaitable
from typing import Any, Callable, Dict, List, Optional, Tuple

def idempotency_key(business_key: str) -> str: ...
def version() -> str: ...
def log_level(filter: Optional[str] = None) -> Optional[str]: ...
def client_defaults_json() -> str: ...
def client_settings() -> List[Tuple[str, str]]: ...
def python_name(field: str) -> str: ...
def shutdown() -> None: ...
def after_fork_in_child() -> None: ...
def test_panic() -> None: ...
def test_panic_async(event_loop: asyncio.AbstractEventLoop, completions: Completions) -> Awaitable[None]: ...

class Completions:
    def __init__(self) -> None: ...
    def drain(self) -> None: ...

class NativeClient:
    def __init__(
        self,
        api_key: Optional[str],
        workspace_id: Optional[str],
        language: str,
        settings: List[Tuple[str, float]],
        base_url: Optional[str] = None,
        ca_bundle: Optional[str] = None,
        fast_forward_waits: Optional[bool] = None,
        on_retry: Optional[Callable[..., None]] = None,
    ) -> None: ...
    def publish(
        self, post_json: str, deadline: Optional[float] = None, max_attempts: Optional[float] = None
    ) -> Dict[str, Any]: ...
    def publish_async(
        self,
        post_json: str,
        event_loop: asyncio.AbstractEventLoop,
        completions: Completions,
        deadline: Optional[float] = None,
        max_attempts: Optional[float] = None,
    ) -> Awaitable[Dict[str, Any]]: ...
    def publish_many(
        self,
        posts_json: List[Optional[str]],
        concurrency: Optional[float] = None,
        deadline: Optional[float] = None,
        max_attempts: Optional[float] = None,
    ) -> List[Any]: ...
    def publish_many_async(
        self,
        posts_json: List[Optional[str]],
        concurrency: Optional[float],
        event_loop: asyncio.AbstractEventLoop,
        completions: Completions,
        deadline: Optional[float] = None,
        max_attempts: Optional[float] = None,
    ) -> Awaitable[List[Any]]: ...
    @staticmethod
    def check_call_options(deadline: Optional[float] = None, max_attempts: Optional[float] = None) -> None: ...
    @property
    def workspace_id(self) -> str: ...
    @property
    def base_url(self) -> str: ...

class NativeStore:
    def __init__(self, path: Optional[str] = None) -> None: ...
    @staticmethod
    def postgres(url: str, pool_size: Optional[float] = None) -> NativeStore: ...
    def counts(self) -> Dict[str, Any]: ...
    def dead_letters_json(self, limit: Optional[float]) -> List[str]: ...
    def published_id(self, business_key: str) -> Optional[str]: ...

class NativePublisher:
    def __init__(self, client: NativeClient, store: NativeStore, key_retention: Optional[float] = None) -> None: ...
    def publish(
        self,
        post_json: str,
        force: bool = False,
        deadline: Optional[float] = None,
        max_attempts: Optional[float] = None,
    ) -> Dict[str, Any]: ...
    def publish_due(self, concurrency: Optional[float] = None) -> Dict[str, Any]: ...
    def publish_due_async(
        self,
        event_loop: asyncio.AbstractEventLoop,
        completions: Completions,
        concurrency: Optional[float] = None,
    ) -> Awaitable[Dict[str, Any]]: ...
    def publish_async(
        self,
        post_json: str,
        event_loop: asyncio.AbstractEventLoop,
        completions: Completions,
        force: bool = False,
        deadline: Optional[float] = None,
        max_attempts: Optional[float] = None,
    ) -> Awaitable[Dict[str, Any]]: ...
