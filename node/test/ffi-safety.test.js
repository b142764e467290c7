'use strict';
// A panic inside Rust arrives as a JS exception; the process lives on.
const test = require('node:test');
const assert = require('node:assert/strict');
const native = require('../native.js');
const { idempotencyKey } = require('..');

test('a sync panic is an exception', () => {
  process.env.POSTATO_TEST_PANIC = '1';
  try {
    assert.throws(() => native.testPanic(), /panic/);
  } finally {
    delete process.env.POSTATO_TEST_PANIC;
  }
  assert.equal(idempotencyKey('draft-123'), 'f62695618dbb558b0d9768a8003ec862');
});

test('an async panic is a rejection', async () => {
  process.env.POSTATO_TEST_PANIC = '1';
  try {
    await assert.rejects(native.testPanicAsync(), /panic/);
  } finally {
    delete process.env.POSTATO_TEST_PANIC;
  }
  assert.equal(idempotencyKey('a').length, 32);
});

test('panics are off unless switched on', () => {
  assert.throws(() => native.testPanic(), /test panics are off/);
});
