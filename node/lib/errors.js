'use strict';
/**
 * Errors raised by postato: real subclasses of PostatoError (itself an Error), each with
 * `name` set to its class name and `kind`, `status`, `body`, `attempts`, `retryAfterMs`,
 * `field` where they apply, and the answer's `headers` (lowercase names) and `requestId`.
 * Messages never contain the API key.
 */

class PostatoError extends Error {
  constructor(message, fields = {}) {
    super(message);
    this.name = new.target.name;
    this.kind = fields.kind ?? new.target.kind ?? 'error';
    this.status = fields.status ?? null;
    this.body = parseBody(fields.body);
    this.attempts = fields.attempts ?? 0;
    this.retryAfterMs = fields.retryAfterMs ?? null;
    this.field = fields.field ?? null;
    this.headers = Object.freeze({ ...(fields.headers ?? {}) });
    this.requestId = fields.requestId ?? null;
  }
}

function parseBody(body) {
  if (typeof body !== 'string') return body ?? null;
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
}

function errorClass(name, kind, base = PostatoError) {
  const cls = { [name]: class extends base {} }[name];
  cls.kind = kind;
  return cls;
}

const InvalidPostError = errorClass('InvalidPostError', 'invalid_input');
/** A setting is missing or invalid (an option, the API key, an untrusted certificate); nothing was sent. */
const InvalidSettingError = errorClass('InvalidSettingError', 'invalid_input');
const PermanentPostError = errorClass('PermanentPostError', 'permanent');
const IdempotencyConflictError = errorClass('IdempotencyConflictError', 'idempotency_conflict');
const BusinessKeyReusedError = errorClass('BusinessKeyReusedError', 'business_key_reused');
const TransientPostError = errorClass('TransientPostError', 'transient');
const RateLimitedError = errorClass('RateLimitedError', 'rate_limited');
const DeadlineExceededError = errorClass('DeadlineExceededError', 'deadline');
const InvalidResponseError = errorClass('InvalidResponseError', 'invalid_response');
const PublishCancelledError = errorClass('PublishCancelledError', 'cancelled');
const OutcomeUnknownError = errorClass('OutcomeUnknownError', 'outcome_unknown');

/**
 * A Publisher's post whose rate limit holds longer than it waits: kept in the store as deferred
 * until `retryAt` (a Date; `retryAfterMs` from now), not dead-lettered, and nothing is sent for
 * it before then. Publish it again after that time, or call `publisher.publishDue()`.
 */
class DeferredError extends PostatoError {
  constructor(message, fields = {}) {
    super(message, fields);
    this.retryAt = fields.retryAtMs == null ? null : new Date(fields.retryAtMs);
  }
}
DeferredError.kind = 'deferred';

const BY_KIND = Object.fromEntries(
  [
    InvalidPostError,
    PermanentPostError,
    IdempotencyConflictError,
    BusinessKeyReusedError,
    TransientPostError,
    RateLimitedError,
    DeadlineExceededError,
    InvalidResponseError,
    PublishCancelledError,
    OutcomeUnknownError,
    DeferredError,
  ].map((cls) => [cls.kind, cls]),
);

/** Turns an error from the addon into its class; anything else passes through. */
function fromNative(error) {
  if (!(error instanceof Error) || !error.message.startsWith('{')) return error;
  let info;
  try {
    info = JSON.parse(error.message);
  } catch {
    return error;
  }
  if (info?.postato !== true) return error;
  return fromInfo(info);
}

/** The error a native error's fields describe (`{ postato: true, kind, message, … }`). */
function fromInfo(info) {
  const cls = info.setting ? InvalidSettingError : (BY_KIND[info.kind] ?? PostatoError);
  return new cls(info.message, info);
}

function invalid(field, message) {
  return new InvalidPostError(`invalid post: ${field}: ${message}`, { field });
}

/** An error about a setting (an option of a client, a store, a publisher or a call). */
function invalidSetting(field, message) {
  return new InvalidSettingError(`invalid setting: ${field}: ${message}`, { field });
}

module.exports = {
  fromInfo,
  invalidSetting,
  PostatoError,
  InvalidPostError,
  InvalidSettingError,
  PermanentPostError,
  IdempotencyConflictError,
  BusinessKeyReusedError,
  TransientPostError,
  RateLimitedError,
  DeadlineExceededError,
  InvalidResponseError,
  PublishCancelledError,
  OutcomeUnknownError,
  DeferredError,
  fromNative,
  invalid,
};
