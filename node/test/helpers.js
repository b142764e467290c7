'use strict';
// Shared helpers: a simulator per test file, clients pointed at it, unique business keys.
const path = require('node:path');
const { Client } = require('..');
const { Simulator } = require('../testing.js');

const REPO = path.resolve(__dirname, '..', '..');
// The tests give every setting themselves: the machine's POSTATO_* variables must not change them.
for (const name of [
  'POSTATO_API_KEY',
  'POSTATO_WORKSPACE_ID',
  'POSTATO_BASE_URL',
  'POSTATO_CA_BUNDLE',
  'POSTATO_LOG',
]) {
  delete process.env[name];
}
let counter = 0;
// Distinguishes runs: stores such as PostgreSQL keep records between runs on one machine.
const run = require('node:crypto').randomBytes(4).toString('hex');

function key(prefix = 'node') {
  counter += 1;
  return `${prefix}-${process.pid}-${run}-${counter}`;
}

function client(sim, options = {}) {
  return new Client({
    apiKey: sim.apiKey,
    workspaceId: 'ws_node',
    baseUrl: sim.baseUrl,
    fastForwardWaits: true,
    timeoutMs: 5000,
    ...options,
  });
}

function post(businessKey, content = 'hello') {
  return { businessKey, platform: 'x', accountId: 'acc_1', content };
}

module.exports = { REPO, Simulator, key, client, post };
