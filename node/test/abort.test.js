'use strict';
// Issue #14: an abort on the line right after publish() must not be lost. The abort has to
// reach the publish even though no Rust task has started yet, so the publish rejects with an
// AbortError and nothing is retried after it.
const test = require('node:test');
const assert = require('node:assert/strict');
const { Publisher, MemoryStore } = require('..');
const { Simulator, key, client, post } = require('./helpers');

let sim;
test.before(async () => {
  sim = await Simulator.start();
});
test.after(() => sim.stop());

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The first request hangs HANG_MS, then the server closes the connection. The helper client
// fast-forwards its backoff, so a publish that survived the abort sends its retry as soon as
// the hang ends, and that retry publishes (`ok`). SETTLE_MS waits well past that moment.
const HANG_MS = 300;
const SETTLE_MS = 2000;
// The abort races the runtime's first poll of the publish; several publishes per run make a
// lost abort show up every time rather than now and then.
const PUBLISHES = 8;

const makers = {
  Client: () => client(sim),
  Publisher: () => new Publisher(client(sim), new MemoryStore()),
};

for (const [name, make] of Object.entries(makers)) {
  test(`${name}: an abort on the line right after publish() rejects with AbortError and nothing is retried`, async () => {
    const publisher = make();
    const keys = Array.from({ length: PUBLISHES }, () => key('abort-now'));
    for (const k of keys) sim.script(k, [{ action: 'hang', ms: HANG_MS }, { action: 'ok' }]);
    const before = sim.stats().requests;
    const pending = keys.map((k) => {
      const controller = new AbortController();
      const publish = publisher.publish(post(k), { signal: controller.signal });
      controller.abort();
      return publish;
    });
    const results = await Promise.allSettled(pending);
    for (const [i, result] of results.entries()) {
      assert.equal(result.status, 'rejected', `publish ${i} went on after its abort`);
      assert.equal(result.reason.name, 'AbortError', String(result.reason));
    }
    await sleep(SETTLE_MS);
    // Each publish sent at most its first request (0 when the abort came before it).
    assert.ok(
      sim.stats().requests - before <= PUBLISHES,
      `${sim.stats().requests - before} requests for ${PUBLISHES} aborted publishes`,
    );
    for (const k of keys) assert.equal(sim.publishes(k), 0, `${k} was published after its abort`);
  });

  test(`${name}: an already-aborted signal rejects with AbortError and sends nothing`, async () => {
    const publisher = make();
    const k = key('abort-before');
    const before = sim.stats().requests;
    await assert.rejects(publisher.publish(post(k), { signal: AbortSignal.abort() }), (e) => e.name === 'AbortError');
    assert.equal(sim.stats().requests, before);
  });

  test(`${name}: an abort rejects with the signal's reason, as fetch does`, async () => {
    const publisher = make();
    const timedOut = key('abort-timeout');
    sim.script(timedOut, [{ action: 'hang', ms: HANG_MS }, { action: 'ok' }]);
    await assert.rejects(
      publisher.publish(post(timedOut), { signal: AbortSignal.timeout(50) }),
      (e) => e instanceof DOMException && e.name === 'TimeoutError',
    );
    const mine = new Error('the campaign was stopped');
    await assert.rejects(
      publisher.publish(post(key('abort-reason')), { signal: AbortSignal.abort(mine) }),
      (e) => e === mine,
    );
    await sleep(SETTLE_MS);
    assert.equal(sim.publishes(timedOut), 0, 'published after its abort');
  });
}
