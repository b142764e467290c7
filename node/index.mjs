// ESM entry point: the same objects as the CommonJS one.
import postato from './index.js';

export const {
  Client,
  outbox,
  Publisher,
  SqliteStore,
  MemoryStore,
  PostgresStore,
  Post,
  idempotencyKey,
  DEFAULTS,
  version,
  PostatoError,
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
} = postato;
export default postato;
