"""Publishes/s of the Python Client (64 threads), AsyncClient (64 tasks) and publish_many
(concurrency 64), beside the cookbook's retry loop on urllib3 (threads), aiohttp and httpx
(asyncio) at the same concurrency. Prints JSON lines {name, perSecond}.
Usage: bench_python.py BASE_URL API_KEY N"""
import asyncio
import hashlib
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import aiohttp
import httpx
import urllib3

import postato

BASE, KEY, N = sys.argv[1], sys.argv[2], int(sys.argv[3])
URL = f"{BASE}/v1/workspaces/ws_bench/posts"
CONCURRENCY = 64


def report(name: str, seconds: float) -> None:
    print(json.dumps({"name": name, "perSecond": N / seconds}), flush=True)


def post(prefix: str, i: int) -> dict:
    return {"business_key": f"{prefix}-{i}", "platform": "x", "account_id": "acc_1", "content": f"benchmark post {i}"}


def request(prefix: str, i: int) -> tuple:
    body = json.dumps({"platform": "x", "accountId": "acc_1", "status": "publish", "postType": "post", "content": f"benchmark post {i}"})
    key = hashlib.sha256(f"{prefix}-{i}".encode()).hexdigest()[:32]
    return {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json", "Idempotency-Key": key}, body


def reference(http: httpx.Client, prefix: str, i: int) -> None:
    headers, body = request(prefix, i)
    for attempt in range(1, 6):
        response = http.post(URL, headers=headers, content=body)
        if response.status_code < 300:
            response.json()
            return
        if response.status_code == 429:
            time.sleep(float(response.headers.get("retry-after", 1)))
        elif response.status_code < 500:
            return
        else:
            time.sleep(min(30, 0.5 * 2**attempt))


async def reference_async(http: httpx.AsyncClient, prefix: str, i: int) -> None:
    headers, body = request(prefix, i)
    for attempt in range(1, 6):
        response = await http.post(URL, headers=headers, content=body)
        if response.status_code < 300:
            response.json()
            return
        if response.status_code == 429:
            await asyncio.sleep(float(response.headers.get("retry-after", 1)))
        elif response.status_code < 500:
            return
        else:
            await asyncio.sleep(min(30, 0.5 * 2**attempt))


def reference_urllib3(http: urllib3.PoolManager, prefix: str, i: int) -> None:
    """The cookbook's loop as production code writes it with urllib3: its Retry handles 5xx and
    429 (Retry-After honoured) on the POST, which it does not retry by default."""
    headers, body = request(prefix, i)
    response = http.request("POST", URL, headers=headers, body=body)
    if response.status < 300:
        json.loads(response.data)


async def reference_aiohttp(session: aiohttp.ClientSession, prefix: str, i: int) -> None:
    headers, body = request(prefix, i)
    for attempt in range(1, 6):
        async with session.post(URL, headers=headers, data=body) as response:
            if response.status < 300:
                await response.json()
                return
            await response.read()
            if response.status == 429:
                await asyncio.sleep(float(response.headers.get("retry-after", 1)))
            elif response.status < 500:
                return
            else:
                await asyncio.sleep(min(30, 0.5 * 2**attempt))


def threads() -> None:
    client = postato.Client(api_key=KEY, workspace_id="ws_bench", base_url=BASE)
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        started = time.perf_counter()
        list(pool.map(lambda i: client.publish(**post("py-threads", i)), range(N)))
        report("threads", time.perf_counter() - started)
    retry = urllib3.Retry(total=5, backoff_factor=0.5, status_forcelist=[429, 500, 502, 503, 504], allowed_methods=None)
    http = urllib3.PoolManager(maxsize=CONCURRENCY, retries=retry)
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        started = time.perf_counter()
        list(pool.map(lambda i: reference_urllib3(http, "py-ref-urllib3", i), range(N)))
        report("urllib3-threads", time.perf_counter() - started)
    with httpx.Client(limits=httpx.Limits(max_connections=CONCURRENCY)) as hx, ThreadPoolExecutor(CONCURRENCY) as pool:
        started = time.perf_counter()
        list(pool.map(lambda i: reference(hx, "py-ref-threads", i), range(N)))
        report("httpx-threads", time.perf_counter() - started)
    posts = [post("py-many", i) for i in range(N)]
    started = time.perf_counter()
    results = client.publish_many(posts, concurrency=CONCURRENCY)
    failed = [r for r in results if isinstance(r, Exception)]
    if failed:
        raise failed[0]
    report("publish_many", time.perf_counter() - started)


async def with_asyncio() -> None:
    gate = asyncio.Semaphore(CONCURRENCY)
    client = postato.AsyncClient(api_key=KEY, workspace_id="ws_bench", base_url=BASE)

    async def ours(i: int) -> None:
        async with gate:
            await client.publish(**post("py-async", i))

    started = time.perf_counter()
    await asyncio.gather(*(ours(i) for i in range(N)))
    report("asyncio", time.perf_counter() - started)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:

        async def aio(i: int) -> None:
            async with gate:
                await reference_aiohttp(session, "py-ref-aiohttp", i)

        started = time.perf_counter()
        await asyncio.gather(*(aio(i) for i in range(N)))
        report("aiohttp", time.perf_counter() - started)
    posts = [post("py-many-async", i) for i in range(N)]
    started = time.perf_counter()
    results = await client.publish_many(posts, concurrency=CONCURRENCY)
    failed = [r for r in results if isinstance(r, Exception)]
    if failed:
        raise failed[0]
    report("publish_many-asyncio", time.perf_counter() - started)
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=CONCURRENCY)) as http:

        async def theirs(i: int) -> None:
            async with gate:
                await reference_async(http, "py-ref-async", i)

        started = time.perf_counter()
        await asyncio.gather(*(theirs(i) for i in range(N)))
        report("httpx-asyncio", time.perf_counter() - started)


threads()
asyncio.run(with_asyncio())
