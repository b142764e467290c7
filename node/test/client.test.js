'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const util = require('node:util');
const os = require('node:os');
const fs = require('node:fs');
const path = require('node:path');
const postato = require('..');
const { Simulator, key, client, post } = require('./helpers');

const { Publisher, SqliteStore, MemoryStore, PostatoError, InvalidPostError, InvalidSettingError } = postato;
let sim;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (polling) until `condition()` holds; fails after `timeoutMs`. */
async function until(condition, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${condition}`);
    await sleep(5);
  }
}

test.before(async () => {
  sim = await Simulator.start();
});
test.after(() => sim.stop());

test('reference case 1: a normal publish returns 202 and is stored', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postato-'));
  const publisher = new Publisher(client(sim), new SqliteStore(path.join(dir, 'posts.db')));
  const k = key();
  const published = await publisher.publish(post(k));
  assert.deepEqual([published.attempts, published.status, published.fromStore], [1, 'published', false]);
  assert.equal(await publisher.store.publishedId(k), published.id);
  assert.equal(sim.publishes(k), 1);
});

test('reference case 2: 500 twice then 202 is stored once', async () => {
  const k = key();
  sim.script(k, [{ action: 'respond', status: 500 }, { action: 'respond', status: 500 }, { action: 'ok' }]);
  const publisher = new Publisher(client(sim), new MemoryStore());
  const published = await publisher.publish(post(k));
  assert.equal(published.attempts, 3);
  assert.equal((await publisher.store.counts()).published, 1);
  assert.equal(sim.publishes(k), 1);
});

test('reference case 3: the same post twice gets the same answer', async () => {
  const c = client(sim);
  const k = key();
  const first = await c.publish(post(k));
  const second = await c.publish(post(k));
  assert.deepEqual([first.id, first.status], [second.id, second.status]);
  assert.deepEqual([first.replayed, second.replayed], [false, true]);
  assert.equal(sim.publishes(k), 1);
});

const BAD = [
  [{ businessKey: '' }, 'businessKey'],
  [{ businessKey: 7 }, 'businessKey'],
  [{ platform: undefined }, 'platform'],
  [{ accountId: '' }, 'accountId'],
  [{ content: '' }, 'content'],
  [{ content: 12 }, 'content'],
  [{ content: [] }, 'content'],
  [{ content: [{ text: 'a' }, { text: '' }] }, 'content[1].text'],
  [{ content: [{ text: 'a', media: [{ id: '' }] }] }, 'content[0].media[0].id'],
  [{ status: 'now' }, 'status'],
  [{ status: 'scheduled' }, 'scheduledAt'],
  [{ status: 'scheduled', scheduledAt: 'next tuesday' }, 'scheduledAt'],
  [{ status: 'scheduled', scheduledAt: new Date('nope') }, 'scheduledAt'],
  [{ scheduledAt: 5 }, 'scheduledAt'],
  [{ postType: '' }, 'postType'],
];

test('bad inputs are rejected with InvalidPostError naming the field, and make no request', async () => {
  const c = client(sim);
  for (const [change, field] of BAD) {
    const before = sim.stats().requests;
    await assert.rejects(c.publish({ ...post(key()), ...change }), (e) => {
      assert.ok(e instanceof InvalidPostError && e instanceof PostatoError && e instanceof Error, String(e));
      assert.equal(e.name, 'InvalidPostError');
      assert.equal(e.field, field, e.message);
      assert.ok(e.message.includes(field));
      return true;
    });
    assert.equal(sim.stats().requests, before);
  }
});

test('dates are sent in UTC with milliseconds', async () => {
  const published = await client(sim).publish({
    ...post(key()),
    status: 'scheduled',
    scheduledAt: new Date(Date.UTC(2026, 11, 1, 9)),
  });
  assert.equal(published.status, 'scheduled');
});

test('invalid client options are InvalidSettingErrors naming the option, never InvalidPostErrors', () => {
  assert.throws(
    () => new postato.Client({ apiKey: 'k', workspaceId: 'w', baseUrl: 'http://example.com' }),
    (e) => e instanceof InvalidSettingError && e.field === 'baseUrl',
  );
  assert.throws(
    () => new postato.Client({ apiKey: 'k', workspaceId: 'w', maxAttempts: 0 }),
    (e) => e instanceof InvalidSettingError && e.field === 'maxAttempts',
  );
  assert.throws(
    () => new postato.Client({ apiKey: 'k', workspaceId: 'w', timeoutMs: -5 }),
    (e) => e instanceof InvalidSettingError && e.field === 'timeoutMs',
  );
  assert.throws(
    () => new postato.Client({ workspaceId: 'w' }),
    (e) => e instanceof InvalidSettingError && !(e instanceof InvalidPostError) && e.field === 'apiKey',
  );
});

test('200 concurrent publishes', async () => {
  const c = client(sim);
  const keys = Array.from({ length: 200 }, () => key('concurrent'));
  const posts = await Promise.all(keys.map((k) => c.publish(post(k))));
  assert.equal(new Set(posts.map((p) => p.id)).size, 200);
  assert.deepEqual(sim.stats().duplicateKeys, []);
});

test('an aborted signal rejects with AbortError and nothing is retried after it', async () => {
  const c = client(sim);
  const k = key('abort');
  // The first request hangs 500 ms, then the server closes the connection. The helper client
  // fast-forwards its backoff, so a retry that survived the abort would arrive as soon as the
  // hang ends and publish (`ok`); the checks run 2 s after the abort, well past that moment.
  sim.script(k, [{ action: 'hang', ms: 500 }, { action: 'ok' }]);
  const before = sim.stats().requests;
  const controller = new AbortController();
  const publishing = c.publish(post(k), { signal: controller.signal });
  await until(() => sim.stats().requests > before); // the first request is hanging at the server
  controller.abort();
  await assert.rejects(publishing, (e) => e.name === 'AbortError');
  await sleep(2000);
  assert.equal(sim.stats().requests, before + 1, 'exactly one request: nothing was retried after the abort');
  assert.equal(sim.publishes(k), 0);
  const already = AbortSignal.abort();
  await assert.rejects(c.publish(post(key()), { signal: already }), (e) => e.name === 'AbortError');
  assert.equal(sim.stats().requests, before + 1, 'an already-aborted signal sends nothing');
});

test('the Publisher with SQLite: a second client on the same file skips what was published, and edits are refused', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postato-'));
  const file = path.join(dir, 'shared.db');
  const keys = [key('shared'), key('shared')];
  const first = new Publisher(client(sim), new SqliteStore(file));
  const ids = [];
  for (const k of keys) ids.push((await first.publish(post(k))).id);
  const before = sim.stats().requests;
  const second = new Publisher(client(sim), new SqliteStore(file));
  for (const [i, k] of keys.entries()) {
    const again = await second.publish(post(k));
    assert.deepEqual([again.id, again.fromStore, again.attempts], [ids[i], true, 0]);
  }
  assert.equal(sim.stats().requests, before);
  await assert.rejects(
    second.publish(post(keys[0], 'edited')),
    (e) => e instanceof postato.BusinessKeyReusedError && e.kind === 'business_key_reused',
  );
});

test('errors carry their class and fields', async () => {
  const c = client(sim);
  const cases = [
    [
      [{ action: 'respond', status: 400, body: { error: { code: 'bad' } } }],
      postato.PermanentPostError,
      (e) => e.status === 400 && e.body.error.code === 'bad' && e.attempts === 1,
    ],
    [
      Array(5).fill({ action: 'respond', status: 503 }),
      postato.TransientPostError,
      (e) => e.status === 503 && e.attempts === 5,
    ],
    [
      [{ action: 'respond', status: 429, headers: { 'Retry-After': '7200' } }],
      postato.RateLimitedError,
      (e) => e.retryAfterMs === 7_200_000,
    ],
    [[{ action: 'respond', status: 200, bodyText: '<html>' }], postato.InvalidResponseError, (e) => e.status === 200],
  ];
  for (const [script, cls, check] of cases) {
    const k = key('err');
    sim.script(k, script);
    // A fresh client per case: the 429's two-hour hold would end every later publish on one.
    await assert.rejects(client(sim).publish(post(k)), (e) => {
      assert.ok(e instanceof cls, `${e.name}: ${e.message}`);
      assert.equal(e.name, cls.name);
      assert.ok(check(e), util.inspect(e));
      return true;
    });
  }
  const k = key('conflict');
  await c.publish(post(k));
  await assert.rejects(c.publish(post(k, 'other')), (e) => e instanceof postato.IdempotencyConflictError);
  const late = new postato.Client({ apiKey: sim.apiKey, workspaceId: 'w', baseUrl: sim.baseUrl, deadlineMs: 300 });
  const hang = key('hang');
  sim.script(hang, Array(5).fill({ action: 'hang', ms: 3000 }));
  await assert.rejects(late.publish(post(hang)), (e) => e instanceof postato.DeadlineExceededError);
});

test('OutcomeUnknownError is a PostatoError, and a forced publish of a fresh key publishes it once', async () => {
  const { OutcomeUnknownError } = postato;
  const error = new OutcomeUnknownError('outcome unknown', {});
  assert.ok(error instanceof PostatoError);
  assert.equal(error.kind, 'outcome_unknown');
  const publisher = new Publisher(client(sim), new MemoryStore());
  const k = key('forced');
  const published = await publisher.publish(post(k), { force: true });
  assert.equal(published.fromStore, false);
  assert.equal(sim.publishes(k), 1);
});

test('opening a SQLite store that another process has locked does not block the event loop', async () => {
  const { spawn } = require('node:child_process');
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'postato-lock-')), 'locked.db');
  // Opening switches the file to WAL, which waits while another process holds the lock.
  const holder = spawn('python3', [
    '-c',
    "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None); c.execute('CREATE TABLE intents (business_key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, first_sent_at_ms INTEGER NOT NULL)'); c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(1.0); c.execute('ROLLBACK')",
    file,
  ]);
  const exited = new Promise((resolve) => holder.once('exit', resolve));
  await new Promise((resolve) => holder.stdout.once('data', resolve));
  const started = Date.now();
  const store = new SqliteStore(file);
  const constructing = Date.now() - started;
  assert.ok(constructing < 300, `the constructor blocked the event loop for ${constructing} ms`);
  assert.equal((await store.counts()).published, 0, 'the store opens once the lock is released');
  assert.ok(Date.now() - started >= 500, 'the store waited for the lock');
  await exited;
});

test('the key retention is a Publisher option checked up front', () => {
  assert.throws(
    () => new Publisher(client(sim), new MemoryStore(), { keyRetentionMs: -1 }),
    (e) => e instanceof InvalidSettingError && e.field === 'keyRetentionMs',
  );
  assert.ok(new Publisher(client(sim), new MemoryStore(), { keyRetentionMs: 3_600_000 }));
});

test('withOptions gives every publish of the copy its options, checked at once, over the same client', async () => {
  const c = client(sim);
  const once = c.withOptions({ maxAttempts: 1 });
  assert.equal(once.workspaceId, c.workspaceId);
  const failing = key('with-options');
  sim.script(failing, [{ action: 'respond', status: 503 }, { action: 'ok' }]);
  await assert.rejects(once.publish(post(failing)), (e) => e instanceof postato.PostatoError && e.attempts === 1);
  // A publish's own option wins over the copy's; the original client keeps its own.
  const again = key('with-options');
  sim.script(again, [{ action: 'respond', status: 503 }, { action: 'ok' }]);
  assert.equal((await once.publish(post(again), { maxAttempts: 3 })).attempts, 2);
  const plain = key('with-options');
  sim.script(plain, [{ action: 'respond', status: 503 }, { action: 'ok' }]);
  assert.equal((await c.publish(post(plain))).attempts, 2);
  // Checked when given, by the setting's name.
  assert.throws(
    () => c.withOptions({ deadlineMs: 0 }),
    (e) => e instanceof postato.InvalidSettingError && e.field === 'deadlineMs',
  );
  assert.throws(
    () => new Publisher(c.withOptions({ timeoutMs: 1_000 })),
    (e) => e instanceof postato.InvalidSettingError && e.field === 'client' && e.message.includes('withOptions'),
  );
  assert.throws(
    () => c.withOptions({ backoffBaseMs: 5 }),
    (e) => e instanceof postato.InvalidSettingError && e.field === 'backoffBaseMs',
  );
  assert.throws(
    () => c.withOptions({ timeoutMs: 0.5 }),
    (e) => e instanceof postato.InvalidSettingError && e.field === 'timeoutMs',
  );
});

test("the kit's per-account limits are kept per account, in their units", async () => {
  // One request per account per hour, then one per account per 1,000 s: an account's second
  // post is refused with the wait its limit gives (ms), and another account's still publishes.
  for (const [limits, least] of [
    [{ accountQuota: { limit: 1, windowMs: 3_600_000 } }, 3_000_000],
    [{ accountRateLimit: { ratePerSecond: 0.001, burst: 1 } }, 900_000],
  ]) {
    const limited = await Simulator.start(limits);
    try {
      const c = new postato.Client({ apiKey: limited.apiKey, workspaceId: 'ws_node', baseUrl: limited.baseUrl });
      await c.publish({ ...post(key('kit')), accountId: 'acc_1' });
      const error = await c.publish({ ...post(key('kit')), accountId: 'acc_1' }).then(
        () => assert.fail('refused'),
        (e) => e,
      );
      assert.ok(error instanceof postato.RateLimitedError, String(error));
      assert.ok(error.retryAfterMs > least, `${JSON.stringify(limits)}: ${error.retryAfterMs}`);
      await c.publish({ ...post(key('kit')), accountId: 'acc_2' });
      assert.equal(limited.stats().publishedKeys, 2);
    } finally {
      await limited.stop();
    }
  }
});

test("a spent account's post is deferred (DeferredError with retryAt), then published once due", async () => {
  const spent = await Simulator.start({ spentAccounts: { 'x/acc_spent': 4 } });
  try {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postato-'));
    const held = new postato.Client({
      apiKey: spent.apiKey,
      workspaceId: 'ws_node',
      baseUrl: spent.baseUrl,
      maxRetryAfterMs: 500,
    });
    const publisher = new Publisher(held, new SqliteStore(path.join(dir, 'deferred.db')));
    const k = key('deferred');
    const error = await publisher.publish({ ...post(k), accountId: 'acc_spent' }).then(
      () => assert.fail('deferred'),
      (e) => e,
    );
    assert.ok(error instanceof postato.DeferredError, String(error));
    assert.equal(error.kind, 'deferred');
    assert.ok(error.retryAt instanceof Date && error.retryAfterMs > 500 && error.retryAfterMs <= 4000);
    const counts = await publisher.store.counts();
    assert.deepEqual([counts.deferred, counts.deadLetters, counts.nextDueMs], [1, 0, error.retryAt.getTime()]);
    assert.equal((await publisher.publishDue()).deferred, 1, 'not due yet: nothing sent');
    assert.equal(spent.stats().requests, 1);
    await sleep(Math.max(0, error.retryAt.getTime() - Date.now()) + 50);
    const report = await publisher.publishDue();
    assert.deepEqual(report, { published: 1, failed: 0, deferred: 0, nextDue: null });
    assert.equal(spent.publishes(k), 1);
    assert.equal((await publisher.publish({ ...post(k), accountId: 'acc_spent' })).fromStore, true);
  } finally {
    spent.stop();
  }
});

test('a SQLite store another process publishes through is refused, naming it', async () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'postato-')), 'in-use.db');
  const publisher = new Publisher(client(sim), new SqliteStore(file));
  await publisher.publish(post(key()));
  const before = (await sim.stats()).requests;
  const child = `
    const { Client, Publisher, SqliteStore } = require(${JSON.stringify(path.join(__dirname, '..'))});
    const [file, apiKey, baseUrl] = process.argv.slice(1);
    const publisher = new Publisher(new Client({ apiKey, workspaceId: 'ws_node', baseUrl }), new SqliteStore(file));
    publisher.publish({ businessKey: 'second', platform: 'x', accountId: 'a', content: 'c' })
      .then(() => console.log('published'), (e) => console.log(e.kind, e.message));`;
  const done = require('node:child_process').spawnSync(process.execPath, ['-e', child, file, sim.apiKey, sim.baseUrl], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.ok(done.stdout.includes(`is in use by pid ${process.pid}`), `${done.stdout}${done.stderr}`);
  assert.equal((await sim.stats()).requests, before, 'the second process sent nothing');
});
