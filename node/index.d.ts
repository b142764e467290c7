/** postato: retry-safe publishing to the Postato API. Never double-posts, never loses a post. */

/** Client settings; every one left out takes its default from `DEFAULTS`. Times in ms. */
export interface ClientOptions {
  /** Default: POSTATO_API_KEY. */
  apiKey?: string | null;
  /** Default: POSTATO_WORKSPACE_ID. */
  workspaceId?: string | null;
  /** Called before each retry (on Node's thread); a hook that throws does not fail the publish. */
  onRetry?: (event: RetryEvent) => void;
  /**
   * Gets each retry (`info`), failed publish and post scheduled in the past (`warn`); `console`
   * works. Default: per POSTATO_LOG.
   */
  logger?: Logger;
  /** Default: POSTATO_BASE_URL, else the production API. Plain http:// only for loopback hosts. */
  baseUrl?: string | null;
  /**
   * A file of CA certificates (PEM) trusted beside the built-in roots and SSL_CERT_FILE: your
   * company's CA, when a proxy inspects TLS. Default: POSTATO_CA_BUNDLE, else none.
   */
  caBundle?: string | null;
  /**
   * Headers sent with every request (a tenant or tracing header of your own); a `User-Agent`
   * goes before postato's. `Authorization`, `Idempotency-Key` and `Content-Type` are postato's
   * and refused, as are headers that frame a request and its body (`Host`, `Content-*`).
   * postato's own errors and inspect output never show a value (unlike the API key, a value a
   * server echoes back is not removed from its answer).
   */
  defaultHeaders?: Record<string, string> | Map<string, string> | Headers | null;
  /**
   * A proxy for every request (`http://` or `https://`, credentials in the URL, never shown),
   * NO_PROXY notwithstanding. Default: HTTPS_PROXY, HTTP_PROXY and NO_PROXY.
   */
  proxy?: string | null;
  /** Attempts that may end in a retryable failure (429s excluded). */
  maxAttempts?: number;
  /** The limit on one attempt. */
  timeoutMs?: number;
  /** The first backoff; each retryable failure doubles it. */
  backoffBaseMs?: number;
  /** The largest backoff, before jitter. */
  backoffCapMs?: number;
  /** A limit on the whole publish, waits included. Default none. */
  deadlineMs?: number;
  /** The limit on connecting. */
  connectTimeoutMs?: number;
  /** 429 waits one publish may make. */
  maxRateLimitWaits?: number;
  /** A wait (Retry-After, shared hold) longer than this ends the publish with RateLimitedError. */
  maxRetryAfterMs?: number;
  /** For tests: waits advance a virtual clock instead of sleeping. */
  fastForwardWaits?: boolean;
}

/** What `onRetry` is told before each retry. */
export interface RetryEvent {
  readonly businessKey: string;
  /** The attempt that follows the wait (2 for the first retry). */
  readonly attempt: number;
  readonly delayMs: number;
  /** Why, as the logs say it (`the server answered 503`, …). */
  readonly reason: string;
  /** The HTTP status behind the retry, when the server answered. */
  readonly status: number | null;
}

/** A console-like logger. */
export interface Logger {
  info(message: string, fields: object): void;
  warn(message: string, fields: object): void;
}

/** The defaults of every ClientOptions setting, from the Rust client (times in ms). */
export declare const DEFAULTS: Readonly<{
  baseUrl: string;
  maxAttempts: number;
  timeoutMs: number;
  connectTimeoutMs: number;
  backoffBaseMs: number;
  backoffCapMs: number;
  deadlineMs: number | null;
  maxRateLimitWaits: number;
  maxRetryAfterMs: number;
  /** Posts in flight at once in `publishMany`. */
  concurrency: number;
}>;

export interface ThreadItem {
  text: string;
  media?: Array<{ id: string }>;
}

export type PostStatus = 'publish' | 'scheduled' | 'draft';

/** The kind of post on the network: the usual ones spelled out, any other the network knows. */
export type PostType = 'post' | 'thread' | 'story' | 'reel' | 'article' | (string & {});

export interface PostInput {
  /** Your stable id for this logical post; the idempotency key derives from it. */
  businessKey: string;
  platform: string;
  accountId: string;
  /**
   * Default: 'scheduled' when scheduledAt is given, else 'publish'. 'publish' with a
   * scheduledAt is refused (it would publish at once).
   */
  status?: PostStatus;
  /** Default 'post'. */
  postType?: PostType;
  content: string | ThreadItem[];
  /** When to publish (a Date, or RFC 3339 with a time zone); implies status 'scheduled'. */
  scheduledAt?: Date | string;
}

/** Options of one publish, over the client's settings of the same names (and checked by their rules). */
export interface CallOptions {
  /** A limit on this whole publish, waits included (over the client's `deadlineMs`). */
  deadlineMs?: number;
  /** Attempts that may end in a retryable failure, for this publish. */
  maxAttempts?: number;
  /** The limit on each attempt of this publish, from sending to the end of the response (over the client's `timeoutMs`). */
  timeoutMs?: number;
}

export interface PublishOptions extends CallOptions {
  /** Aborting rejects the publish with the signal's reason (an AbortError from `abort()`); nothing is retried after it. */
  signal?: AbortSignal;
}

export interface PublisherPublishOptions extends CallOptions {
  /** Aborting rejects the publish with the signal's reason (an AbortError from `abort()`); nothing is retried after it. */
  signal?: AbortSignal;
  /**
   * Send a post whose earlier send's outcome is unknown (OutcomeUnknownError): only after
   * checking that the post does not exist.
   */
  force?: boolean;
}

/** `CallOptions` apply to each post's publish. */
export interface PublishManyOptions extends CallOptions {
  /** Posts in flight at once (bounds in docs/settings.md). Default `DEFAULTS.concurrency`. */
  concurrency?: number;
  /** Aborting rejects with the signal's reason (an AbortError from `abort()`): posts in flight stop, no more are sent. */
  signal?: AbortSignal;
}

/** One post's outcome in `publishMany`, shaped as `Promise.allSettled`'s entries. */
export type PublishManyResult =
  | { status: 'fulfilled'; value: Post }
  | { status: 'rejected'; reason: PostatoError | Error };

/** A published post. */
export declare class Post {
  readonly id: string;
  readonly status: string;
  readonly idempotencyKey: string;
  readonly attempts: number;
  readonly replayed: boolean;
  /** The server's id for the request that published it (`X-Request-Id`); null when it sent none or the store answered. */
  readonly requestId: string | null;
  /** True when a Publisher answered from its store (no request was made). */
  readonly fromStore: boolean;
  private constructor();
}

export declare class Client {
  constructor(options?: ClientOptions);
  readonly workspaceId: string;
  readonly baseUrl: string;
  /**
   * This client with options of its own for every publish (checked now); a publish's own
   * options win. It shares the connection pool, the rate-limit gates and the retry budget.
   */
  withOptions(options: CallOptions): Client;
  publish(post: PostInput, options?: PublishOptions): Promise<Post>;
  /** Every post, `concurrency` at once; one entry per post, in input order; never rejects for one post. */
  publishMany(posts: PostInput[], options?: PublishManyOptions): Promise<PublishManyResult[]>;
  toJSON(): { workspaceId: string; baseUrl: string };
}

export interface StoreCounts {
  published: number;
  deadLetters: number;
  deadLettersByKind: Record<string, number>;
  /** Deferred posts (not dead letters: each is published once due). */
  deferred: number;
  /** When the first deferred post is due, in ms since the Unix epoch. */
  nextDueMs: number | null;
  /** When the last deferred post is due, in ms since the Unix epoch. */
  deferredUntilMs: number | null;
}

export interface DeadLetter {
  businessKey: string;
  kind: ErrorKind;
  status: number | null;
  message: string;
  body: string | null;
  attempts: number;
  failedAtMs: number;
  payload: string | null;
  line: number | null;
}

declare abstract class Store {
  counts(): Promise<StoreCounts>;
  deadLetters(limit?: number): Promise<DeadLetter[]>;
  publishedId(businessKey: string): Promise<string | null>;
}

export declare class SqliteStore extends Store {
  constructor(path: string);
  readonly path: string;
}

export declare class MemoryStore extends Store {
  constructor();
}

/** Shared by many workers: each post is claimed by one of them. Connects on first use. */
export declare class PostgresStore extends Store {
  constructor(url: string, options?: { poolSize?: number });
  /** The URL without its password. */
  readonly url: string;
}

export declare class Publisher {
  /**
   * `keyRetentionMs`: how long the API keeps idempotency keys (default in docs/settings.md). A post sent
   * longer ago whose outcome was never recorded rejects with OutcomeUnknownError instead of
   * being sent again.
   */
  constructor(client: Client, store?: SqliteStore | MemoryStore | PostgresStore, options?: { keyRetentionMs?: number });
  readonly client: Client;
  readonly store: SqliteStore | MemoryStore | PostgresStore;
  /** Publishes unless the store has it (then `fromStore` is true and nothing is sent). */
  publish(post: PostInput, options?: PublisherPublishOptions): Promise<Post>;
  /**
   * Every post through the store, `concurrency` at once, as `publish` would: a resumable batch
   * (what was published comes from the store), where the first post of a business key wins.
   * One entry per post, in input order; never rejects for one post.
   */
  publishMany(posts: PostInput[], options?: PublishManyOptions): Promise<PublishManyResult[]>;
  /** Publishes the store's deferred posts whose time has come; the others stay deferred. */
  publishDue(options?: { concurrency?: number }): Promise<DueReport>;
}

export declare function idempotencyKey(businessKey: string): string;
export declare const version: string;

export type ErrorKind =
  | 'invalid_input'
  | 'permanent'
  | 'idempotency_conflict'
  | 'business_key_reused'
  | 'rate_limited'
  | 'transient'
  | 'deadline'
  | 'invalid_response'
  | 'cancelled'
  | 'outcome_unknown'
  | 'deferred';

export declare class PostatoError extends Error {
  readonly kind: ErrorKind | 'error';
  readonly status: number | null;
  /** The response body, parsed as JSON when it is JSON. */
  readonly body: unknown;
  readonly attempts: number;
  readonly retryAfterMs: number | null;
  /** For InvalidPostError and InvalidSettingError: the invalid field or setting. */
  readonly field: string | null;
  /** The headers of the answer the error is about (lowercase names; empty when none is behind it). */
  readonly headers: Readonly<Record<string, string>>;
  /** The server's id of that answer (X-Request-Id): quote it when reporting a problem. */
  readonly requestId: string | null;
}
export declare class InvalidPostError extends PostatoError {}
/** A setting is missing or invalid (an option, the API key, an untrusted certificate); nothing was sent. */
export declare class InvalidSettingError extends PostatoError {}
export declare class PermanentPostError extends PostatoError {}
export declare class IdempotencyConflictError extends PostatoError {}
export declare class BusinessKeyReusedError extends PostatoError {}
export declare class TransientPostError extends PostatoError {}
export declare class RateLimitedError extends PostatoError {}
export declare class DeadlineExceededError extends PostatoError {}
export declare class InvalidResponseError extends PostatoError {}
export declare class PublishCancelledError extends PostatoError {}
/** Sent longer ago than the server keeps idempotency keys, outcome never recorded: not sent again. Check, then publish with `{ force: true }`. */
export declare class OutcomeUnknownError extends PostatoError {}
/**
 * A Publisher's post whose rate limit holds longer than it waits: kept in the store as deferred
 * until `retryAt`, not dead-lettered, and nothing is sent for it before then.
 */
export declare class DeferredError extends PostatoError {
  readonly retryAt: Date | null;
}

/** What `Publisher.publishDue` did. */
export interface DueReport {
  /** Due posts published now (or found published). */
  published: number;
  /** Due posts that failed (dead-lettered). */
  failed: number;
  /** Posts still deferred: not due yet, or deferred again. */
  deferred: number;
  /** When the next of them is due. */
  nextDue: Date | null;
}

/** What an outbox enqueue did. */
export type Enqueued = 'enqueued' | 'already_enqueued';

/** Anything with pg's `query(text, values)`: a `Client`, or a `PoolClient` from `pool.connect()`. */
export interface QueryClient {
  query(text: string, values: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

/**
 * The transactional outbox: a post enqueued inside your transaction is published by `postato
 * worker` once it commits, never if it rolls back. Another post under an enqueued business key
 * rejects with `BusinessKeyReusedError` (and PostgreSQL aborts the transaction).
 */
export declare const outbox: {
  enqueue(client: QueryClient, post: PostInput, options?: { notBefore?: Date }): Promise<Enqueued>;
};
