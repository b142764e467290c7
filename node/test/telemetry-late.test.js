'use strict';
// OpenTelemetry registered after the client is made (the API's global providers are no-ops
// until then), and an SDK that throws: the metrics still arrive, and no publish fails.
const test = require('node:test');
const assert = require('node:assert/strict');

const api = require('@opentelemetry/api');
const { MeterProvider, MetricReader } = require('@opentelemetry/sdk-metrics');

const { Simulator, key, client, post } = require('./helpers');

class OnDemandReader extends MetricReader {
  async onForceFlush() {}
  async onShutdown() {}
}

let sim;
test.before(async () => {
  sim = await Simulator.start();
});
test.after(() => sim.stop());

test('what a client recorded before the application registers its MeterProvider reaches it', async () => {
  const c = client(sim);
  await c.publish(post(key('otel-early'))); // kept until a provider collects it
  await new Promise((resolve) => setTimeout(resolve, 1500)); // past a tick of the flush timer
  const reader = new OnDemandReader();
  api.metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  // No publish since: the timer makes the instruments on the new provider within a second.
  let attempts;
  for (let i = 0; i < 50 && attempts === undefined; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const { resourceMetrics } = await reader.collect();
    attempts = resourceMetrics.scopeMetrics
      .flatMap((s) => s.metrics)
      .find((m) => m.descriptor.name === 'postato.attempts');
  }
  assert.equal(attempts?.dataPoints[0].value, 1);
});

test('an SDK that throws never fails a publish, and is reported once', async () => {
  const throwing = () => {
    throw new Error('a broken SDK');
  };
  // A tracer provider (the first one this process registers) whose tracer throws, then whose
  // spans throw; and a meter provider that throws.
  let spansThrow = false;
  const brokenSpan = {
    spanContext: () => ({ traceId: '1'.repeat(32), spanId: '1'.repeat(16), traceFlags: 1 }),
    isRecording: () => true,
    setAttribute: throwing,
    setStatus: throwing,
    end: throwing,
  };
  const startSpan = () => (spansThrow ? brokenSpan : throwing());
  api.trace.setGlobalTracerProvider({ getTracer: () => ({ startSpan, startActiveSpan: throwing }) });
  api.metrics.disable();
  api.metrics.setGlobalMeterProvider({ getMeter: throwing });
  const warnings = [];
  const onWarning = (warning) => warnings.push(String(warning));
  process.on('warning', onWarning);
  try {
    const c = client(sim);
    const k = key('otel-broken');
    sim.script(k, [{ action: 'respond', status: 503 }, { action: 'ok' }]);
    assert.equal((await c.publish(post(k))).attempts, 2);
    const refused = key('otel-broken-refused');
    sim.script(refused, [{ action: 'respond', status: 400 }]);
    await assert.rejects(c.publish(post(refused)), (e) => e.kind === 'permanent');
    spansThrow = true;
    assert.equal((await c.publish(post(key('otel-broken-span')))).attempts, 1);
    const refusedAgain = key('otel-broken-span-refused');
    sim.script(refusedAgain, [{ action: 'respond', status: 400 }]);
    await assert.rejects(c.publish(post(refusedAgain)), (e) => e.kind === 'permanent');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(warnings.filter((w) => w.includes('OpenTelemetry')).length, 1, warnings.join('\n'));
  } finally {
    process.off('warning', onWarning);
  }
});
