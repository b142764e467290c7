'use strict';
// publishMany: one entry per post in input order, shaped as Promise.allSettled's (a failure
// is the post's entry, never a rejection of the call), options checked before anything is
// sent, and an abort that stops the posts in flight.
const test = require('node:test');
const assert = require('node:assert/strict');
const { idempotencyKey, PermanentPostError, InvalidPostError, InvalidSettingError } = require('..');
const { Simulator, key, client, post } = require('./helpers');

let sim;
test.before(async () => {
  sim = await Simulator.start();
});
test.after(() => sim.stop());

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

test('every post gets its own entry, in input order', async () => {
  const keys = Array.from({ length: 10 }, () => key('many'));
  sim.script(keys[2], [{ action: 'respond', status: 400 }]);
  const posts = keys.map((k) => post(k));
  posts.splice(4, 0, { businessKey: 'x', platform: 'x', scheduled_at: 'soon' });
  const results = await client(sim).publishMany(posts, { concurrency: 3 });
  assert.equal(results.length, 11);
  results.forEach((result, i) => {
    if (i === 2) {
      assert.equal(result.status, 'rejected');
      assert.ok(result.reason instanceof PermanentPostError, String(result.reason));
    } else if (i === 4) {
      assert.equal(result.status, 'rejected');
      assert.ok(result.reason instanceof InvalidPostError);
      assert.match(result.reason.message, /scheduled_at/);
    } else {
      const k = keys[i < 4 ? i : i - 1];
      assert.equal(result.status, 'fulfilled', String(result.reason));
      assert.equal(result.value.idempotencyKey, idempotencyKey(k), `entry ${i} is not its post's`);
      assert.equal(sim.publishes(k), 1);
    }
  });
});

for (const concurrency of [0, 1025, 2.5, 2 ** 32 + 3, 'many']) {
  test(`concurrency ${String(concurrency)} is refused before anything is sent`, async () => {
    const before = sim.stats().requests;
    await assert.rejects(client(sim).publishMany([post(key('never'))], { concurrency }), (error) => {
      assert.ok(error instanceof InvalidSettingError, String(error));
      assert.match(error.message, /concurrency/);
      return true;
    });
    assert.equal(sim.stats().requests, before);
  });
}

test('an unknown option and a non-array are refused', async () => {
  await assert.rejects(client(sim).publishMany([], { concurency: 2 }), /concurency/);
  await assert.rejects(client(sim).publishMany(post(key('one'))), /posts: must be an array/);
});

test('an abort rejects with AbortError and sends no more posts', async () => {
  const keys = Array.from({ length: 8 }, () => key('many-abort'));
  for (const k of keys) sim.script(k, [{ action: 'latency', ms: 400 }]);
  const before = sim.stats().requests;
  const controller = new AbortController();
  const pending = client(sim).publishMany(
    keys.map((k) => post(k)),
    { concurrency: 2, signal: controller.signal },
  );
  await sleep(200);
  controller.abort();
  await assert.rejects(pending, { name: 'AbortError' });
  await sleep(1000);
  // Without the abort all 8 would be sent; with it, the two in flight at most.
  assert.ok(sim.stats().requests - before <= 2, `${sim.stats().requests - before} requests`);
});
