'use strict';
// Every Node setting against the table all languages share (tests/vectors/settings.json,
// written from postato_core::settings): its name, its range and its default.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { Client, DEFAULTS, InvalidSettingError } = require('..');
const { REPO } = require('./helpers');
const { clientSettings } = require('../native.js');

const vector = JSON.parse(fs.readFileSync(path.join(REPO, 'tests/vectors/settings.json'), 'utf8'));
const nodeSettings = vector.settings.filter((s) => s.node);
const types = fs.readFileSync(path.join(REPO, 'node/index.d.ts'), 'utf8');
const clientOptions = types.slice(
  types.indexOf('export interface ClientOptions'),
  types.indexOf('export interface RetryEvent'),
);

test('every setting is declared under the table’s name, each client setting in ClientOptions', () => {
  for (const setting of nodeSettings) {
    assert.match(types, new RegExp(`\\b${setting.node}\\?: number`), `index.d.ts declares ${setting.node}`);
  }
  const defaultsType = types.slice(
    types.indexOf('export declare const DEFAULTS'),
    types.indexOf('export interface ThreadItem'),
  );
  for (const name of clientSettings()) {
    assert.match(clientOptions, new RegExp(`\\b${name}\\?: number`), `ClientOptions declares ${name}`);
    assert.match(defaultsType, new RegExp(`\\b${name}: number`), `DEFAULTS declares ${name}`);
  }
});

test('DEFAULTS reports each setting with the table’s default', () => {
  const byName = new Map(nodeSettings.map((s) => [s.node, s]));
  const { baseUrl, ...reported } = DEFAULTS;
  assert.equal(baseUrl, vector.baseUrl);
  assert.deepEqual(Object.keys(reported).sort(), [...clientSettings(), 'concurrency'].sort());
  for (const [name, value] of Object.entries(reported)) {
    assert.ok(byName.has(name), `${name} is a setting of the table`);
    assert.equal(value, byName.get(name).default, name);
  }
  assert.ok(Object.isFrozen(DEFAULTS));
});

test('a client setting outside the table’s range is refused naming it', () => {
  const inClientOptions = nodeSettings.filter((s) => clientOptions.includes(`${s.node}?:`));
  assert.ok(inClientOptions.length >= 8);
  for (const setting of inClientOptions) {
    assert.throws(
      () => new Client({ apiKey: 'k', workspaceId: 'w', [setting.node]: setting.max + 1 }),
      (e) => e instanceof InvalidSettingError && e.field === setting.node && /give/.test(e.message),
      setting.node,
    );
  }
});
