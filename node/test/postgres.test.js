'use strict';
// PostgresStore: many clients share one campaign's results (needs POSTATO_TEST_POSTGRES_URL).
const test = require('node:test');
const assert = require('node:assert/strict');
const util = require('node:util');
const { Publisher, PostgresStore, InvalidSettingError } = require('..');
const { Simulator, key, client, post } = require('./helpers');

const URL = process.env.POSTATO_TEST_POSTGRES_URL;
if (!URL && process.env.CI)
  throw new Error('POSTATO_TEST_POSTGRES_URL is not set: CI must start PostgreSQL (scripts/postgres.sh)');

test('two publishers share results through PostgreSQL', { skip: !URL && 'set POSTATO_TEST_POSTGRES_URL' }, async () => {
  const sim = await Simulator.start();
  try {
    const first = new Publisher(client(sim), new PostgresStore(URL));
    const second = new Publisher(client(sim), new PostgresStore(URL, { poolSize: 2 }));
    const k = key('pg');
    const published = await first.publish(post(k));
    const again = await second.publish(post(k));
    assert.deepEqual([again.id, again.fromStore], [published.id, true]);
    assert.equal(await second.store.publishedId(k), published.id);
    assert.equal(sim.publishes(k), 1);
  } finally {
    await sim.stop();
  }
});

test('the password is not shown, and bad URLs are refused', () => {
  const store = new PostgresStore('postgres://postato:hunter2@127.0.0.1:1/db');
  assert.ok(!util.inspect(store).includes('hunter2'));
  assert.throws(
    () => new PostgresStore('mysql://nope'),
    (e) => e instanceof InvalidSettingError && e.field === 'url',
  );
});
