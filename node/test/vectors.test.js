'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { idempotencyKey, InvalidPostError } = require('..');
const { REPO } = require('./helpers');

test('every shared vector matches the reference', () => {
  const { cases } = JSON.parse(fs.readFileSync(path.join(REPO, 'tests/vectors/idempotency-keys.json'), 'utf8'));
  assert.ok(cases.length >= 10);
  for (const c of cases) assert.equal(idempotencyKey(c.businessKey), c.idempotencyKey, c.businessKey);
});

test('a non-string business key is an InvalidPostError', () => {
  assert.throws(
    () => idempotencyKey(42),
    (e) => e instanceof InvalidPostError && e.field === 'businessKey',
  );
});

test('the defaults are the Rust client’s, as the shared vector pins them', () => {
  const vector = JSON.parse(fs.readFileSync(path.join(REPO, 'tests/vectors/client-defaults.json'), 'utf8'));
  const { DEFAULTS } = require('..');
  assert.deepEqual(DEFAULTS, {
    baseUrl: vector.baseUrl,
    maxAttempts: vector.maxAttempts,
    timeoutMs: vector.timeout,
    connectTimeoutMs: vector.connectTimeout,
    backoffBaseMs: vector.backoffBase,
    backoffCapMs: vector.backoffCap,
    deadlineMs: vector.deadline,
    maxRateLimitWaits: vector.maxRateLimitWaits,
    maxRetryAfterMs: vector.maxRetryAfter,
    concurrency: vector.concurrency,
  });
  assert.ok(Object.isFrozen(DEFAULTS));
});

test('the test kit is its own package with its own addon, and postato/testing re-exports it', () => {
  const kit = require('postato-testing');
  assert.equal(require('../testing').Simulator, kit.Simulator);
  assert.equal(require('../native.js').startSimulator, undefined);
  assert.equal(typeof require('../testing/native.js').startSimulator, 'function');
});
