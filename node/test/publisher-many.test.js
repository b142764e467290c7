'use strict';
// Publisher.publishMany: a store-backed batch with `postato batch`'s guarantees (one
// implementation in Rust): outcomes in input order and in the store, a resumed run that sends
// nothing for what was published, the first post of a business key wins, a spent account's
// posts deferred, two publishers on one SQLite file, and an abort that leaves no claim behind.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {
  Client,
  Publisher,
  SqliteStore,
  MemoryStore,
  Post,
  BusinessKeyReusedError,
  DeferredError,
  InvalidSettingError,
  idempotencyKey,
} = require('..');
const { Simulator, key, client, post } = require('./helpers');

let sim;
test.before(async () => {
  sim = await Simulator.start();
});
test.after(() => sim.stop());

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const kinds = (results) => results.map((r) => (r.status === 'fulfilled' ? 'published' : r.reason.kind));
const dbPath = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'postato-many-')), 'posts.db');

test('each post has its outcome, in input order and in the store', async () => {
  const store = new SqliteStore(dbPath());
  const publisher = new Publisher(client(sim), store);
  const keys = Array.from({ length: 5 }, () => key('batch'));
  sim.script(keys[1], [{ action: 'respond', status: 422 }]);
  const posts = keys.map((k) => post(k));
  posts[3] = { ...posts[3], platform: '' };
  const results = await publisher.publishMany(posts, { concurrency: 2 });
  assert.deepEqual(kinds(results), ['published', 'permanent', 'published', 'invalid_input', 'published']);
  for (const i of [0, 2, 4]) {
    assert.ok(results[i].value instanceof Post);
    assert.equal(results[i].value.idempotencyKey, idempotencyKey(keys[i]));
    assert.equal(results[i].value.fromStore, false);
  }
  const counts = await store.counts();
  assert.deepEqual([counts.published, counts.deadLetters], [3, 1]);
  const letters = await store.deadLetters();
  assert.deepEqual(
    letters.map((d) => [d.businessKey, d.kind]),
    [[keys[1], 'permanent']],
  );
});

test('running it again resumes: nothing is sent for what was published', async () => {
  const file = dbPath();
  const keys = Array.from({ length: 6 }, () => key('resume'));
  await new Publisher(client(sim), new SqliteStore(file)).publishMany(keys.slice(0, 3).map((k) => post(k)));
  const before = sim.stats().requests;
  const results = await new Publisher(client(sim), new SqliteStore(file)).publishMany(keys.map((k) => post(k)));
  assert.deepEqual(
    results.map((r) => r.value.fromStore),
    [true, true, true, false, false, false],
  );
  assert.equal(sim.stats().requests, before + 3);
  for (const k of keys) assert.equal(sim.publishes(k), 1);
});

test('the first post of a business key wins', async () => {
  const publisher = new Publisher(client(sim), new MemoryStore());
  const [same, edited] = [key('same'), key('edited')];
  const before = sim.stats().requests;
  const results = await publisher.publishMany([post(same), post(edited), post(same), post(edited, 'edited')]);
  assert.deepEqual(kinds(results), ['published', 'published', 'published', 'business_key_reused']);
  assert.equal(results[2].value.id, results[0].value.id);
  assert.deepEqual([results[0].value.fromStore, results[2].value.fromStore], [false, true]);
  assert.ok(results[3].reason instanceof BusinessKeyReusedError);
  assert.equal(sim.stats().requests, before + 2);
});

test("a spent account's posts are deferred and the rest published", async () => {
  const spent = await Simulator.start({ spentAccounts: { 'x/acc_spent': 60 } });
  try {
    const spentClient = new Client({
      apiKey: spent.apiKey,
      workspaceId: 'ws_node',
      baseUrl: spent.baseUrl,
      maxRetryAfterMs: 200,
    });
    const publisher = new Publisher(spentClient, new MemoryStore());
    const posts = [0, 1, 2, 3].map((i) => ({ ...post(key('spent')), accountId: i % 2 ? 'acc_spent' : 'acc_1' }));
    const results = await publisher.publishMany(posts, { concurrency: 2 });
    assert.deepEqual(kinds(results), ['published', 'deferred', 'published', 'deferred']);
    assert.ok(results[1].reason instanceof DeferredError && results[1].reason.retryAt instanceof Date);
    const counts = await publisher.store.counts();
    assert.deepEqual([counts.published, counts.deferred, counts.deadLetters], [2, 2, 0]);
  } finally {
    await spent.stop();
  }
});

test('two publishers on one SQLite file publish each post once', async () => {
  const file = dbPath();
  const keys = Array.from({ length: 30 }, () => key('shared'));
  for (const k of keys) sim.script(k, [{ action: 'latency', ms: 20 }]);
  const posts = keys.map((k) => post(k));
  const before = sim.stats().requests;
  const [a, b] = await Promise.all(
    [0, 1].map(() => new Publisher(client(sim), new SqliteStore(file)).publishMany(posts, { concurrency: 8 })),
  );
  assert.ok([...a, ...b].every((r) => r.status === 'fulfilled'));
  assert.deepEqual(
    a.map((r) => r.value.id),
    b.map((r) => r.value.id),
  );
  // One publisher sent each post and the other found it in the store: each was sent once.
  assert.ok(a.every((r, i) => r.value.fromStore !== b[i].value.fromStore));
  assert.equal(sim.stats().requests - before, 30);
});

test('invalid options reject before anything is sent', async () => {
  const publisher = new Publisher(client(sim), new MemoryStore());
  const before = sim.stats().requests;
  for (const options of [{ concurrency: 0 }, { timeoutMs: -1 }, { force: true }]) {
    await assert.rejects(publisher.publishMany([post(key('never'))], options), InvalidSettingError);
  }
  await assert.rejects(publisher.publishMany('posts'), /posts: must be an array/);
  assert.equal(sim.stats().requests, before);
});

test('an abort sends nothing more, and a later run finishes the batch', async () => {
  const file = dbPath();
  const keys = Array.from({ length: 8 }, () => key('abort'));
  for (const k of keys) sim.script(k, [{ action: 'slowCommit', ms: 400 }]);
  const before = sim.stats().requests;
  const controller = new AbortController();
  const batch = new Publisher(client(sim), new SqliteStore(file)).publishMany(
    keys.map((k) => post(k)),
    { concurrency: 2, signal: controller.signal },
  );
  for (let waited = 0; sim.stats().requests - before < 2 && waited < 10_000; waited += 5) await sleep(5);
  controller.abort();
  await assert.rejects(batch, { name: 'AbortError' });
  await sleep(200);
  assert.equal(sim.stats().requests - before, 2, 'two in flight when aborted, none after');
  // No claim is left behind, and a later run finishes the batch: with real waits, it retries
  // the 409s the server answers while it finishes the commits it began.
  const waits = client(sim, { fastForwardWaits: false });
  const results = await new Publisher(waits, new SqliteStore(file)).publishMany(keys.map((k) => post(k)));
  assert.ok(
    results.every((r) => r.status === 'fulfilled'),
    String(results.find((r) => r.reason)?.reason),
  );
  for (const k of keys) assert.equal(sim.publishes(k), 1);
});
