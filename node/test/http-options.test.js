'use strict';
// `defaultHeaders` and `proxy`, as a server and a proxy see them: a stand-in that keeps each
// request's URL and headers and answers as the API would.
const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const util = require('node:util');

const postato = require('..');

async function standIn() {
  const seen = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push({ url: req.url, headers: req.headers });
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'post_standin', status: 'published' }));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { address: `127.0.0.1:${server.address().port}`, seen, close: () => server.close() };
}

const post = (businessKey) => ({ businessKey, platform: 'x', accountId: 'acc_1', content: 'hello' });

test('defaultHeaders go with every request, and a User-Agent before postato’s', async () => {
  const server = await standIn();
  try {
    for (const defaultHeaders of [
      { 'X-Team': 'growth', 'User-Agent': 'my-app/2.1' },
      new Map([
        ['X-Team', 'growth'],
        ['User-Agent', 'my-app/2.1'],
      ]),
      new Headers({ 'X-Team': 'growth', 'User-Agent': 'my-app/2.1' }),
    ]) {
      const client = new postato.Client({
        apiKey: 'sk_live_standin',
        workspaceId: 'ws_node',
        baseUrl: `http://${server.address}`,
        defaultHeaders,
      });
      assert.equal((await client.publish(post('headers'))).id, 'post_standin');
    }
    assert.equal(server.seen.length, 3);
    for (const { headers } of server.seen) {
      assert.equal(headers['x-team'], 'growth');
      assert.match(headers['user-agent'], /^my-app\/2\.1 postato\//);
      assert.equal(headers.authorization, 'Bearer sk_live_standin');
    }
  } finally {
    server.close();
  }
});

test('the headers postato sets cannot be given, and a refusal never shows a value', () => {
  for (const name of ['Authorization', 'Idempotency-Key', 'content-type', 'Host']) {
    assert.throws(
      () => new postato.Client({ apiKey: 'k', workspaceId: 'w', defaultHeaders: { [name]: 'hunter2' } }),
      (e) =>
        e instanceof postato.InvalidSettingError &&
        e.field === 'defaultHeaders' &&
        e.message.includes(name) &&
        !e.message.includes('hunter2'),
    );
  }
  for (const bad of [['X-Team', 'growth'], 'X-Team: growth', { 'X-Team': 3 }]) {
    assert.throws(
      () => new postato.Client({ apiKey: 'k', workspaceId: 'w', defaultHeaders: bad }),
      (e) => e instanceof postato.InvalidSettingError && e.field === 'defaultHeaders',
    );
  }
});

test('a proxy carries every request with its credentials, which are never shown', async () => {
  const proxy = await standIn();
  try {
    // Nothing listens at the base URL: only the proxy can answer.
    const client = new postato.Client({
      apiKey: 'sk_live_standin',
      workspaceId: 'ws_node',
      baseUrl: 'http://127.0.0.1:9',
      proxy: `http://team:hunter2@${proxy.address}`,
    });
    assert.equal((await client.publish(post('proxied'))).id, 'post_standin');
    assert.equal(proxy.seen.length, 1);
    assert.equal(proxy.seen[0].url, 'http://127.0.0.1:9/v1/workspaces/ws_node/posts');
    assert.equal(proxy.seen[0].headers['proxy-authorization'], `Basic ${btoa('team:hunter2')}`);
    assert.ok(!util.inspect(client).includes('hunter2'));
  } finally {
    proxy.close();
  }
  for (const bad of ['socks5://team:hunter2@proxy:1080', 3128]) {
    assert.throws(
      () => new postato.Client({ apiKey: 'k', workspaceId: 'w', proxy: bad }),
      (e) => e instanceof postato.InvalidSettingError && e.field === 'proxy' && !e.message.includes('hunter2'),
    );
  }
});
