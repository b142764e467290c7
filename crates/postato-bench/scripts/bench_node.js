'use strict';
// Publishes/s of the Node Client (64 workers) against the reference algorithm written with
// fetch at the same concurrency, and of one publishMany call (concurrency 64). Prints JSON
// lines {name, perSecond}.
// Usage: node bench_node.js BASE_URL API_KEY N
const path = require('node:path');
const crypto = require('node:crypto');
const { Client } = require(path.join(__dirname, '../../../node'));

const [base, apiKey, count] = process.argv.slice(2);
const N = Number(count);
const URL = `${base}/v1/workspaces/ws_bench/posts`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function workers(job) {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < N) await job(next++);
    }),
  );
  return (performance.now() - started) / 1000;
}

async function reference(i) {
  const body = JSON.stringify({
    platform: 'x',
    accountId: 'acc_1',
    status: 'publish',
    postType: 'post',
    content: `benchmark post ${i}`,
  });
  const key = crypto.createHash('sha256').update(`node-ref-${i}`).digest('hex').slice(0, 32);
  for (let attempt = 1; attempt <= 5; attempt++) {
    const response = await fetch(URL, {
      method: 'POST',
      headers: { Authorization: `Bearer ${apiKey}`, 'Content-Type': 'application/json', 'Idempotency-Key': key },
      body,
    });
    if (response.ok) return response.json();
    await response.arrayBuffer();
    if (response.status === 429) await sleep(Number(response.headers.get('retry-after') ?? 1) * 1000);
    else if (response.status < 500) return undefined;
    else await sleep(Math.min(30000, 500 * 2 ** attempt));
  }
  return undefined;
}

async function main() {
  const client = new Client({ apiKey, workspaceId: 'ws_bench', baseUrl: base });
  const ours = await workers((i) =>
    client.publish({ businessKey: `node-${i}`, platform: 'x', accountId: 'acc_1', content: `benchmark post ${i}` }),
  );
  console.log(JSON.stringify({ name: 'client', perSecond: N / ours }));
  const theirs = await workers(reference);
  console.log(JSON.stringify({ name: 'fetch', perSecond: N / theirs }));
  const posts = Array.from({ length: N }, (_, i) => ({
    businessKey: `node-many-${i}`,
    platform: 'x',
    accountId: 'acc_1',
    content: `benchmark post ${i}`,
  }));
  const started = performance.now();
  const results = await client.publishMany(posts, { concurrency: 64 });
  const seconds = (performance.now() - started) / 1000;
  const failed = results.filter((r) => r.status !== 'fulfilled');
  if (failed.length > 0) throw failed[0].reason;
  console.log(JSON.stringify({ name: 'publishMany', perSecond: N / seconds }));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
