'use strict';
// Issue #17 through the Node API: each bad input is refused naming the option or field (and
// nothing is sent), or does what it says; random posts are refused by name or reach the wire
// exactly as given.
const test = require('node:test');
const assert = require('node:assert/strict');
const fc = require('fast-check');
const {
  Client,
  Publisher,
  PostgresStore,
  SqliteStore,
  InvalidPostError,
  InvalidSettingError,
  TransientPostError,
  idempotencyKey,
} = require('..');
const { Simulator, key, client, post } = require('./helpers');

let sim;
test.before(async () => {
  sim = await Simulator.start();
});
test.after(() => sim.stop());

/** The post as the simulator stored it (the request body as it arrived), or null. */
async function received(businessKey) {
  const answer = await fetch(`${sim.baseUrl}/_sim/posts/${idempotencyKey(businessKey)}`);
  if (answer.status === 404) return null;
  return (await answer.json()).body;
}

/**
 * `call` throws (or rejects with) an InvalidPostError naming `field` (an InvalidSettingError for
 * a setting, never the other), and sends nothing.
 */
async function refused(call, field, ...words) {
  const before = (await sim.stats()).requests;
  await assert.rejects(
    async () => call(),
    (e) => {
      const expected = e.message.startsWith('invalid setting') ? InvalidSettingError : InvalidPostError;
      assert.ok(e instanceof expected && e.constructor === expected, `${e.name}: ${e}`);
      assert.equal(e.field, field, e.message);
      for (const word of words) assert.ok(e.message.includes(word), `${e.message} lacks ${word}`);
      assert.ok(e.message.length < 300, e.message);
      return true;
    },
  );
  assert.equal((await sim.stats()).requests, before, 'nothing may reach the server');
}

test('case 1: a schedule time without a status schedules; publish with one is refused', async () => {
  const c = client(sim);
  const businessKey = key();
  const published = await c.publish({ ...post(businessKey), scheduledAt: new Date('2027-01-01T00:00:00Z') });
  assert.equal(published.status, 'scheduled');
  const body = await received(businessKey);
  assert.deepEqual([body.status, body.scheduledAt], ['scheduled', '2027-01-01T00:00:00.000Z']);
  await refused(
    () => c.publish({ ...post(key()), status: 'publish', scheduledAt: '2027-01-01T00:00:00Z' }),
    'scheduledAt',
    'status "publish"',
  );
});

test('case 3: an empty base URL is refused, never the production API', async () => {
  await refused(() => client(sim, { baseUrl: '' }), 'baseUrl', 'is empty');
});

test('a CA bundle that cannot be read, or is not a string, is refused by name', async () => {
  await refused(() => client(sim, { caBundle: '/nonexistent/company-ca.pem' }), 'caBundle', 'cannot be read');
  await refused(() => client(sim, { caBundle: 5 }), 'caBundle', 'must be a string');
});

test('cases 4 and 9: bounds for every number, never wrapped to 32 bits', async () => {
  for (const [option, value] of [
    ['backoffBaseMs', 2 ** 53],
    ['backoffCapMs', Number.POSITIVE_INFINITY],
    ['timeoutMs', 0],
    ['deadlineMs', -1],
    ['maxRetryAfterMs', Number.NaN],
    ['maxAttempts', 2 ** 32 + 3],
    ['maxAttempts', 2.5],
    ['maxAttempts', Number.NaN],
    ['maxAttempts', '3'],
    ['maxRateLimitWaits', -1],
  ]) {
    await refused(() => client(sim, { [option]: value }), option, 'invalid setting: ');
  }
  await refused(() => client(sim, { maxAttempts: 2 ** 32 + 3 }), 'maxAttempts', '4294967299', 'from 1 to 100');
  await refused(() => client(sim, { maxAttempts: Number.NaN }), 'maxAttempts', 'not a number');
  // A BigInt is a number too, checked like one.
  assert.equal(client(sim, { maxAttempts: 3n }).workspaceId, 'ws_node');
  await refused(() => client(sim, { maxAttempts: 2n ** 40n }), 'maxAttempts', 'from 1 to 100');
  await refused(() => new PostgresStore('postgres://u@h/db', { poolSize: 2 ** 32 + 1 }), 'poolSize');
  await refused(() => new Publisher(client(sim), undefined, { keyRetentionMs: -1 }), 'keyRetentionMs');
});

test('case 8: an unreachable PostgreSQL store fails loudly and nothing is sent', async () => {
  const publisher = new Publisher(client(sim), new PostgresStore('postgres://postato:secret@127.0.0.1:1/postato'));
  const before = (await sim.stats()).requests;
  const started = Date.now();
  await assert.rejects(
    () => publisher.publish(post(key())),
    (e) => {
      assert.ok(e instanceof TransientPostError, `${e}`);
      assert.ok(e.message.includes('127.0.0.1:1/postato'), e.message);
      assert.ok(!e.message.includes('secret'), e.message);
      return true;
    },
  );
  assert.ok(Date.now() - started < 15000, 'a store never reached fails at once');
  assert.equal((await sim.stats()).requests, before);
});

test('case 10: unknown post fields and options are refused by name', async () => {
  const c = client(sim);
  await refused(() => c.publish({ ...post(key()), scheduled_at: '2027-01-01T00:00:00Z' }), 'scheduled_at');
  await refused(() => c.publish({ ...post(key()), postype: 'story' }), 'postype', 'not a field of a post');
  await refused(() => client(sim, { maxAttempt: 3 }), 'maxAttempt', 'not a Client option');
  await refused(() => c.publish(post(key()), { deadline: 5 }), 'deadline', 'an option of Client.publish');
  await refused(() => new SqliteStore(''), 'path', 'is empty');
  await refused(() => new SqliteStore(':memory:'), 'path', 'lost when the process ends');
});

test('case 11: a lone surrogate is refused, never hashed as U+FFFD', async () => {
  await refused(() => idempotencyKey('\ud800'), 'businessKey', 'lone surrogate');
  assert.equal(idempotencyKey('\ufffd').length, 32, 'U+FFFD itself is text, with a key of its own');
  await refused(
    () => client(sim).publish({ ...post(key()), content: [{ text: 'a', media: [{ id: 'm', alt: 'x' }] }] }),
    'alt',
    'not a field of a media reference',
  );
  await refused(() => client(sim).publish(post('\udc00')), 'businessKey', 'lone surrogate');
  await refused(() => client(sim).publish(post(key(), 'a\ud800b')), 'content', 'lone surrogate');
  await refused(() => idempotencyKey(''), 'businessKey', 'is empty');
});

test('a random post is refused by name or reaches the wire exactly as given', async () => {
  const c = client(sim);
  const text = fc.oneof(
    fc.constant(''),
    fc.constant('  '),
    fc.string({ minLength: 1, maxLength: 12, unit: 'grapheme' }),
    fc.string({ minLength: 1, maxLength: 4, unit: 'binary' }),
  );
  const content = fc.oneof(text, fc.array(fc.record({ text }), { maxLength: 3 }));
  const status = fc.constantFrom(undefined, 'publish', 'scheduled', 'draft', 'now');
  const at = fc.constantFrom(undefined, '2027-01-01T00:00:00Z', new Date('2027-01-01T09:00:00Z'));
  await fc.assert(
    fc.asyncProperty(text, text, content, status, at, async (businessKey, platform, body, given, scheduledAt) => {
      const unique = businessKey === '' || businessKey === '  ' ? businessKey : `${key()}${businessKey}`;
      const input = { businessKey: unique, platform, accountId: 'acc_1', content: body };
      if (given !== undefined) input.status = given;
      if (scheduledAt !== undefined) input.scheduledAt = scheduledAt;
      const before = (await sim.stats()).requests;
      let published;
      try {
        published = await c.publish(input);
      } catch (e) {
        assert.ok(e instanceof InvalidPostError, `${e}`);
        assert.ok(e.field, e.message);
        assert.equal((await sim.stats()).requests, before);
        return;
      }
      assert.ok(!(given === 'publish' && scheduledAt !== undefined), 'publish with a schedule time went out');
      const wire = await received(unique);
      assert.equal(wire.status, given ?? (scheduledAt ? 'scheduled' : 'publish'));
      assert.equal(published.idempotencyKey, idempotencyKey(unique));
      assert.equal(wire.platform, platform);
      assert.deepEqual(wire.content, JSON.parse(JSON.stringify(body)));
      if (scheduledAt === undefined) assert.equal(wire.scheduledAt, undefined);
      else assert.equal(Date.parse(wire.scheduledAt), new Date(scheduledAt).getTime());
    }),
    { numRuns: 150 },
  );
});

test('Client options that are not an object, and a client that is not a Client, are settings errors', async () => {
  await refused(() => new Client(null), 'options', 'invalid setting');
  await refused(() => new Publisher({}), 'client', 'invalid setting');
});

test('a post over a mebibyte and an invisible business key are refused; a rejected async hook is a warning', async () => {
  const c = client(sim);
  await refused(() => c.publish(post(key(), 'x'.repeat(10 * 1024 * 1024))), 'post', '1 MiB');
  await refused(() => c.publish(post('\u200b')), 'businessKey', 'invisible');
  const warnings = [];
  const onWarning = (w) => warnings.push(String(w));
  process.on('warning', onWarning);
  try {
    const hooked = new Client({
      apiKey: sim.apiKey,
      workspaceId: 'ws_node',
      baseUrl: sim.baseUrl,
      fastForwardWaits: true,
      onRetry: async () => {
        throw new Error('hook failed');
      },
    });
    const k = key();
    sim.script(k, [{ action: 'respond', status: 503 }, { action: 'ok' }]);
    const published = await hooked.publish(post(k));
    assert.equal(published.attempts, 2);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(
      warnings.some((w) => w.includes('hook failed')),
      warnings.join('\n'),
    );
  } finally {
    process.off('warning', onWarning);
  }
});

test('a misspelt field behind a getter, a non-enumerable property or a prototype is refused', async () => {
  const c = client(sim);
  class Draft {
    constructor(k) {
      Object.assign(this, post(k));
    }
    get scheduled_at() {
      return '2030-01-01T00:00:00Z';
    }
    describe() {
      return 'methods are not fields';
    }
  }
  await refused(() => c.publish(new Draft(key())), 'scheduled_at', 'is not a field of a post');
  const hidden = post(key());
  Object.defineProperty(hidden, 'scheduled_at', { value: '2030-01-01T00:00:00Z', enumerable: false });
  await refused(() => c.publish(hidden), 'scheduled_at');
  const inherited = Object.assign(Object.create({ scheduled_at: '2030-01-01T00:00:00Z' }), post(key()));
  await refused(() => c.publish(inherited), 'scheduled_at');
  class Plain {
    constructor(k) {
      Object.assign(this, post(k));
    }
    describe() {
      return 'a method';
    }
  }
  assert.equal((await c.publish(new Plain(key()))).status, 'published');
});
