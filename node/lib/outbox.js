'use strict';
/**
 * The transactional outbox: enqueue a post in your own database transaction, and `postato
 * worker` publishes it once that transaction commits (never if it rolls back).
 *
 * `enqueue(client, post, { notBefore })` runs one statement on a `pg` client (a `Client`, or a
 * `PoolClient` from `pool.connect()`, inside the transaction you began with `BEGIN`; outside a
 * transaction, or through a `Pool`, the enqueue commits at once). The post
 * is validated and keyed in Rust, as a publish validates and keys it. The same post enqueued
 * again resolves `'already_enqueued'`; another post under an enqueued business key rejects with
 * `BusinessKeyReusedError`, and PostgreSQL aborts your transaction.
 */
const native = require('../native.js');
const errors = require('./errors');

const { invalid, invalidSetting } = errors;
const { postJson, refuseUnknown } = require('./wire');

function notBeforeMs(notBefore) {
  if (notBefore === undefined || notBefore === null) return undefined;
  if (!(notBefore instanceof Date) || Number.isNaN(notBefore.getTime())) {
    throw invalid('notBefore', `must be a Date, got ${typeof notBefore}`);
  }
  return notBefore.getTime();
}

/** Enqueues `post` through `client`, in the transaction it is in; resolves `'enqueued'` or `'already_enqueued'`. */
async function enqueue(client, post, options = {}) {
  if (client === null || typeof client !== 'object' || typeof client.query !== 'function') {
    throw invalidSetting('client', 'must be a pg Client or PoolClient (its query method runs the enqueue)');
  }
  refuseUnknown(options, ['notBefore'], 'an option of outbox.enqueue');
  let statement;
  try {
    statement = JSON.parse(native.outboxStatement(postJson(post), notBeforeMs(options.notBefore)));
  } catch (error) {
    throw error instanceof errors.PostatoError ? error : errors.fromNative(error);
  }
  const [businessKey, fingerprint] = statement.values;
  try {
    const result = await client.query(statement.sql, statement.values);
    return Object.values(result.rows[0])[0];
  } catch (error) {
    // Read by its SQLSTATE (pg's `code`), never its message, which may be translated.
    const code = typeof error?.code === 'string' ? error.code : undefined;
    const detail = typeof error?.detail === 'string' ? error.detail : undefined;
    const info = native.outboxError(code, detail, businessKey, fingerprint);
    if (info !== null) throw errors.fromInfo(JSON.parse(info));
    throw error;
  }
}

module.exports = { enqueue };
