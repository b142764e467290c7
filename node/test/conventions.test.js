'use strict';
// Issue #20: a retry hook and logger that see every retry, POSTATO_LOG, error metadata
// (headers, request id), per-call options checked by the client's rules, settings from the
// environment.
const test = require('node:test');
const assert = require('node:assert/strict');

const path = require('node:path');
const postato = require('..');
const { Simulator, key, client, post } = require('./helpers');

let sim;
test.before(async () => {
  sim = await Simulator.start();
});
test.after(() => sim.stop());

const failing = (k, n, status = 503) => sim.script(k, Array(n).fill({ action: 'respond', status }));
// Hooks run on Node's thread after the event that fed them: let the queue drain.
const drained = () => new Promise((resolve) => setImmediate(resolve));

test('a published post carries its requestId', async () => {
  const published = await client(sim).publish(post(key('node-request-id')));
  assert.ok(typeof published.requestId === 'string' && published.requestId.startsWith('req_'), published.requestId);
});

test('onRetry sees every retry with its fields, and a logger gets retries and failures', async () => {
  const seen = [];
  const lines = [];
  const logger = { info: (m, f) => lines.push(['info', m, f]), warn: (m, f) => lines.push(['warn', m, f]) };
  const c = client(sim, { onRetry: (e) => seen.push(e), logger });
  const k = key('hook');
  sim.script(k, [{ action: 'respond', status: 503 }, { action: 'reset' }, { action: 'ok' }]);
  const published = await c.publish(post(k));
  await drained();
  assert.equal(published.attempts, 3);
  assert.deepEqual(
    seen.map((e) => [e.businessKey, e.attempt, e.status]),
    [
      [k, 2, 503],
      [k, 3, null],
    ],
  );
  assert.match(seen[0].reason, /503/);
  assert.ok(seen[0].delayMs > 0);
  assert.equal(lines.filter(([level]) => level === 'info').length, 2);
  const failed = key('hook-fail');
  failing(failed, 1, 400);
  await assert.rejects(c.publish(post(failed)), postato.PermanentPostError);
  await drained();
  assert.ok(lines.some(([level, m]) => level === 'warn' && m.includes(failed) && m.includes('permanent')));
});

test('a logger is warned once of a post scheduled in the past, which publishes at once', async () => {
  const lines = [];
  const logger = { info: (m, f) => lines.push(['info', m, f]), warn: (m, f) => lines.push(['warn', m, f]) };
  const k = key('past-schedule');
  await client(sim, { logger }).publish({ ...post(k), scheduledAt: '2020-01-01T00:00:00Z' });
  await drained();
  const warned = lines.filter(([level, m]) => level === 'warn' && m.includes('is in the past'));
  assert.equal(warned.length, 1, JSON.stringify(lines));
  assert.equal(warned[0][2].businessKey, k);
});

test('a Publisher’s publish takes its own per-call options, checked before the store answers', async () => {
  const publisher = new postato.Publisher(client(sim, { maxAttempts: 5 }));
  const recorded = key('publisher-call-recorded');
  await publisher.publish(post(recorded));
  // Refused, not answered from the store.
  await assert.rejects(
    publisher.publish(post(recorded), { maxAttempts: 0 }),
    (e) => e instanceof postato.InvalidSettingError && e.field === 'maxAttempts',
  );
  const k = key('publisher-call');
  failing(k, 5);
  await assert.rejects(publisher.publish(post(k), { maxAttempts: 2 }), (e) => e.attempts === 2);
  await assert.rejects(publisher.publish(post(k), { deadline: 5 }), /an option of Publisher.publish/);
});

test('a hook that throws does not fail the publish', async () => {
  const c = client(sim, {
    onRetry: () => {
      throw new Error('hook bug');
    },
  });
  const k = key('hook-throws');
  failing(k, 1);
  const warnings = [];
  const onWarning = (w) => warnings.push(String(w));
  process.on('warning', onWarning);
  try {
    assert.equal((await c.publish(post(k))).attempts, 2);
    await drained();
    await drained();
  } finally {
    process.off('warning', onWarning);
  }
  assert.ok(
    warnings.some((w) => w.includes('hook bug')),
    warnings.join('\n'),
  );
});

test('onRetry sees a rate-limit wait with its 429', async () => {
  const seen = [];
  const k = key('hook-429');
  sim.script(k, [{ action: 'respond', status: 429, headers: { 'Retry-After': '2' } }, { action: 'ok' }]);
  assert.equal((await client(sim, { onRetry: (e) => seen.push(e) }).publish(post(k))).attempts, 2);
  await drained();
  assert.deepEqual(
    seen.map((e) => [e.attempt, e.status, e.delayMs]),
    [[2, 429, 2000]],
  );
});

test('onRetry and logger are checked; null is left out', () => {
  assert.throws(() => client(sim, { onRetry: 'log' }), /onRetry/);
  assert.throws(() => client(sim, { logger: 'console' }), /logger/);
  client(sim, { onRetry: null, logger: null });
  const native = require('../native.js');
  assert.equal(native.logLevel('hyper=warn,postato=debug'), 'debug');
  assert.equal(native.logLevel('info'), 'info');
});

test('POSTATO_LOG logs retries on stderr; a client with a hook lets the process exit', () => {
  const k = key('postato-log');
  failing(k, 1);
  const script = `
    const { Client } = require(${JSON.stringify(path.resolve(__dirname, '..'))});
    const c = new Client({ apiKey: ${JSON.stringify(sim.apiKey)}, workspaceId: 'ws_node',
      baseUrl: ${JSON.stringify(sim.baseUrl)}, fastForwardWaits: true, onRetry: () => {} });
    c.publish({ businessKey: ${JSON.stringify(k)}, platform: 'x', accountId: 'acc_1', content: 'hi' });`;
  const run = require('node:child_process').spawnSync(process.execPath, ['-e', script], {
    env: { ...process.env, POSTATO_LOG: 'info' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stderr, new RegExp(`INFO postato: retrying ${k}: attempt 2`));
});

test('errors carry the answer headers and request id', async () => {
  const k = key('meta');
  sim.script(k, [{ action: 'respond', status: 400, headers: { 'X-Trace': 't-1' } }]);
  const error = await client(sim)
    .publish(post(k))
    .catch((e) => e);
  assert.ok(error instanceof postato.PermanentPostError);
  assert.equal(error.headers['x-trace'], 't-1');
  assert.match(error.requestId, /^req_/);
  assert.equal(error.headers['x-request-id'], error.requestId);
  const invalid = await client(sim)
    .publish({ ...post(key('meta-invalid')), platform: '' })
    .catch((e) => e);
  assert.deepEqual([invalid.headers, invalid.requestId], [{}, null]);
});

test('per-call options change one publish, checked as the client settings', async () => {
  const c = client(sim, { maxAttempts: 5, backoffBaseMs: 100, backoffCapMs: 1000 });
  const fewer = key('call-attempts');
  failing(fewer, 5);
  const error = await c.publish(post(fewer), { maxAttempts: 2 }).catch((e) => e);
  assert.deepEqual([error.kind, error.attempts], ['transient', 2]);
  const usual = key('call-usual');
  failing(usual, 5);
  assert.equal((await c.publish(post(usual)).catch((e) => e)).attempts, 5);
  const urgent = key('call-deadline');
  failing(urgent, 5);
  const late = await c.publish(post(urgent), { deadlineMs: 50 }).catch((e) => e);
  assert.deepEqual([late.kind, late.attempts], ['deadline', 1]);
  const before = sim.stats().requests;
  for (const [options, name] of [
    [{ maxAttempts: 0 }, 'maxAttempts'],
    [{ maxAttempts: 2 ** 32 + 3 }, 'maxAttempts'],
    [{ maxAttempts: 2.5 }, 'maxAttempts'],
    [{ deadlineMs: 0 }, 'deadlineMs'],
    [{ deadlineMs: '5' }, 'deadlineMs'],
    [{ deadline: 5 }, 'deadline'],
    [{ timeoutMs: 0 }, 'timeoutMs'],
    [{ timeoutMs: 3_600_000 }, 'timeoutMs'],
    [{ timeout: 5 }, 'timeout'],
  ]) {
    const refused = await c.publish(post(key('call-bad')), options).catch((e) => e);
    assert.ok(refused instanceof postato.InvalidSettingError, `${JSON.stringify(options)}: ${refused}`);
    assert.match(refused.message, new RegExp(name));
  }
  assert.equal(sim.stats().requests, before);
  const keys = [key('call-many'), key('call-many')];
  for (const k of keys) failing(k, 5);
  const many = await c.publishMany(
    keys.map((k) => post(k)),
    { maxAttempts: 2 },
  );
  assert.deepEqual(
    many.map((r) => r.reason.attempts),
    [2, 2],
  );
});

test('a per-call timeoutMs ends each attempt of every kind of publish as a timeout', async () => {
  // Each attempt hangs for 60 s and then loses its connection: only the per-call timeout ends
  // it as a timeout (an ignored one would end it as a lost connection, a minute later).
  const c = client(sim, { maxAttempts: 1, timeoutMs: 120_000 });
  const hanging = (prefix) => {
    const k = key(prefix);
    sim.script(k, [{ action: 'hang', ms: 60_000 }]);
    return post(k);
  };
  const timedOut = (error) => {
    assert.ok(error instanceof postato.TransientPostError, String(error));
    assert.equal(error.attempts, 1);
    assert.match(error.message, /timeout|timed out/);
  };
  const rejections = [
    c.publish(hanging('call-timeout'), { timeoutMs: 1_000 }),
    c.withOptions({ timeoutMs: 1_000 }).publish(hanging('call-timeout-copy')),
    new postato.Publisher(c).publish(hanging('call-timeout-publisher'), { timeoutMs: 1_000 }),
  ].map((publish) => publish.catch((e) => e));
  for (const rejection of rejections) timedOut(await rejection);
  const [entry] = await c.publishMany([hanging('call-timeout-many')], { timeoutMs: 1_000 });
  timedOut(entry.reason);
});

test('settings come from the environment and options win', async () => {
  const saved = { ...process.env };
  try {
    process.env.POSTATO_API_KEY = sim.apiKey;
    process.env.POSTATO_WORKSPACE_ID = 'ws_env';
    process.env.POSTATO_BASE_URL = sim.baseUrl;
    const c = new postato.Client({ fastForwardWaits: true });
    assert.deepEqual([c.workspaceId, c.baseUrl], ['ws_env', sim.baseUrl]);
    assert.equal((await c.publish(post(key('env')))).attempts, 1);
    assert.equal(new postato.Client({ workspaceId: 'ws_arg' }).workspaceId, 'ws_arg');
    process.env.POSTATO_BASE_URL = '';
    assert.throws(() => new postato.Client(), /POSTATO_BASE_URL.*empty/);
    delete process.env.POSTATO_BASE_URL;
    delete process.env.POSTATO_API_KEY;
    assert.throws(
      () => new postato.Client(),
      (e) =>
        e instanceof postato.InvalidSettingError &&
        /POSTATO_API_KEY/.test(e.message) &&
        !e.message.includes(sim.apiKey),
    );
  } finally {
    for (const name of ['POSTATO_API_KEY', 'POSTATO_WORKSPACE_ID', 'POSTATO_BASE_URL']) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  }
});
