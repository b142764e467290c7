'use strict';
// The API key never appears in error messages, error inspection or util.inspect(client).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const util = require('node:util');
const { Client, Publisher, PostatoError, SqliteStore } = require('..');
const { Simulator, key, post } = require('./helpers');

const SECRET = 'sk_live_node_secret_value';

test('the API key appears in no error and no inspect output', async () => {
  const sim = await Simulator.start({ apiKeys: [SECRET] });
  try {
    const client = new Client({ apiKey: SECRET, workspaceId: 'w', baseUrl: sim.baseUrl, fastForwardWaits: true });
    const wrong = new Client({ apiKey: `${SECRET}_wrong`, workspaceId: 'w', baseUrl: sim.baseUrl });
    const texts = [
      util.inspect(client),
      util.inspect(client, { showHidden: true, depth: 5 }),
      JSON.stringify(client),
      util.inspect(wrong),
      util.inspect(new Publisher(client)),
    ];
    const k = key('leak');
    sim.script(k, [{ action: 'respond', status: 500 }, { action: 'reset' }, { action: 'respond', status: 400 }]);
    for (const [c, bk] of [
      [client, k],
      [wrong, key('wrong')],
    ]) {
      try {
        await c.publish(post(bk));
        assert.fail('expected an error');
      } catch (error) {
        assert.ok(error instanceof PostatoError);
        texts.push(error.message, String(error), util.inspect(error), error.stack ?? '', JSON.stringify(error));
      }
    }
    for (const text of texts) assert.ok(!text.includes(SECRET), `the key leaked into: ${text}`);
  } finally {
    await sim.stop();
  }
});

test('a server that echoes the API key never puts it in an error or the store', async (t) => {
  const sim = await Simulator.start({ apiKeys: [SECRET] });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postato-echo-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  try {
    const client = new Client({ apiKey: SECRET, workspaceId: 'w', baseUrl: sim.baseUrl });
    const store = new SqliteStore(`${dir}/posts.db`);
    const publisher = new Publisher(client, store);
    const k = key('echo');
    sim.script(k, [
      {
        action: 'respond',
        status: 400,
        headers: { 'X-Echo-Authorization': `Bearer ${SECRET}` },
        body: { error: { message: `bad request: Authorization: Bearer ${SECRET}` } },
      },
    ]);
    const error = await publisher.publish(post(k)).then(
      () => assert.fail('expected an error'),
      (e) => e,
    );
    const texts = [
      error.message,
      util.inspect(error, { depth: 5 }),
      JSON.stringify(error.body),
      JSON.stringify(error.headers),
      JSON.stringify(await store.deadLetters()),
    ];
    for (const text of texts) assert.ok(!text.includes(SECRET), `the key leaked into: ${text}`);
    assert.equal(error.headers['x-echo-authorization'], 'Bearer <redacted>');
    // The database and its write-ahead log.
    for (const file of fs.readdirSync(dir)) {
      assert.ok(!fs.readFileSync(`${dir}/${file}`).includes(SECRET), file);
    }
  } finally {
    await sim.stop();
  }
});
