"""Every process that used the package exits cleanly, and a forked child keeps working."""

import multiprocessing
import os
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from conftest import post_args

import postato
from postato.testing import Simulator

SCRIPT = textwrap.dedent(
    """
    import asyncio
    from postato import AsyncClient
    from postato.testing import Simulator

    sim = Simulator().start()
    async def main():
        client = AsyncClient(api_key=sim.api_key, workspace_id="w", base_url=sim.base_url)
        await asyncio.gather(*(client.publish(business_key=f"exit-{i}", platform="x", account_id="a", content="c") for i in range(5)))
        # Leave one publish in flight at exit: the runtime must shut down cleanly anyway.
        sim.script("inflight", [{"action": "hang", "ms": 5000}])
        asyncio.ensure_future(client.publish(business_key="inflight", platform="x", account_id="a", content="c"))
        await asyncio.sleep(0.05)
    asyncio.run(main())
    print("done")
    """
)


def test_a_script_using_async_client_exits_cleanly_50_times(tmp_path: Any) -> None:
    path = tmp_path / "exit_check.py"
    path.write_text(SCRIPT)
    crashes = []
    for run in range(50):
        result = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=60)
        if result.returncode != 0 or result.stdout.strip() != "done":
            crashes.append((run, result.returncode, result.stderr[-500:]))
    assert crashes == [], crashes


def _child_publish(base_url: str, api_key: str, business_key: str, queue: Any) -> None:
    client = postato.Client(api_key=api_key, workspace_id="ws_py", base_url=base_url)
    queue.put(client.publish(**post_args(business_key)).id)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX-only")
def test_a_process_forked_after_import_keeps_working(client: postato.Client, sim: Simulator, key: Any) -> None:
    client.publish(**post_args(key("parent")))  # the runtime and pool exist before the fork
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    k = key("child")
    child = context.Process(target=_child_publish, args=(sim.base_url, sim.api_key, k, queue))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert queue.get(timeout=5).startswith("post_")
    # The parent's client is used again in the child too.
    process = context.Process(target=lambda: client.publish(**post_args(key("inherited"))))
    process.start()
    process.join(30)
    assert process.exitcode == 0
    assert sim.publishes(k) == 1
