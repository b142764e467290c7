'use strict';
// Every shared scenario file, through the Node API against the simulator.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { Client, PostatoError } = require('..');
const { REPO, Simulator, key } = require('./helpers');

const dir = path.join(REPO, 'tests/scenarios');
const files = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort();

function scriptFor(steps) {
  const actions = [];
  for (const step of steps) {
    if (step.ok) actions.push({ action: 'ok' });
    else if ('respond' in step) {
      const action = { action: 'respond', status: step.respond, headers: step.headers ?? {} };
      if ('body' in step) action.body = step.body;
      if ('bodyText' in step) action.bodyText = step.bodyText;
      actions.push(action);
    } else if (step.reset) actions.push({ action: 'reset' });
    else if (step.dropAfterCommit) actions.push({ action: 'dropAfterCommit' });
    else if (step.timeout) actions.push({ action: 'hang', ms: 10000 });
  }
  return actions;
}

test('shared scenarios', async (t) => {
  assert.ok(files.length >= 25);
  const sim = await Simulator.start();
  t.after(() => sim.stop());
  for (const file of files) {
    const scenario = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
    await t.test(scenario.name, async () => {
      const fields = {
        platform: 'x',
        accountId: 'acc_1',
        postType: 'post',
        businessKey: `scenario-${scenario.name}`,
        content: `hello from ${scenario.name}`,
        ...scenario.post,
      };
      if (fields.businessKey) fields.businessKey = `${key()}-${fields.businessKey}`;
      const policy = scenario.policy ?? {};
      const client = new Client({
        apiKey: sim.apiKey,
        workspaceId: 'ws_node',
        baseUrl: sim.baseUrl,
        fastForwardWaits: true,
        maxAttempts: policy.maxAttempts,
        timeoutMs: policy.timeoutMs,
        deadlineMs: policy.deadlineMs,
        maxRateLimitWaits: policy.maxRateLimitWaits,
      });
      if (fields.businessKey) sim.script(fields.businessKey, scriptFor(scenario.steps));
      const before = sim.stats().requests;
      const expect = scenario.expect;
      let outcome, attempts, status;
      try {
        const published = await client.publish(fields);
        [outcome, attempts, status] = ['published', published.attempts, null];
        if ('replayed' in expect) assert.equal(published.replayed, expect.replayed);
      } catch (error) {
        assert.ok(error instanceof PostatoError, String(error));
        [outcome, attempts, status] = [error.kind, error.attempts, error.status];
      }
      assert.equal(outcome, expect.result);
      assert.equal(attempts, expect.attempts);
      if (outcome !== 'published') assert.equal(status, expect.status ?? null);
      if (expect.result === 'invalid_input')
        assert.equal(sim.stats().requests, before, 'no request for an invalid post');
      else if ('platformPublishes' in expect) assert.equal(sim.publishes(fields.businessKey), expect.platformPublishes);
    });
  }
});
