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

test('the test kit is its own package with its own addon, and postato/testing re-exports it', () => {
  const kit = require('postato-testing');
  assert.equal(require('../testing.js').Simulator, kit.Simulator);
  assert.equal(require('../native.js').startSimulator, undefined);
  assert.equal(typeof require('../postato-testing/native.js').startSimulator, 'function');
});
