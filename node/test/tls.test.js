'use strict';
// TLS as users meet it: a server whose certificate is not trusted is a setting to fix (never
// retried, the API key never sent); the company CA given as `caBundle`, or SSL_CERT_FILE, is
// trusted. The server's certificate is the fixture in tests/tls (localhost, valid 2000-2125).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const https = require('node:https');
const path = require('node:path');
const { Client, InvalidSettingError } = require('..');
const { REPO, post } = require('./helpers');

const FIXTURE = path.join(REPO, 'tests', 'tls');
const CERTIFICATE = path.join(FIXTURE, 'localhost.pem');
let server;
let baseUrl;
let handshakes = 0;
let connections = 0;

test.before(async () => {
  server = https.createServer(
    { key: fs.readFileSync(path.join(FIXTURE, 'localhost.key')), cert: fs.readFileSync(CERTIFICATE) },
    (request, response) => {
      request.resume();
      request.on('end', () => {
        response.writeHead(201, { 'content-type': 'application/json' });
        response.end('{"id":"post_tls","status":"published"}');
      });
    },
  );
  server.on('secureConnection', () => {
    handshakes += 1;
  });
  server.on('connection', () => {
    connections += 1;
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `https://localhost:${server.address().port}`;
});
test.after(() => server.close());

const client = (options = {}) =>
  new Client({ apiKey: 'sk_test_tls', workspaceId: 'ws_node', baseUrl, fastForwardWaits: true, ...options });

test('an untrusted certificate is a setting to fix, never retried, and the key is never sent', async () => {
  await assert.rejects(client({ maxAttempts: 3 }).publish(post('tls-untrusted')), (e) => {
    assert.ok(e instanceof InvalidSettingError, `${e}`);
    assert.equal(e.field, 'caBundle', e.message);
    assert.match(e.message, /not trusted .*caBundle.*SSL_CERT_FILE/);
    return true;
  });
  assert.equal(handshakes, 0, 'no handshake completed');
  assert.equal(connections, 1, 'one attempt of the three allowed');
});

test('the company CA given as caBundle is trusted', async () => {
  const published = await client({ caBundle: CERTIFICATE }).publish(post('tls-bundle'));
  assert.deepEqual([published.id, published.attempts], ['post_tls', 1]);
});

test('SSL_CERT_FILE is trusted as OpenSSL and curl trust it', async () => {
  process.env.SSL_CERT_FILE = CERTIFICATE;
  try {
    assert.equal((await client().publish(post('tls-env'))).id, 'post_tls');
  } finally {
    delete process.env.SSL_CERT_FILE;
  }
});
