// Both `import` and `require` work, and give the same objects.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import test from 'node:test';
import postato, { Client, idempotencyKey, PostatoError } from 'postato';
import { Simulator } from 'postato/testing';

const require = createRequire(import.meta.url);

test('ESM and CommonJS entry points agree', async () => {
  assert.equal(Client, require('postato').Client);
  assert.equal(PostatoError, postato.PostatoError);
  assert.equal(idempotencyKey('draft-123'), 'f62695618dbb558b0d9768a8003ec862');
  const sim = await Simulator.start();
  const client = new Client({ apiKey: sim.apiKey, workspaceId: 'w', baseUrl: sim.baseUrl });
  const published = await client.publish({ businessKey: 'esm-1', platform: 'x', accountId: 'a', content: 'hi' });
  assert.equal(published.attempts, 1);
  await sim.stop();
});
