'use strict';
// Publishes/s of the Node Client (64 workers) with telemetry as MODE says: `off` (the harness
// sets OTEL_SDK_DISABLED=true: nothing loaded), `api` (@opentelemetry/api installed, no SDK:
// what most applications have), `sdk` (the SDK's metrics, read every second, and spans through
// a batch processor into an exporter that drops them). Prints JSON lines {name, perSecond}.
// Usage: node bench_telemetry.js BASE_URL API_KEY N MODE
const path = require('node:path');

const nodeDir = path.join(__dirname, '../../../node');
const { Client } = require(nodeDir);
const fromNode = (name) => require(require.resolve(name, { paths: [nodeDir] }));

const [base, apiKey, count, mode] = process.argv.slice(2);
const N = Number(count);

if (mode === 'sdk') {
  const api = fromNode('@opentelemetry/api');
  const { AsyncLocalStorageContextManager } = fromNode('@opentelemetry/context-async-hooks');
  const { MeterProvider, PeriodicExportingMetricReader, InMemoryMetricExporter, AggregationTemporality } =
    fromNode('@opentelemetry/sdk-metrics');
  const { BasicTracerProvider, BatchSpanProcessor } = fromNode('@opentelemetry/sdk-trace-base');
  const exporter = new InMemoryMetricExporter(AggregationTemporality.DELTA);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 1000 });
  api.metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  const dropping = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} };
  const processor = new BatchSpanProcessor(dropping);
  api.trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [processor] }));
  api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  setInterval(() => exporter.reset(), 1000).unref();
}

async function main() {
  const client = new Client({ apiKey, workspaceId: 'ws_bench', baseUrl: base });
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < N) {
        const i = next++;
        await client.publish({
          businessKey: `node-otel-${mode}-${process.pid}-${i}`,
          platform: 'x',
          accountId: 'acc_1',
          content: `benchmark post ${i}`,
        });
      }
    }),
  );
  console.log(JSON.stringify({ name: 'client', perSecond: N / ((performance.now() - started) / 1000) }));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
