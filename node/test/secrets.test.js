'use strict';
// The API key never appears in error messages, error inspection or util.inspect(client).
const test = require('node:test');
const assert = require('node:assert/strict');
const util = require('node:util');
const { Client, Publisher, PostatoError } = require('..');
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
