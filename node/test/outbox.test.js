'use strict';
// outbox.enqueue: a post enqueued in the application's own pg transaction exists only if it
// commits; the same post again is a no-op; another post under its key rejects with
// BusinessKeyReusedError and aborts the transaction (needs POSTATO_TEST_POSTGRES_URL).
const test = require('node:test');
const assert = require('node:assert/strict');
const pg = require('pg');
const { outbox, PostgresStore, BusinessKeyReusedError, InvalidPostError, InvalidSettingError } = require('..');
const { key, post } = require('./helpers');

const URL = process.env.POSTATO_TEST_POSTGRES_URL;
if (!URL && process.env.CI)
  throw new Error('POSTATO_TEST_POSTGRES_URL is not set: CI must start PostgreSQL (scripts/postgres.sh)');
const skip = !URL && 'set POSTATO_TEST_POSTGRES_URL';

let pool;
test.before(async () => {
  if (!URL) return;
  // A PostgresStore creates postato's tables, the outbox among them, on first use.
  await new PostgresStore(URL).counts();
  pool = new pg.Pool({ connectionString: URL, max: 2 });
  await pool.query('CREATE TABLE IF NOT EXISTS app_orders (id TEXT PRIMARY KEY)');
});
test.after(() => pool?.end());

async function row(businessKey) {
  const { rows } = await pool.query('SELECT state, payload FROM postato_outbox WHERE business_key = $1', [businessKey]);
  return rows[0] ?? null;
}

test('an enqueue exists only if the transaction commits', { skip }, async () => {
  const [committed, rolledBack] = [key('node-outbox'), key('node-outbox-rb')];
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('INSERT INTO app_orders (id) VALUES ($1)', [committed]);
    assert.equal(await outbox.enqueue(client, post(committed)), 'enqueued');
    assert.equal(await row(committed), null, 'not visible before the commit');
    await client.query('COMMIT');
    await client.query('BEGIN');
    await outbox.enqueue(client, post(rolledBack));
    await client.query('ROLLBACK');
    assert.equal(await outbox.enqueue(client, post(committed)), 'already_enqueued');
  } finally {
    client.release();
  }
  assert.equal((await row(committed)).state, 'pending');
  assert.equal(JSON.parse((await row(committed)).payload).businessKey, committed);
  assert.equal(await row(rolledBack), null);
});

test('another post under an enqueued key is refused and aborts the transaction', { skip }, async () => {
  const k = key('node-outbox-reused');
  const client = await pool.connect();
  try {
    await outbox.enqueue(client, post(k), { notBefore: new Date(Date.now() + 3_600_000) });
    await client.query('BEGIN');
    await assert.rejects(outbox.enqueue(client, post(k, 'edited')), (error) => {
      assert.ok(error instanceof BusinessKeyReusedError, String(error));
      assert.equal(error.kind, 'business_key_reused');
      return true;
    });
    await assert.rejects(client.query('INSERT INTO app_orders (id) VALUES ($1)', [k]), /aborted/);
    await client.query('ROLLBACK');
  } finally {
    client.release();
  }
});

test('an invalid post or client is refused before the database sees it', { skip }, async () => {
  const k = key('node-outbox-invalid');
  await assert.rejects(outbox.enqueue(pool, { ...post(k), content: ' ' }), InvalidPostError);
  await assert.rejects(outbox.enqueue(pool, post(k), { notBefore: 'tomorrow' }), /notBefore/);
  await assert.rejects(outbox.enqueue({}, post(k)), InvalidSettingError);
  assert.equal(await row(k), null);
});
