'use strict';
// A broken proxy that sends a second, unrequested answer on a kept-open connection: the client
// never takes it for the answer to a later post. The stray answer comes a few milliseconds
// after the real one, once the next request was sent; the echoed Idempotency-Key tells it apart.
const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { Client, idempotencyKey } = require('..');
const { post } = require('./helpers');

const given = new Map();
const sockets = new Set();

function answerTwice(socket) {
  let pending = Buffer.alloc(0);
  sockets.add(socket);
  socket.on('error', () => {});
  socket.on('data', (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    for (;;) {
      const end = pending.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = pending.subarray(0, end).toString().toLowerCase();
      const length = Number(/content-length:\s*(\d+)/.exec(head)?.[1] ?? 0);
      if (pending.length < end + 4 + length) return;
      pending = pending.subarray(end + 4 + length);
      const key = /idempotency-key:\s*(\S+)/.exec(head)[1];
      if (!given.has(key)) given.set(key, `post_${given.size}`);
      const body = `{"id":"${given.get(key)}","status":"published"}`;
      const answer = `HTTP/1.1 201 Created\r\nIdempotency-Key: ${key}\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
      socket.write(answer);
      setTimeout(() => socket.writable && socket.write(answer), 5); // the stray copy
    }
  });
}

test('a stray answer is never taken for the answer to a later post', async () => {
  const server = net.createServer(answerTwice);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const baseUrl = `http://127.0.0.1:${server.address().port}`;
    const client = new Client({ apiKey: 'sk_test_stray', workspaceId: 'ws_node', baseUrl, fastForwardWaits: true });
    for (let i = 0; i < 10; i += 1) {
      const businessKey = `stray-${i}`;
      const published = await client.publish(post(businessKey));
      assert.equal(published.id, given.get(idempotencyKey(businessKey)), `post ${i}`);
    }
  } finally {
    server.close();
    for (const socket of sockets) socket.destroy();
  }
});
