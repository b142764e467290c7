"""postato-testing: the Rust simulator of the Postato API, in-process on 127.0.0.1, for tests.

Its native module is its own (``postato_testing._native``): the ``postato`` extension that
production code loads holds no simulator.

>>> from postato_testing import Simulator
>>> with Simulator(faults={"server_error": 0.2}, seed=1) as sim:
...     client = Client(api_key=sim.api_key, workspace_id="ws", base_url=sim.base_url)
...     sim.script("draft-1", [{"action": "respond", "status": 500}, {"action": "ok"}])
...     ...
...     assert sim.stats().duplicate_keys == []
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from . import _native

__all__ = ["Simulator", "SimulatorStats", "DEFAULT_API_KEY"]

DEFAULT_API_KEY = "sk_test_postato"

_FAULTS = {
    "server_error": "serverError",
    "rate_limited": "rateLimited",
    "reset_before": "resetBefore",
    "drop_after_commit": "dropAfterCommit",
    "slow_commit": "slowCommit",
    "slow_commit_ms": "slowCommitMs",
    "latency": "latency",
    "latency_ms": "latencyMs",
}


def _faults_json(faults: Mapping[str, float]) -> Dict[str, float]:
    unknown = set(faults) - set(_FAULTS)
    if unknown:
        raise ValueError(f"unknown fault names {sorted(unknown)}: use {sorted(_FAULTS)}")
    return {_FAULTS[name]: value for name, value in faults.items()}


@dataclass(frozen=True)
class SimulatorStats:
    """What the simulator saw; ``platform_publishes`` is the ground truth of real publishes."""

    requests: int
    by_status: Dict[int, int]
    replays: int
    in_progress_conflicts: int
    key_reused_conflicts: int
    rate_limited: int
    faults_injected: int
    resets: int
    drops_after_commit: int
    slow_commits: int
    platform_publishes: int
    published_keys: int
    duplicate_keys: List[str] = field(default_factory=list)


class Simulator:
    """The Postato API simulator, started on enter (or :meth:`start`) and stopped on exit."""

    def __init__(
        self,
        *,
        api_keys: Sequence[str] = (DEFAULT_API_KEY,),
        faults: Optional[Mapping[str, float]] = None,
        rate_limit: Optional[Tuple[float, int]] = None,
        seed: int = 0,
        require_idempotency_key: bool = True,
        retention: float = 86_400.0,
        account_rate_limit: Optional[Tuple[float, int]] = None,
        account_quota: Optional[Tuple[int, float]] = None,
        spent_accounts: Optional[Mapping[str, int]] = None,
    ) -> None:
        """``faults``: probabilities by name (``server_error``, ``rate_limited``,
        ``reset_before``, ``drop_after_commit``, ``slow_commit``, ``latency``) plus
        ``slow_commit_ms`` and ``latency_ms``. ``rate_limit``: (requests per second, burst), the
        workspace's. Per account (the post's ``platform/accountId``): ``account_rate_limit``
        (requests per second, burst), ``account_quota`` (requests, per window in seconds), and
        ``spent_accounts`` (``{"x/acc_1": 3000}``: every request answered 429 for that many
        seconds from the start)."""
        self._config: Dict[str, Any] = {
            "accountRateLimit": None
            if account_rate_limit is None
            else {"ratePerSecond": account_rate_limit[0], "burst": account_rate_limit[1]},
            "accountQuota": None
            if account_quota is None
            else {"limit": account_quota[0], "window": int(account_quota[1] * 1000)},
            "spentAccounts": dict(spent_accounts or {}),
            "apiKeys": list(api_keys),
            "faults": _faults_json(faults or {}),
            "rateLimit": None if rate_limit is None else {"ratePerSecond": rate_limit[0], "burst": rate_limit[1]},
            "seed": seed,
            "requireIdempotencyKey": require_idempotency_key,
            "retention": int(retention * 1000),
        }
        self._native: Optional[_native.NativeSimulator] = None

    def start(self) -> Simulator:
        if self._native is None:
            self._native = _native.NativeSimulator(json.dumps(self._config))
        return self

    def stop(self) -> None:
        if self._native is not None:
            self._native.stop()
            self._native = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def _sim(self) -> _native.NativeSimulator:
        if self._native is None:
            raise RuntimeError("the simulator is not running: use it as a context manager or call start()")
        return self._native

    @property
    def base_url(self) -> str:
        return self._sim.base_url

    @property
    def api_key(self) -> str:
        return self._sim.api_key

    def stats(self) -> SimulatorStats:
        d = json.loads(self._sim.stats_json())
        return SimulatorStats(
            requests=d["requests"],
            by_status={int(k): v for k, v in d["byStatus"].items()},
            replays=d["replays"],
            in_progress_conflicts=d["inProgressConflicts"],
            key_reused_conflicts=d["keyReusedConflicts"],
            rate_limited=d["rateLimited"],
            faults_injected=d["faultsInjected"],
            resets=d["resets"],
            drops_after_commit=d["dropsAfterCommit"],
            slow_commits=d["slowCommits"],
            platform_publishes=d["platformPublishes"],
            published_keys=d["publishedKeys"],
            duplicate_keys=list(d["duplicateKeys"]),
        )

    def publishes(self, business_key: str) -> int:
        """Genuine publishes of a business key (exactly 1 for a post published once)."""
        return self._sim.publishes_for(business_key)

    def script(self, business_key: str, actions: Sequence[Mapping[str, Any]]) -> None:
        """Scripts the requests of one business key, consumed in order. Actions:
        ``{"action": "ok"}``, ``{"action": "respond", "status": 500, "headers": {...},
        "body": ..., "bodyText": "..."}``, ``{"action": "reset"}``,
        ``{"action": "dropAfterCommit"}``, ``{"action": "slowCommit", "ms": 500}``,
        ``{"action": "hang", "ms": 5000}``, ``{"action": "latency", "ms": 100}``."""
        self._sim.script(business_key, json.dumps(list(actions)))

    def set_faults(self, **faults: float) -> None:
        self._sim.set_faults(json.dumps(_faults_json(faults)))

    def set_rate_limit(self, rate_per_second: Optional[float], burst: Optional[int] = None) -> None:
        """``rate_per_second=None`` removes the limit; ``burst=None`` is the simulator's default."""
        self._sim.set_rate_limit(rate_per_second, burst)

    def outage(self, duration: float, start_in: float = 0.0) -> None:
        """Every request fails with 503 for ``duration`` seconds, from ``start_in``."""
        self._sim.outage(start_in, duration)

    def reset(self) -> None:
        self._sim.reset()

    def __repr__(self) -> str:
        state = self._native.base_url if self._native is not None else "stopped"
        return f"Simulator({state})"
