'use strict';
// Metrics and spans through @opentelemetry/api, read back with the SDK's reader and in-memory
// exporter: the same names as Rust's metrics, a span per publish under the caller's.
const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const api = require('@opentelemetry/api');
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
const { MeterProvider, MetricReader } = require('@opentelemetry/sdk-metrics');
const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base');

const postato = require('..');
const { Simulator, key, client, post } = require('./helpers');

/** A reader that collects when asked. */
class OnDemandReader extends MetricReader {
  async onForceFlush() {}
  async onShutdown() {}
}

const reader = new OnDemandReader();
api.metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
const spans = new InMemorySpanExporter();
api.trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

let sim;
test.before(async () => {
  sim = await Simulator.start();
});
test.after(() => sim.stop());

/** Every postato data point now, by `name|label`: a counter's sum, a histogram's count. */
async function points() {
  const { resourceMetrics } = await reader.collect();
  const found = {};
  for (const scope of resourceMetrics.scopeMetrics) {
    if (scope.scope.name !== 'postato') continue;
    for (const metric of scope.metrics) {
      for (const point of metric.dataPoints) {
        const label = Object.values(point.attributes)[0] ?? null;
        found[`${metric.descriptor.name}|${label}`] = typeof point.value === 'number' ? point.value : point.value.count;
      }
    }
  }
  return found;
}

/** How much each counter and histogram grew since `before` (the gauge is a level, not counted). */
async function increase(before) {
  const after = await points();
  return Object.fromEntries(
    Object.entries(after)
      .filter(([k, v]) => !k.startsWith('postato.retry_budget.tokens') && v !== (before[k] ?? 0))
      .map(([k, v]) => [k, v - (before[k] ?? 0)]),
  );
}

test('a publish records Rust’s metrics under their names when it settles', async () => {
  const c = client(sim);
  const k = key('otel-retried');
  sim.script(k, [{ action: 'respond', status: 503 }, { action: 'respond', status: 503 }, { action: 'ok' }]);
  let before = await points();
  assert.equal((await c.publish(post(k))).attempts, 3);
  assert.deepEqual(await increase(before), {
    'postato.attempts|null': 3,
    'postato.retries|retryable_status': 2,
    'postato.waits|retryable_status': 2,
    'postato.wait.duration|retryable_status': 2,
    'postato.publishes|published': 1,
  });
  const failed = key('otel-permanent');
  sim.script(failed, [{ action: 'respond', status: 400 }]);
  before = await points();
  await assert.rejects(c.publish(post(failed)), postato.PermanentPostError);
  assert.deepEqual(await increase(before), { 'postato.attempts|null': 1, 'postato.publishes|permanent': 1 });
  const dead = key('otel-dead');
  sim.script(dead, [{ action: 'respond', status: 422 }]);
  before = await points();
  await assert.rejects(new postato.Publisher(c).publish(post(dead)), postato.PermanentPostError);
  assert.equal((await increase(before))['postato.dead_letters|permanent'], 1);
  assert.ok((await points())['postato.retry_budget.tokens|null'] > 0);
});

test('each publish is a CLIENT span under the caller’s, with the Rust span’s attributes', async () => {
  spans.reset();
  const c = client(sim);
  const k = key('otel-span');
  const failed = key('otel-span-failed');
  sim.script(k, [{ action: 'respond', status: 503 }, { action: 'ok' }]);
  sim.script(failed, [{ action: 'respond', status: 400 }]);
  const parent = await api.trace.getTracer('app').startActiveSpan('campaign', async (span) => {
    await c.publish(post(k));
    await c.publish(post(failed)).catch(() => {});
    await c.publishMany([post(key('otel-many'))]);
    span.end();
    return span;
  });
  const finished = spans.getFinishedSpans();
  const byKey = (name, businessKey) =>
    finished.find((s) => s.name === name && s.attributes['postato.business_key'] === businessKey);
  const published = byKey('postato.publish', k);
  assert.equal(published.kind, api.SpanKind.CLIENT);
  assert.equal(published.parentSpanContext?.spanId, parent.spanContext().spanId);
  assert.deepEqual(published.attributes, {
    'postato.workspace_id': 'ws_node',
    'postato.business_key': k,
    'postato.outcome': 'published',
    'postato.attempts': 2,
  });
  const refused = byKey('postato.publish', failed);
  assert.equal(refused.status.code, api.SpanStatusCode.ERROR);
  assert.deepEqual(refused.attributes, {
    'postato.workspace_id': 'ws_node',
    'postato.business_key': failed,
    'postato.outcome': 'permanent',
    'error.type': 'permanent',
    'postato.attempts': 1,
  });
  const many = finished.find((s) => s.name === 'postato.publish_many');
  assert.deepEqual(
    [many.attributes['postato.posts'], many.attributes['postato.published'], many.attributes['postato.failed']],
    [1, 1, 0],
  );
  assert.ok(!JSON.stringify(finished.map((s) => s.attributes)).includes(sim.apiKey));
});

test('the metrics of a call still running are recorded within seconds', async () => {
  // The attempt hangs for 60 s: only the once-a-second flush can record it while it runs.
  const c = client(sim, { timeoutMs: 120_000 });
  const k = key('otel-live');
  sim.script(k, [{ action: 'hang', ms: 60_000 }]);
  const before = await points();
  const controller = new AbortController();
  const running = c.publish(post(k), { signal: controller.signal }).catch(() => 'ended');
  let seen = false;
  for (let i = 0; i < 300 && !seen; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    seen = (await increase(before))['postato.attempts|null'] === 1;
  }
  spans.reset();
  controller.abort();
  assert.equal(await running, 'ended');
  assert.ok(seen, 'the attempt was recorded while the publish ran');
  const [cancelled] = spans.getFinishedSpans();
  assert.deepEqual(
    [cancelled.attributes['postato.outcome'], cancelled.attributes['error.type']],
    ['cancelled', 'cancelled'],
  );
});

test('without @opentelemetry/api, or with OTEL_SDK_DISABLED=true, nothing is loaded or recorded', () => {
  const script = `
    const Module = require('node:module');
    const resolve = Module._resolveFilename;
    Module._resolveFilename = function (request, ...rest) {
      if (request.startsWith('@opentelemetry/')) throw Object.assign(new Error('absent'), { code: 'MODULE_NOT_FOUND' });
      return resolve.call(this, request, ...rest);
    };
    const postato = require(${JSON.stringify(path.resolve(__dirname, '..'))});
    const client = new postato.Client({ apiKey: ${JSON.stringify(sim.apiKey)}, workspaceId: 'w', baseUrl: ${JSON.stringify(sim.baseUrl)} });
    client.publish({ businessKey: ${JSON.stringify(key('otel-absent'))}, platform: 'x', accountId: 'a', content: 'c' }).then((p) => {
      const loaded = Object.keys(require.cache).some((f) => f.includes('@opentelemetry'));
      console.log(p.attempts === 1 && !loaded && require(${JSON.stringify(path.resolve(__dirname, '..', 'native.js'))}).takeMetrics() === null ? 'ok' : 'wrong');
    });
  `;
  assert.equal(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }).trim(), 'ok');
  // Installed but switched off, as for the SDK: the same.
  const switchedOff = script.replace('Module._resolveFilename = function', 'Module._unused = function');
  const env = { ...process.env, OTEL_SDK_DISABLED: 'true' };
  assert.equal(execFileSync(process.execPath, ['-e', switchedOff], { encoding: 'utf8', env }).trim(), 'ok');
});
