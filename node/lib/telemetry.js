'use strict';
/**
 * Metrics and spans through the OpenTelemetry API (`@opentelemetry/api`), when the application
 * has it. postato instruments as libraries do: through the API, which records nothing until the
 * application registers an SDK (a MeterProvider, a TracerProvider). Without the package nothing
 * is loaded and nothing is recorded.
 *
 * Metrics are Rust's (`metricsTableJson`): the same names, units and labels as the Rust client
 * and `postato batch --metrics`. A client gathers them in Rust as it publishes (no call into
 * JavaScript per request); they are added to the instruments whenever the application's
 * metric reader collects (the gauge's callback adds them first, so a collection sees every
 * publish that settled before it), and once a second besides (an unref'd timer). Nothing is
 * added on a publish's own path. The instruments are made again when the application
 * registers another MeterProvider (the API's global one is a no-op until then). The gauge
 * `postato.retry_budget.tokens` is the sum over the process's clients.
 *
 * Spans, when the application has registered a TracerProvider: `postato.publish` around each publish, `postato.publish_many` and `postato.publish_due`
 * around those calls (Python's names), of kind CLIENT (the one span of the remote call that
 * JavaScript traces get: the per-attempt spans are the Rust client's), under the caller's
 * active span, with the attributes of the Rust client's publish span: `postato.business_key`,
 * `postato.workspace_id`, `postato.attempts`, `postato.outcome` (`published`, the error's kind,
 * or `cancelled`) and, on a failure, `error.type`.
 *
 * Telemetry never fails a publish: an SDK that throws is reported once as a process warning
 * and the call goes on.
 */
const native = require('../native.js');

/** Switched off as for the SDK and the CLI: nothing is loaded. */
const disabled = (process.env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true';

/** The API, or null when the application does not have it (or switched it off). */
const api = disabled
  ? null
  : (() => {
      try {
        return require('@opentelemetry/api');
      } catch {
        return null;
      }
    })();

const SCOPE = 'postato';
const VERSION = native.version();
const FLUSH_EVERY_MS = 1000;

/**
 * Whether clients gather metrics and open spans: only when the API is there and not switched
 * off (`OTEL_SDK_DISABLED=true`).
 */
const enabled = api !== null;

/** The native clients that gather metrics, weakly, for the gauge (their metrics are the process's). */
const gathering = new Set();
let instruments = null;
let timer = null;
let warned = false;

/** Reports the first telemetry failure as a process warning; the publish goes on. */
function warnOnce(what, error) {
  if (warned) return;
  warned = true;
  process.emitWarning(`postato: OpenTelemetry ${what} failed, and is skipped (the publish goes on): ${error}`);
}

const TABLE = JSON.parse(native.metricsTableJson());
/** The API's meter before any provider is registered (a singleton of the API). */
const NO_METER = api === null ? null : api.createNoopMeter();

/**
 * The instruments on the `postato` meter of the application's MeterProvider, made again when
 * it registers another (the old gauge's callback removed); null until it registers one.
 */
function currentInstruments() {
  const provider = api.metrics.getMeterProvider();
  if (instruments?.provider === provider) return instruments;
  const meter = provider.getMeter(SCOPE, VERSION);
  if (meter === NO_METER) return null;
  if (instruments !== null) instruments.gauge.removeCallback(observeGauge);
  instruments = makeInstruments(provider, meter);
  return instruments;
}

function makeInstruments(provider, meter) {
  const made = { provider, labels: new Map(), counters: new Map(), histogram: null, histogramLabel: 'reason' };
  for (const metric of TABLE.metrics) {
    const options = { unit: metric.unit, description: metric.help };
    made.labels.set(metric.name, metric.label);
    if (metric.kind === 'counter') {
      made.counters.set(metric.name, meter.createCounter(metric.name, options));
    } else if (metric.kind === 'histogram') {
      const advice = { explicitBucketBoundaries: TABLE.waitBuckets };
      made.histogram = meter.createHistogram(metric.name, { ...options, advice });
      made.histogramLabel = metric.label;
    } else if (metric.name === 'postato.retry_budget.tokens') {
      made.gauge = meter.createObservableGauge(metric.name, options);
      made.gauge.addCallback(observeGauge);
    }
  }
  return made;
}

/**
 * A collection by the application's reader: the process's metrics first (the SDK collects the
 * other instruments after the callbacks), then the tokens left in the retry budgets of the
 * process's clients, together.
 */
function observeGauge(result) {
  flush();
  let tokens = 0;
  let any = false;
  for (const ref of gathering) {
    const client = ref.deref();
    if (client === undefined) {
      gathering.delete(ref);
      continue;
    }
    tokens += client.retryBudgetTokens();
    any = true;
  }
  if (any) result.observe(tokens);
}

/**
 * Counts `client` (a native client made with `metrics: true`) in the gauge, and adds the
 * process's metrics once a second from now on.
 */
function track(client) {
  gathering.add(new WeakRef(client));
  instrumented();
  if (timer === null) {
    timer = setInterval(flush, FLUSH_EVERY_MS);
    timer.unref();
  }
}

/** Makes the instruments on the application's current MeterProvider, if it is new (cheap when not). */
function instrumented() {
  try {
    currentInstruments();
  } catch (error) {
    warnOnce('metrics', error);
  }
}

/**
 * Adds what the process's clients gathered since it was last taken to the instruments;
 * nothing is taken before the application registers a MeterProvider (its first collection
 * sees it all).
 */
function flush() {
  try {
    const made = currentInstruments();
    if (made === null) return;
    const taken = native.takeMetrics();
    if (taken === null || taken === undefined) return;
    const { counts, waits, dropped } = JSON.parse(taken);
    for (const [name, value, increase] of counts) {
      const label = made.labels.get(name);
      made.counters.get(name)?.add(increase, label && value !== null ? { [label]: value } : undefined);
    }
    for (const [reason, seconds] of waits) {
      made.histogram?.record(seconds, { [made.histogramLabel]: reason });
    }
    if (dropped > 0) {
      process.emitWarning(
        `postato: ${dropped} wait durations were not recorded (more than ${waits.length} gathered before they were taken)`,
      );
    }
  } catch (error) {
    warnOnce('metrics', error);
  }
}

/**
 * Runs `call()` as OpenTelemetry sees it: in a CLIENT span `name` with the attributes
 * `attributes()` gives, when the application traces; the metrics `client` gathers reach the
 * instruments of the application's current MeterProvider.
 * `settled(span, result)` sets the attributes of a success. A rejection marks the span
 * failed: `cancelled` when `signal` aborted it, else a `PostatoError`'s kind (with its
 * attempts), else `error` with the error's name as `error.type`.
 */
async function observed(name, attributes, call, settled, signal) {
  if (!enabled) return call();
  instrumented();
  let span = null;
  try {
    if (tracing()) {
      span = api.trace
        .getTracer(SCOPE, VERSION)
        .startSpan(name, { kind: api.SpanKind.CLIENT, attributes: attributes() }, api.context.active());
    }
  } catch (error) {
    warnOnce('tracing', error);
  }
  const run = span === null ? call : () => api.context.with(api.trace.setSpan(api.context.active(), span), call);
  try {
    const result = await run();
    safely(() => settled?.(span, result));
    return result;
  } catch (error) {
    safely(() => failed(span, error, signal));
    throw error;
  } finally {
    safely(() => span?.end());
  }
}

/** The API's tracer provider before any is registered: spans from it record nothing. */
const NO_TRACING = api === null ? null : new api.ProxyTracerProvider().getDelegate();

/** Whether the application has registered a TracerProvider (else no span is opened). */
function tracing() {
  const provider = api.trace.getTracerProvider();
  return (provider.getDelegate?.() ?? provider) !== NO_TRACING;
}

/** Runs `mark`, on a span: a tracing SDK that throws never fails the call. */
function safely(mark) {
  try {
    mark();
  } catch (error) {
    warnOnce('tracing', error);
  }
}

function failed(span, error, signal) {
  if (span === null) return;
  const kind = signal?.aborted ? 'cancelled' : typeof error?.kind === 'string' ? error.kind : 'error';
  span.setAttribute('postato.outcome', kind);
  span.setAttribute('error.type', kind === 'error' ? (error?.name ?? 'Error') : kind);
  if (kind !== 'cancelled' && typeof error?.attempts === 'number')
    span.setAttribute('postato.attempts', error.attempts);
  span.setStatus({ code: api.SpanStatusCode.ERROR, message: kind });
}

/** A publish span's attributes once the post is published. */
function published(span, post) {
  span?.setAttribute('postato.outcome', 'published');
  span?.setAttribute('postato.attempts', post.attempts);
}

/** A `publishMany` span's attributes: how many posts were published and failed. */
function publishedMany(span, results) {
  const done = results.filter((r) => r.status === 'fulfilled').length;
  span?.setAttribute('postato.published', done);
  span?.setAttribute('postato.failed', results.length - done);
}

module.exports = { enabled, track, observed, published, publishedMany };
