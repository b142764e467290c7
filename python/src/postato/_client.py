"""``Client`` and ``AsyncClient``: publish posts through the Rust client.

Sync calls release the GIL, so threads publish in parallel; async calls are asyncio
awaitables, and cancelling the task cancels the publish (nothing is retried after it).
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple, TypeVar, Union

from . import _native, _telemetry
from ._bridge import running_loop
from ._log import RetryHook
from ._native import python_name as _python_name
from ._wire import Content, PostType, ScheduledAt, Status, item_json, post_json, setting_number
from .errors import InvalidPostError, InvalidSettingError, PostatoError

_LANGUAGE = f"python/{sys.version_info.major}.{sys.version_info.minor}"


@dataclass(frozen=True)
class Post:
    """A published post."""

    id: str
    status: str
    idempotency_key: str
    attempts: int
    replayed: bool
    from_store: bool = False
    request_id: Optional[str] = None
    """The server's id for the request that published it (``X-Request-Id``), for its support;
    ``None`` when it sent none or the store answered."""

    @classmethod
    def _from_native(cls, d: Dict[str, Any]) -> Post:
        return cls(
            d["id"], d["status"], d["idempotency_key"], d["attempts"], d["replayed"], d["from_store"], d["request_id"]
        )


@dataclass(frozen=True)
class ClientDefaults:
    """The defaults of every ``Client`` setting (times in seconds), as the Rust client
    defines them: ``postato.DEFAULTS``. A setting left at ``None`` takes its default."""

    base_url: str
    max_attempts: int
    timeout: float
    connect_timeout: float
    backoff_base: float
    backoff_cap: float
    deadline: Optional[float]
    max_rate_limit_waits: int
    max_retry_after: float
    concurrency: int
    """Posts in flight at once in ``publish_many``."""


DEFAULTS = ClientDefaults(**json.loads(_native.client_defaults_json()))

# The client's bounded settings: (Python name, the name its errors give it).
_CLIENT_SETTINGS = _native.client_settings()


# The options of one publish: (Python name, the name its errors give it), from the settings
# table in Rust (``deadline``, ``max_attempts``, ``timeout``).
_CALL_SETTINGS = dict(_native.call_settings())

_CallOptions = Dict[str, float]
"""Per-call options given, by their Python names (times in seconds)."""


def _given_call_options(**given: Optional[float]) -> _CallOptions:
    """The per-call options given (``None``: not given), type-checked by name; the bounds are
    the Rust client's."""
    checked = {name: setting_number(_CALL_SETTINGS[name], value) for name, value in given.items()}
    return {name: value for name, value in checked.items() if value is not None}


PostItem = Mapping[str, Any]
"""One post of ``publish_many``: ``publish``'s keyword arguments as a mapping."""


def _many_wires(posts: Iterable[PostItem]) -> Tuple[List[Optional[str]], List[Optional[PostatoError]]]:
    """Each post's wire JSON, or ``None`` and the post's own error where it does not convert."""
    wires: List[Optional[str]] = []
    errors: List[Optional[PostatoError]] = []
    for index, item in enumerate(posts):
        try:
            wires.append(item_json(index, item))
            errors.append(None)
        except PostatoError as error:
            wires.append(None)
            errors.append(error)
        except Exception as error:  # a value no conversion expected (an out-of-range date, …)
            wires.append(None)
            errors.append(InvalidPostError(f"invalid post: posts[{index}]: {error}", field=""))
    return wires, errors


def _many_results(native: List[Any], errors: List[Optional[PostatoError]]) -> List[Union[Post, PostatoError]]:
    """The extension's results, in input order (``None`` where the post kept its own error)."""
    return [
        error if error is not None else outcome if isinstance(outcome, PostatoError) else Post._from_native(outcome)
        for error, outcome in zip(errors, native)
    ]


_Self = TypeVar("_Self", bound="_ClientBase")


def _path_setting(name: str, value: Union[str, "os.PathLike[str]", None]) -> Optional[str]:
    """A file setting as a path string: a ``str`` or ``os.PathLike``, else an error naming it."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, os.PathLike):
        path = os.fspath(value)
        if isinstance(path, str):
            return path
    raise InvalidSettingError(
        f"invalid setting: {name}: must be a path (str or os.PathLike), got {type(value).__name__}",
        field=name,
    )


def _text_setting(name: str, value: Any) -> Optional[str]:
    """A text setting as given (``None``: not given), else an error naming it."""
    if value is None or isinstance(value, str):
        return value
    raise InvalidSettingError(
        f"invalid setting: {_python_name(name)}: must be a string, got {type(value).__name__}", field=name
    )


def _header_pairs(headers: Optional[Mapping[str, str]]) -> List[Tuple[str, str]]:
    """``default_headers`` as ``(name, value)`` pairs; only the types are checked here (the
    names Rust refuses are Rust's to name)."""
    if headers is None:
        return []
    if not isinstance(headers, Mapping):
        raise InvalidSettingError(
            "invalid setting: default_headers (defaultHeaders): must be a mapping of header names to values, "
            f"got {type(headers).__name__}",
            field="defaultHeaders",
        )
    pairs = list(headers.items())
    for name, value in pairs:
        if not isinstance(name, str) or not isinstance(value, str):
            raise InvalidSettingError(
                f"invalid setting: default_headers (defaultHeaders): {name!r}: header names and values must be "
                "strings",
                field="defaultHeaders",
            )
    return pairs


class _ClientBase:
    def __init__(
        self,
        api_key: Optional[str] = None,
        workspace_id: Optional[str] = None,
        *,
        base_url: Optional[str] = None,
        ca_bundle: Union[str, os.PathLike[str], None] = None,
        max_attempts: Optional[int] = None,
        timeout: Optional[float] = None,
        backoff_base: Optional[float] = None,
        backoff_cap: Optional[float] = None,
        deadline: Optional[float] = None,
        connect_timeout: Optional[float] = None,
        max_rate_limit_waits: Optional[int] = None,
        max_retry_after: Optional[float] = None,
        fast_forward_waits: bool = False,
        on_retry: Optional[RetryHook] = None,
        default_headers: Optional[Mapping[str, str]] = None,
        http_proxy: Optional[str] = None,
    ) -> None:
        """Times are in seconds; a setting left at ``None`` takes its default from
        ``postato.DEFAULTS`` (``base_url=None`` is the production API).

        ``api_key``, ``workspace_id``, ``base_url`` and ``ca_bundle`` not given are read from
        ``POSTATO_API_KEY``, ``POSTATO_WORKSPACE_ID``, ``POSTATO_BASE_URL`` and
        ``POSTATO_CA_BUNDLE``, as the CLI reads them (an argument wins; a variable set but
        empty is an error).

        ``ca_bundle`` names a file of CA certificates (PEM) trusted beside the built-in roots
        and ``SSL_CERT_FILE``: your company's CA, when a proxy inspects TLS.

        ``default_headers`` are sent with every request (a tenant or tracing header of your
        own; a ``User-Agent`` goes before postato's). ``Authorization``, ``Idempotency-Key``
        and ``Content-Type`` are postato's and refused, as are headers that frame a request
        and its body (``Host``, ``Content-*``). ``http_proxy`` sends every request through a
        proxy (``http://`` or ``https://``, credentials in the URL), ``NO_PROXY``
        notwithstanding; without it ``HTTPS_PROXY``, ``HTTP_PROXY`` and ``NO_PROXY`` apply.
        postato's own errors and ``repr`` never show a header's value or the proxy's
        credentials (unlike the API key, a value a server echoes back is not removed from
        its answer).

        ``on_retry`` is called with a :class:`RetryEvent` before each retry, on one of
        postato's worker threads (the ``postato`` logger logs each retry too).

        ``fast_forward_waits`` is for tests: backoffs and Retry-After waits advance a
        virtual clock instead of sleeping (attempt timeouts stay real).
        """
        given = locals()
        # Every bounded setting by its Python name (postato_core::settings), its bounds Rust's.
        settings = [
            (name, number)
            for name, field in _CLIENT_SETTINGS
            if (number := setting_number(field, given[name])) is not None
        ]
        if on_retry is not None and not callable(on_retry):
            raise InvalidSettingError(
                f"invalid setting: on_retry (onRetry): must be callable, got {type(on_retry).__name__}",
                field="onRetry",
            )
        is_async = inspect.iscoroutinefunction(on_retry) or inspect.iscoroutinefunction(
            getattr(on_retry, "__call__", None)  # an object whose __call__ is async
        )
        if on_retry is not None and is_async:
            raise InvalidSettingError(
                "invalid setting: on_retry (onRetry): is an async function, which would never run: postato "
                "calls it on a worker thread, with no event loop; give a plain function (it may hand the "
                "event to your loop with loop.call_soon_threadsafe)",
                field="onRetry",
            )
        self._native = _native.NativeClient(
            api_key,
            workspace_id,
            _LANGUAGE,
            settings,
            base_url=base_url,
            ca_bundle=_path_setting("caBundle", ca_bundle),
            fast_forward_waits=fast_forward_waits,
            on_retry=on_retry,
            default_headers=_header_pairs(default_headers),
            http_proxy=_text_setting("httpProxy", http_proxy),
            metrics=_telemetry.enabled,
        )
        self._call: _CallOptions = {}
        if _telemetry.enabled:
            _telemetry.track(self._native)

    @contextlib.contextmanager
    def _observed(self, name: str, subject: Dict[str, Any]) -> Iterator[Any]:
        """A call's span, with ``subject``'s attributes, when the application traces
        (``_telemetry``); its metrics reach the application's reader when it collects."""
        if not (_telemetry.enabled and _telemetry.tracing()):
            yield None
            return
        with _telemetry.span(name, {"postato.workspace_id": self._native.workspace_id, **subject}) as span:
            yield span

    def with_options(
        self: _Self,
        *,
        deadline: Optional[float] = None,
        max_attempts: Optional[int] = None,
        timeout: Optional[float] = None,
    ) -> _Self:
        """This client with options of its own for every publish it makes (``deadline`` and
        ``timeout`` in seconds, ``max_attempts``), checked now by the rules of the client's
        settings of the same names. It shares the connection pool, rate-limit gates (one per
        account, one for the workspace) and retry budget::

            client.with_options(deadline=5).publish(...)
        """
        call = self._call_options(deadline=deadline, max_attempts=max_attempts, timeout=timeout)
        _native.NativeClient.check_call_options(call)
        copy = object.__new__(type(self))
        copy.__dict__.update(self.__dict__)
        copy._call = dict(call)
        return copy

    def _call_options(self, **given: Optional[float]) -> List[Tuple[str, float]]:
        """The options of one call, as the extension takes them: its keywords over
        ``with_options``."""
        call = dict(self._call)
        call.update(_given_call_options(**given))
        return list(call.items())

    @property
    def workspace_id(self) -> str:
        return self._native.workspace_id

    @property
    def base_url(self) -> str:
        return self._native.base_url

    def __repr__(self) -> str:
        return f"{type(self).__name__}(workspace_id={self.workspace_id!r}, base_url={self.base_url!r})"


class Client(_ClientBase):
    """Publishes synchronously."""

    def publish(
        self,
        business_key: str,
        platform: str,
        account_id: str,
        content: Content,
        *,
        status: Optional[Status] = None,
        post_type: PostType = "post",
        scheduled_at: ScheduledAt = None,
        deadline: Optional[float] = None,
        max_attempts: Optional[int] = None,
        timeout: Optional[float] = None,
    ) -> Post:
        """Publishes one post, retrying per the policy with the same idempotency key.

        ``status=None`` means ``"scheduled"`` when ``scheduled_at`` is given, else ``"publish"``;
        ``"publish"`` with a ``scheduled_at`` is refused (it would publish at once).
        ``deadline`` and ``timeout`` (seconds: the whole publish, and each attempt) and
        ``max_attempts`` are this publish's own, over the client's (and over
        ``with_options``)."""
        call = self._call_options(deadline=deadline, max_attempts=max_attempts, timeout=timeout)
        wire = post_json(business_key, platform, account_id, content, status, post_type, scheduled_at)
        with self._observed("postato.publish", {"postato.business_key": business_key}) as span:
            post = Post._from_native(self._native.publish(wire, call))
            _telemetry.published(span, post.attempts)
        return post

    def publish_many(
        self,
        posts: Iterable[PostItem],
        *,
        concurrency: Optional[int] = None,
        deadline: Optional[float] = None,
        max_attempts: Optional[int] = None,
        timeout: Optional[float] = None,
    ) -> List[Union[Post, PostatoError]]:
        """Publishes every post, ``concurrency`` at once (default ``DEFAULTS.concurrency``),
        each as ``publish`` would, sharing this client's rate-limit gates and retry budget.

        Returns one entry per post, in input order: its ``Post``, or the ``PostatoError`` it
        ended with (never raised: one failed post does not hide the others). Only an invalid
        ``concurrency``, ``deadline``, ``max_attempts`` or ``timeout`` raises. Ctrl-C cancels the posts in flight and sends no more."""
        call = self._call_options(deadline=deadline, max_attempts=max_attempts, timeout=timeout)
        wires, errors = _many_wires(posts)
        with self._observed("postato.publish_many", {"postato.posts": len(wires)}) as span:
            native = self._native.publish_many(wires, setting_number("concurrency", concurrency), call)
            results = _many_results(native, errors)
            _telemetry.many_done(span, results)
        return results

    def close(self) -> None:
        """Nothing to release eagerly; present for symmetry with ``with``."""

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class AsyncClient(_ClientBase):
    """Publishes as asyncio awaitables."""

    async def publish(
        self,
        business_key: str,
        platform: str,
        account_id: str,
        content: Content,
        *,
        status: Optional[Status] = None,
        post_type: PostType = "post",
        scheduled_at: ScheduledAt = None,
        deadline: Optional[float] = None,
        max_attempts: Optional[int] = None,
        timeout: Optional[float] = None,
    ) -> Post:
        """Publishes one post; cancelling the awaiting task cancels the publish. The keywords
        are ``Client.publish``'s."""
        call = self._call_options(deadline=deadline, max_attempts=max_attempts, timeout=timeout)
        wire = post_json(business_key, platform, account_id, content, status, post_type, scheduled_at)
        with self._observed("postato.publish", {"postato.business_key": business_key}) as span:
            post = Post._from_native(await self._native.publish_async(wire, *running_loop(), call))
            _telemetry.published(span, post.attempts)
        return post

    async def publish_many(
        self,
        posts: Iterable[PostItem],
        *,
        concurrency: Optional[int] = None,
        deadline: Optional[float] = None,
        max_attempts: Optional[int] = None,
        timeout: Optional[float] = None,
    ) -> List[Union[Post, PostatoError]]:
        """``Client.publish_many`` as one awaitable; cancelling the awaiting task cancels the
        posts in flight and sends no more."""
        call = self._call_options(deadline=deadline, max_attempts=max_attempts, timeout=timeout)
        wires, errors = _many_wires(posts)
        with self._observed("postato.publish_many", {"postato.posts": len(wires)}) as span:
            native = await self._native.publish_many_async(
                wires, setting_number("concurrency", concurrency), *running_loop(), call
            )
            results = _many_results(native, errors)
            _telemetry.many_done(span, results)
        return results

    async def aclose(self) -> None:
        """Nothing to release eagerly; present for ``async with``."""

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()
