'use strict';
/**
 * Metrics and spans through the OpenTelemetry API (`@opentelemetry/api`), when the application
 * has it. postato instruments as libraries do: through the API, which records nothing until the
 * application registers an SDK (a MeterProvider, a TracerProvider). Without the package nothing
 * is loaded and nothing is recorded.
 *
 * Metrics are Rust's (`metricsTableJson`): the same names, units and labels as the Rust client
 * and `postato batch --metrics`. A client gathers them in Rust as it publishes (no call into
 * JavaScript per request); they are added to the instruments when each call settles, and once
 * a second while any client lives (an unref'd timer), so a long `publishMany` shows as it goes.
 *
 * Spans: `postato.publish` around each publish and `postato.publishMany` around each
 * `publishMany`, of kind CLIENT, under the caller's active span, with the attributes of the
 * Rust client's publish span (`postato.business_key`, `postato.workspace_id`,
 * `postato.attempts`, `postato.outcome`: `published` or the error's kind).
 */
const native = require('../native.js');

/** The API, or null when the application does not have it. */
const api = (() => {
  try {
    return require('@opentelemetry/api');
  } catch {
    return null;
  }
})();

const SCOPE = 'postato';
const VERSION = native.version();
const FLUSH_EVERY_MS = 1000;

/** Whether clients gather metrics: only when the API is there. */
const enabled = api !== null;

/** The native clients that gather metrics, weakly (a `withOptions` copy shares its original's). */
const gathering = new Set();
let instruments = null;
let timer = null;

/** The instruments, made once on the global meter provider's `postato` meter. */
function makeInstruments() {
  const table = JSON.parse(native.metricsTableJson());
  const meter = api.metrics.getMeter(SCOPE, VERSION);
  const made = { labels: new Map(), counters: new Map(), histogram: null, histogramLabel: 'reason' };
  for (const metric of table.metrics) {
    const options = { unit: metric.unit, description: metric.help };
    made.labels.set(metric.name, metric.label);
    if (metric.kind === 'counter') {
      made.counters.set(metric.name, meter.createCounter(metric.name, options));
    } else if (metric.kind === 'histogram') {
      const advice = { explicitBucketBoundaries: table.waitBuckets };
      made.histogram = meter.createHistogram(metric.name, { ...options, advice });
      made.histogramLabel = metric.label ?? 'reason';
    } else {
      meter.createObservableGauge(metric.name, options).addCallback((result) => {
        let tokens = 0;
        let any = false;
        for (const ref of gathering) {
          const client = ref.deref();
          if (client === undefined) continue;
          tokens += client.retryBudgetTokens();
          any = true;
        }
        if (any) result.observe(tokens);
      });
    }
  }
  return made;
}

/**
 * Adds `client`'s metrics (a native client made with `metrics: true`) to the instruments from
 * now on: when its calls settle (`flush`) and once a second.
 */
function track(client) {
  instruments ??= makeInstruments();
  gathering.add(new WeakRef(client));
  if (timer === null) {
    timer = setInterval(flushAll, FLUSH_EVERY_MS);
    timer.unref();
  }
}

/** Adds what `client` gathered since it was last taken to the instruments. */
function flush(client) {
  const taken = instruments === null ? null : client.takeMetrics();
  if (taken === null || taken === undefined) return;
  const { counts, waits, dropped } = JSON.parse(taken);
  for (const [name, value, increase] of counts) {
    const label = instruments.labels.get(name);
    instruments.counters.get(name)?.add(increase, label && value !== null ? { [label]: value } : undefined);
  }
  for (const [reason, seconds] of waits) {
    instruments.histogram?.record(seconds, { [instruments.histogramLabel]: reason });
  }
  if (dropped > 0) {
    process.emitWarning(
      `postato: ${dropped} wait durations were not recorded (more than ${waits.length} gathered between two flushes)`,
    );
  }
}

function flushAll() {
  for (const ref of gathering) {
    const client = ref.deref();
    if (client === undefined) gathering.delete(ref);
    else flush(client);
  }
  if (gathering.size === 0) {
    clearInterval(timer);
    timer = null;
  }
}

/**
 * Runs `call()` as OpenTelemetry sees it: in a CLIENT span `name` with the attributes
 * `attributes()` gives (when the API is there), then adds the metrics `client` gathered,
 * however the call settles.
 * `settled(span, result)` sets the attributes of a success; a `PostatoError` sets
 * `postato.outcome` and `postato.attempts`, and any rejection marks the span failed.
 */
async function observed(client, name, attributes, call, settled) {
  if (api === null) return call();
  const tracer = api.trace.getTracer(SCOPE, VERSION);
  const options = { kind: api.SpanKind.CLIENT, attributes: attributes() };
  return tracer.startActiveSpan(name, options, async (span) => {
    try {
      const result = await call();
      settled?.(span, result);
      return result;
    } catch (error) {
      const kind = typeof error?.kind === 'string' ? error.kind : null;
      if (kind !== null) {
        span.setAttribute('postato.outcome', kind);
        if (typeof error.attempts === 'number') span.setAttribute('postato.attempts', error.attempts);
      } else {
        span.setAttribute('error.type', error?.name ?? 'Error');
      }
      span.setStatus({ code: api.SpanStatusCode.ERROR, message: kind ?? error?.name ?? 'Error' });
      throw error;
    } finally {
      span.end();
      flush(client);
    }
  });
}

/** A publish span's attributes once the post is published. */
function published(span, post) {
  span.setAttribute('postato.outcome', 'published');
  span.setAttribute('postato.attempts', post.attempts);
}

/** A `publishMany` span's attributes: how many posts were published and failed. */
function publishedMany(span, results) {
  const done = results.filter((r) => r.status === 'fulfilled').length;
  span.setAttribute('postato.published', done);
  span.setAttribute('postato.failed', results.length - done);
}

module.exports = { enabled, track, flush, observed, published, publishedMany };
