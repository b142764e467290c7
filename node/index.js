'use strict';
/**
 * postato: retry-safe publishing to the Postato API. Never double-posts, never loses a post.
 * Every retry rule lives in the Rust core; this wrapper converts types and errors and wires
 * AbortSignal to cancellation.
 */
const util = require('node:util');
const native = require('./native.js');
const errors = require('./lib/errors');
const telemetry = require('./lib/telemetry');
const { postJson, refuseUnknown, settingNumber, wellFormed } = require('./lib/wire');

const { fromNative, invalid, invalidSetting } = errors;
let nextCancelId = 1;

/**
 * What an aborted publish rejects with: the signal's reason, as fetch does (an `AbortError`
 * from `abort()`, a `TimeoutError` from `AbortSignal.timeout()`, or whatever `abort(reason)`
 * was given); an `AbortError` when it has none.
 */
function abortError(signal) {
  return signal.reason ?? new DOMException('The publish was aborted', 'AbortError');
}

/**
 * Runs `publish(cancelId)` with `signal` wired to `cancel(cancelId)`. The native `publish`
 * registers `cancelId` before it returns its promise, so an abort on the line right after
 * `client.publish(...)` still cancels the publish.
 */
async function withSignal(signal, publish, cancel, convert = (p) => new Post(p)) {
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalid('signal', 'must be an AbortSignal');
  if (signal?.aborted) throw abortError(signal);
  const id = nextCancelId++;
  const onAbort = () => cancel(id);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return convert(await publish(id));
  } catch (error) {
    if (signal?.aborted) throw abortError(signal);
    throw fromNative(error);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/** The client's bounded settings by their Node names, from the settings table in Rust. */
const CLIENT_SETTINGS = native.clientSettings();

/** The options each constructor and call takes; any other is refused by name. */
const CLIENT_OPTIONS = [
  'onRetry',
  'logger',
  'apiKey',
  'workspaceId',
  'baseUrl',
  'caBundle',
  'defaultHeaders',
  'proxy',
  ...CLIENT_SETTINGS,
  'fastForwardWaits',
];

/** `options`, or `{}` when left out; anything else that is not an object is refused. */
function optionsObject(options, name) {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw invalidSetting(name, 'must be an object of options');
  }
  return options;
}

/** The levels of POSTATO_LOG (as for the CLI), most severe first. */
const LOG_LEVELS = ['error', 'warn', 'info', 'debug', 'trace'];

/**
 * The logger POSTATO_LOG asks for (`error`, `warn`, `info`, `debug` or `trace`): lines on
 * stderr at that level and above; `null` when it is unset. A tracing filter such as
 * `postato=debug` is read for its level.
 */
function loggerFromEnv() {
  const name = native.logLevel();
  if (name === null || name === undefined || name === 'off') return null;
  const level = LOG_LEVELS.indexOf(name === 'warning' ? 'warn' : name);
  if (level < 0) {
    process.emitWarning(
      `POSTATO_LOG gives level ${JSON.stringify(name)}, which is not one: use error, warn, info, debug or trace`,
    );
    return null;
  }
  const line = (at) => (message, fields) =>
    LOG_LEVELS.indexOf(at) <= level &&
    process.stderr.write(
      `${new Date().toISOString()} ${at.toUpperCase()} postato: ${message} ${JSON.stringify(fields)}\n`,
    );
  return { error: line('error'), warn: line('warn'), info: line('info'), debug: line('debug') };
}

/**
 * The native client's event listener for `onRetry` and `logger` (a console-like object:
 * `info` for retries, `warn` for failed publishes and posts scheduled in the past), or
 * `undefined` when neither is wanted.
 * A hook or logger that throws is reported with `process.emitWarning`; the publish goes on.
 */
function eventListener(onRetry, logger) {
  if (onRetry === undefined && logger === undefined) return undefined;
  const warn = (error) =>
    process.emitWarning(`postato: an onRetry hook or logger threw (the publish goes on): ${error}`);
  // A hook that returns a promise (an async function) is not awaited; its rejection is a
  // warning like a throw, never an unhandled rejection that ends the process.
  const settle = (returned) => {
    if (returned !== null && typeof returned?.then === 'function') Promise.resolve(returned).catch(warn);
  };
  return (json) => {
    const event = JSON.parse(json);
    try {
      if (event.event === 'retry') {
        const { businessKey, attempt, delayMs, reason, status } = event;
        const retry = Object.freeze({ businessKey, attempt, delayMs, reason, status: status ?? null });
        settle(logger?.info?.(`retrying ${businessKey}: attempt ${attempt} in ${delayMs} ms (${reason})`, retry));
        settle(onRetry?.(retry));
      } else if (event.event === 'notice') {
        settle(logger?.warn?.(event.message, { businessKey: event.businessKey }));
      } else {
        const { businessKey, attempts, kind } = event;
        settle(
          logger?.warn?.(`publish of ${businessKey} failed after ${attempts} attempt(s): ${kind}`, {
            businessKey,
            attempts,
            kind,
          }),
        );
      }
    } catch (error) {
      warn(error);
    }
  };
}

/** `options` without the entries left out (`undefined` or `null`), so they do not hide defaults. */
function definedOptions(options) {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined && value !== null));
}

/** The options of one publish (`deadlineMs`, `maxAttempts`, `timeoutMs`), from the settings table in Rust. */
const CALL_SETTINGS = native.callSettings();

/**
 * The per-call options given in `options`, as the addon takes them: `[name, number]` pairs,
 * type-checked by name (the bounds are Rust's).
 */
function callOptions(options) {
  return CALL_SETTINGS.map((name) => [name, settingNumber(name, options[name])]).filter(
    ([, value]) => value !== undefined,
  );
}

/**
 * `defaultHeaders` (an object, a `Headers` or a `Map` of names to values) as `[name, value]`
 * pairs; only the types are checked here (the names postato refuses are Rust's to name).
 */
function headerPairs(headers) {
  if (headers === undefined || headers === null) return undefined;
  const entries =
    headers instanceof Map || (typeof Headers !== 'undefined' && headers instanceof Headers)
      ? [...headers.entries()]
      : typeof headers === 'object' && !Array.isArray(headers)
        ? Object.entries(headers)
        : null;
  if (entries === null) {
    throw invalidSetting(
      'defaultHeaders',
      'must be an object of header names to values, such as { "X-Team": "growth" }',
    );
  }
  for (const [name, value] of entries) {
    if (typeof name !== 'string' || typeof value !== 'string') {
      throw invalidSetting(
        'defaultHeaders',
        `${JSON.stringify(String(name))}: header names and values must be strings`,
      );
    }
  }
  return entries;
}

/** A published post. */
class Post {
  constructor(p) {
    this.id = p.id;
    this.status = p.status;
    this.idempotencyKey = p.idempotencyKey;
    this.attempts = p.attempts;
    this.replayed = p.replayed;
    this.requestId = p.requestId ?? null;
    this.fromStore = p.fromStore;
    Object.freeze(this);
  }
}

/** Publishes posts to one workspace. Its inspect output never shows the API key. */
/** The constructor's argument that makes a `withOptions` copy: its native client and options. */
const SHARE = Symbol('share');

class Client {
  #native;
  /** Options of every publish this client makes (`withOptions`); a publish's own win. */
  #call = {};

  /**
   * `apiKey`, `workspaceId`, `baseUrl` and `caBundle` left out are read from POSTATO_API_KEY,
   * POSTATO_WORKSPACE_ID, POSTATO_BASE_URL and POSTATO_CA_BUNDLE (an option wins; a variable
   * set but empty is an error). `defaultHeaders` are sent with every request (a `User-Agent`
   * goes before postato's; `Authorization`, `Idempotency-Key` and `Content-Type` are postato's
   * and refused); `proxy` sends every request through a proxy (else `HTTPS_PROXY`/`HTTP_PROXY`).
   * `onRetry(event)` is called before each retry; `logger` (console-like) gets each
   * retry (`info`), failed publish and post scheduled in the past (`warn`); with neither,
   * POSTATO_LOG picks a stderr logger.
   */
  constructor(options = {}) {
    if (options?.[SHARE]) {
      [this.#native, this.#call] = options[SHARE];
      return;
    }
    if (options === null || typeof options !== 'object' || Array.isArray(options))
      throw invalidSetting('options', 'must be an object of Client options');
    refuseUnknown(options, CLIENT_OPTIONS, 'a Client option', invalidSetting);
    for (const name of ['apiKey', 'workspaceId']) {
      if (options[name] === undefined || options[name] === null) continue;
      if (typeof options[name] !== 'string') throw invalidSetting(name, 'must be a string');
      wellFormed(name, options[name], invalidSetting);
    }
    const onRetry = options.onRetry ?? undefined;
    if (onRetry !== undefined && typeof onRetry !== 'function') {
      throw invalidSetting('onRetry', 'must be a function');
    }
    if (options.logger !== undefined && options.logger !== null && typeof options.logger !== 'object') {
      throw invalidSetting('logger', 'must be an object with info and warn methods, such as console');
    }
    const logger = options.logger ?? loggerFromEnv() ?? undefined;
    for (const name of ['baseUrl', 'caBundle', 'proxy']) {
      if (options[name] !== undefined && options[name] !== null && typeof options[name] !== 'string') {
        throw invalidSetting(name, 'must be a string');
      }
    }
    try {
      this.#native = new native.NativeClient(
        {
          apiKey: options.apiKey ?? undefined,
          workspaceId: options.workspaceId ?? undefined,
          baseUrl: options.baseUrl ?? undefined,
          caBundle: options.caBundle ?? undefined,
          defaultHeaders: headerPairs(options.defaultHeaders),
          proxy: options.proxy ?? undefined,
          metrics: telemetry.enabled,
          settings: CLIENT_SETTINGS.map((name) => [name, settingNumber(name, options[name])]).filter(
            ([, value]) => value !== undefined,
          ),
          fastForwardWaits: Boolean(options.fastForwardWaits),
          language: `node/${process.versions.node}`,
        },
        eventListener(onRetry, logger),
      );
    } catch (error) {
      throw fromNative(error);
    }
    if (telemetry.enabled) telemetry.track(this.#native);
  }

  /**
   * @internal `call()` in a span `name` about `subject` (attributes), when the application
   * traces (`lib/telemetry.js`).
   */
  _observed(name, subject, call, settled, signal) {
    const attributes = () => ({ 'postato.workspace_id': this.workspaceId, ...subject });
    return telemetry.observed(name, attributes, call, settled, signal);
  }

  get workspaceId() {
    return this.#native.workspaceId;
  }

  get baseUrl() {
    return this.#native.baseUrl;
  }

  /**
   * This client with options of its own for every publish it makes (`deadlineMs`,
   * `maxAttempts`, `timeoutMs`), checked now by the rules of the client's settings of the
   * same names; a publish's own options win. It shares the connection pool, the rate-limit
   * gates (one per account, one for the workspace) and the retry budget:
   * `client.withOptions({ deadlineMs: 5000 }).publish(post)`.
   */
  withOptions(options) {
    options = optionsObject(options, 'options');
    refuseUnknown(options, CALL_SETTINGS, 'an option of Client.withOptions', invalidSetting);
    const call = { ...this.#call, ...definedOptions(options) };
    try {
      native.checkCallOptions(callOptions(call));
    } catch (error) {
      throw fromNative(error);
    }
    return new Client({ [SHARE]: [this.#native, call] });
  }

  /**
   * Publishes one post; an aborted `signal` rejects with its reason and nothing is retried
   * after. `deadlineMs`, `maxAttempts` and `timeoutMs` are this publish's own (checked as the
   * client's).
   */
  async publish(post, options = {}) {
    const wire = postJson(post);
    options = optionsObject(options, 'options');
    refuseUnknown(options, ['signal', ...CALL_SETTINGS], 'an option of Client.publish', invalidSetting);
    const call = callOptions({ ...this.#call, ...definedOptions(options) });
    const publish = () =>
      withSignal(
        options.signal,
        (id) => this.#native.publish(wire, id, call),
        (id) => this.#native.cancel(id),
      );
    const subject = { 'postato.business_key': post.businessKey };
    return this._observed('postato.publish', subject, publish, telemetry.published, options.signal);
  }

  /**
   * Publishes every post, `concurrency` at once (default `DEFAULTS.concurrency`), each as
   * `publish` would, sharing this client's rate-limit gates and retry budget. Resolves to one
   * entry per post, in input order, shaped as `Promise.allSettled`'s:
   * `{ status: 'fulfilled', value: Post }` or `{ status: 'rejected', reason: PostatoError }`;
   * one post's failure never rejects the call. An aborted `signal` rejects with its reason:
   * the posts in flight stop and no more are sent (those already published stay published,
   * and publishing the same list again is safe).
   */
  async publishMany(posts, options = {}) {
    return publishMany(this, posts, options, {
      what: 'Client.publishMany',
      call: this.#call,
      start: (wires, concurrency, id, call) => this.#native.publishMany(wires, concurrency, id, call),
      cancel: (id) => this.#native.cancel(id),
    });
  }

  /** @internal */
  get _native() {
    return this.#native;
  }

  /** @internal Whether this is a `withOptions` copy with options of its own. */
  get _hasCallOptions() {
    return Object.keys(this.#call).length > 0;
  }

  [util.inspect.custom]() {
    return `Client { workspaceId: ${JSON.stringify(this.workspaceId)}, baseUrl: ${JSON.stringify(this.baseUrl)} }`;
  }

  toJSON() {
    return { workspaceId: this.workspaceId, baseUrl: this.baseUrl };
  }
}

/**
 * A `publishMany` of `client` (its telemetry) through `native.start`: the posts checked and
 * converted here, each result shaped as `Promise.allSettled`'s entries.
 */
async function publishMany(client, posts, options, native) {
  if (!Array.isArray(posts)) throw invalid('posts', `must be an array of posts, got ${typeof posts}`);
  options = optionsObject(options, 'options');
  refuseUnknown(options, ['concurrency', 'signal', ...CALL_SETTINGS], `an option of ${native.what}`, invalidSetting);
  const concurrency = settingNumber('concurrency', options.concurrency);
  const call = callOptions({ ...native.call, ...definedOptions(options) });
  // Each post's JSON, or null where it does not convert (its own error stands in its place).
  const converted = posts.map((post) => {
    try {
      return { wire: postJson(post) };
    } catch (error) {
      return { wire: null, rejected: { status: 'rejected', reason: error } };
    }
  });
  const wires = converted.map(({ wire }) => wire);
  const publishAll = async () => {
    const entries = await withSignal(
      options.signal,
      (id) => native.start(wires, concurrency, id, call),
      native.cancel,
      JSON.parse,
    );
    // Aborted while the last posts were ending: the call still ends with the abort.
    if (options.signal?.aborted) throw abortError(options.signal);
    return entries.map((entry, i) => {
      if (entry === null) return converted[i].rejected;
      return entry.post !== undefined
        ? { status: 'fulfilled', value: new Post(entry.post) }
        : { status: 'rejected', reason: errors.fromInfo(entry.error) };
    });
  };
  const subject = { 'postato.posts': posts.length };
  return client._observed('postato.publish_many', subject, publishAll, telemetry.publishedMany, options.signal);
}

class Store {
  #native;

  constructor(makeNative) {
    try {
      this.#native = makeNative();
    } catch (error) {
      throw fromNative(error);
    }
  }

  /** @internal */
  get _native() {
    return this.#native;
  }

  async counts() {
    return JSON.parse(await this.#native.countsJson().catch((e) => Promise.reject(fromNative(e))));
  }

  async deadLetters(limit) {
    const checked = settingNumber('limit', limit);
    return JSON.parse(await this.#native.deadLettersJson(checked).catch((e) => Promise.reject(fromNative(e))));
  }

  async publishedId(businessKey) {
    return (await this.#native.publishedId(businessKey).catch((e) => Promise.reject(fromNative(e)))) ?? null;
  }
}

/** Results in one SQLite file: a restarted process skips what was published. */
class SqliteStore extends Store {
  constructor(path) {
    if (typeof path !== 'string') {
      throw invalidSetting('path', `must be a file path (a string), got ${path === null ? 'null' : typeof path}`);
    }
    wellFormed('path', path, invalidSetting);
    super(() => new native.NativeStore(path));
    this.path = path;
  }
}

/** Results in memory, for tests and short-lived processes. */
class MemoryStore extends Store {
  constructor() {
    super(() => new native.NativeStore(undefined));
  }
}

/**
 * Results, dead letters and claims in PostgreSQL, shared by many workers: each post is claimed
 * by one of them, so a campaign is published exactly once however many processes run it.
 */
class PostgresStore extends Store {
  constructor(url, options = {}) {
    if (typeof url !== 'string' || !/^postgres(ql)?:\/\//.test(url)) {
      throw invalidSetting('url', 'must be a postgres:// URL');
    }
    options = optionsObject(options, 'options');
    refuseUnknown(options, ['poolSize'], 'a PostgresStore option', invalidSetting);
    const poolSize = settingNumber('poolSize', options.poolSize);
    super(() => native.NativeStore.postgres(url, poolSize));
    // The URL without its password, for display.
    this.url = url.replace(/^(postgres(?:ql)?:\/\/[^:@/]+):[^@/]*@/, '$1:***@');
  }
}

/**
 * A client with a result store: skips what was published, records results, defers or
 * dead-letters failures, and publishes many posts as a resumable batch.
 */
class Publisher {
  #native;

  /** `options.keyRetentionMs`: how long the API keeps idempotency keys (default in docs/settings.md). */
  constructor(client, store = new MemoryStore(), options = {}) {
    if (!(client instanceof Client)) throw invalidSetting('client', 'must be a Client');
    if (client._hasCallOptions) {
      throw invalidSetting(
        'client',
        "a Publisher publishes with its client's settings, and this client has per-call options (withOptions): " +
          `give the Publisher the client itself, and pass ${CALL_SETTINGS.join(', ')} to publish()`,
      );
    }
    if (!(store instanceof Store)) {
      throw invalidSetting('store', 'must be a SqliteStore, MemoryStore or PostgresStore');
    }
    options = optionsObject(options, 'options');
    refuseUnknown(options, ['keyRetentionMs'], 'a Publisher option', invalidSetting);
    this.client = client;
    this.store = store;
    try {
      const keyRetentionMs = settingNumber('keyRetentionMs', options.keyRetentionMs);
      this.#native = new native.NativePublisher(client._native, store._native, keyRetentionMs);
    } catch (error) {
      throw fromNative(error);
    }
  }

  /**
   * Publishes unless the store has it; `force` sends a post whose earlier send's outcome is
   * unknown; `deadlineMs`, `maxAttempts` and `timeoutMs` are this publish's own.
   */
  async publish(post, options = {}) {
    const wire = postJson(post);
    options = optionsObject(options, 'options');
    refuseUnknown(options, ['signal', 'force', ...CALL_SETTINGS], 'an option of Publisher.publish', invalidSetting);
    const force = options.force === true;
    const call = callOptions(options);
    const publish = () =>
      withSignal(
        options.signal,
        (id) => this.#native.publish(wire, id, force, call),
        (id) => this.#native.cancel(id),
      );
    const subject = { 'postato.business_key': post.businessKey };
    return this.client._observed('postato.publish', subject, publish, telemetry.published, options.signal);
  }

  /**
   * Publishes every post through the store, `concurrency` at once, each as `publish` would
   * (claimed, then recorded, deferred or dead-lettered), with `Client.publishMany`'s options
   * and results. Running the same posts again resumes: what was published comes from the
   * store (`fromStore`) and nothing is sent for it. The first post of a business key wins: the
   * same post again shares its outcome, another post under its key is rejected with
   * `BusinessKeyReusedError`. An aborted `signal` rejects with its reason; every claim is
   * released.
   */
  async publishMany(posts, options = {}) {
    return publishMany(this.client, posts, options, {
      what: 'Publisher.publishMany',
      call: {},
      start: (wires, concurrency, id, call) => this.#native.publishMany(wires, concurrency, id, call),
      cancel: (id) => this.#native.cancel(id),
    });
  }

  /**
   * Publishes the store's deferred posts whose time has come (`options.concurrency` at once,
   * default `DEFAULTS.concurrency`); the others stay deferred and nothing is sent for them.
   * Call it from a timer, or at the report's `nextDue`.
   */
  async publishDue(options = {}) {
    options = optionsObject(options, 'options');
    refuseUnknown(options, ['concurrency'], 'an option of Publisher.publishDue', invalidSetting);
    const concurrency = settingNumber('concurrency', options.concurrency);
    const due = () => this.#native.publishDueJson(concurrency).catch((e) => Promise.reject(fromNative(e)));
    const report = JSON.parse(await this.client._observed('postato.publish_due', {}, due));
    const { nextDueMs, ...counts } = report;
    return { ...counts, nextDue: nextDueMs == null ? null : new Date(nextDueMs) };
  }
}

/**
 * Every ClientOptions default, as the Rust client defines them (times in ms); an option left
 * out takes its default.
 */
const DEFAULTS = Object.freeze(JSON.parse(native.clientDefaultsJson()));

/** The idempotency key of a business key: the first 32 hex characters of its SHA-256. */
function idempotencyKey(businessKey) {
  if (typeof businessKey !== 'string') throw invalid('businessKey', `must be a string, got ${typeof businessKey}`);
  wellFormed('businessKey', businessKey);
  try {
    return native.idempotencyKey(businessKey);
  } catch (error) {
    throw fromNative(error);
  }
}

module.exports = {
  Client,
  outbox: require('./lib/outbox'),
  Publisher,
  SqliteStore,
  MemoryStore,
  PostgresStore,
  Post,
  idempotencyKey,
  DEFAULTS,
  version: native.version(),
  PostatoError: errors.PostatoError,
  InvalidPostError: errors.InvalidPostError,
  InvalidSettingError: errors.InvalidSettingError,
  PermanentPostError: errors.PermanentPostError,
  IdempotencyConflictError: errors.IdempotencyConflictError,
  BusinessKeyReusedError: errors.BusinessKeyReusedError,
  TransientPostError: errors.TransientPostError,
  RateLimitedError: errors.RateLimitedError,
  DeadlineExceededError: errors.DeadlineExceededError,
  InvalidResponseError: errors.InvalidResponseError,
  PublishCancelledError: errors.PublishCancelledError,
  OutcomeUnknownError: errors.OutcomeUnknownError,
  DeferredError: errors.DeferredError,
};
