// Uses every public name of the package; `tsc --noEmit --strict` must pass (CI runs it).

import type {
  ClientOptions,
  DeadLetter,
  ErrorKind,
  Logger,
  PostInput,
  PostStatus,
  PostType,
  PublishOptions,
  RetryEvent,
  StoreCounts,
  ThreadItem,
} from 'postato';
import {
  BusinessKeyReusedError,
  Client,
  DeadlineExceededError,
  IdempotencyConflictError,
  InvalidPostError,
  InvalidResponseError,
  idempotencyKey,
  MemoryStore,
  PermanentPostError,
  type Post,
  type PostatoError,
  PostgresStore,
  PublishCancelledError,
  Publisher,
  RateLimitedError,
  SqliteStore,
  TransientPostError,
  version,
} from 'postato';
import type { Faults, ScriptAction, SimulatorStats } from 'postato/testing';
import { DEFAULT_API_KEY, Simulator } from 'postato/testing';

function describe(error: PostatoError): string {
  const kind: ErrorKind | 'error' = error.kind;
  const status: number | null = error.status;
  const retry: number | null = error.retryAfterMs;
  const requestId: string | null = error.requestId;
  const headers: Readonly<Record<string, string>> = error.headers;
  return `${error.name} ${kind} ${status} ${error.attempts} ${retry} ${error.field} ${JSON.stringify(error.body)} ${requestId} ${headers['x-request-id']}`;
}

async function main(): Promise<void> {
  const faults: Faults = { serverError: 0.1 };
  const sim = await Simulator.start({
    faults,
    seed: 1,
    rateLimit: { ratePerSecond: 100, burst: 10 },
    apiKeys: [DEFAULT_API_KEY],
  });
  const script: ScriptAction[] = [{ action: 'respond', status: 500 }, { action: 'ok' }];
  sim.script('draft-1', script);
  const options: ClientOptions = {
    apiKey: sim.apiKey,
    workspaceId: 'ws',
    baseUrl: sim.baseUrl,
    maxAttempts: 5,
    timeoutMs: 30_000,
    backoffBaseMs: 500,
    backoffCapMs: 30_000,
    deadlineMs: 60_000,
    onRetry: (event: RetryEvent) => console.log(event.businessKey, event.attempt, event.delayMs, event.status),
    logger: console satisfies Logger,
    defaultHeaders: { 'X-Team': 'growth' },
    proxy: null,
  };
  const client = new Client(options);
  const fromEnv = new Client(); // POSTATO_API_KEY, POSTATO_WORKSPACE_ID, POSTATO_BASE_URL
  const postType: PostType = 'story';
  // tsc fails on an unused @ts-expect-error: were these types loosened, these lines would fail.
  // @ts-expect-error a status the API does not know
  const wrongStatus: PostStatus = 'now';
  // @ts-expect-error a thread item has no alt
  const wrongItem: ThreadItem = { text: 'x', alt: 'y' };
  console.log(wrongStatus, wrongItem);
  const thread: ThreadItem[] = [{ text: 'one', media: [{ id: 'm1' }] }, { text: 'two' }];
  const status: PostStatus = 'scheduled';
  const input: PostInput = {
    businessKey: 'draft-1',
    platform: 'x',
    accountId: 'acc',
    status,
    postType: 'thread',
    content: thread,
    scheduledAt: new Date(),
  };
  const controller = new AbortController();
  const publishOptions: PublishOptions = {
    signal: controller.signal,
    deadlineMs: 5_000,
    maxAttempts: 2,
    timeoutMs: 1_000,
  };
  console.log(fromEnv.workspaceId, postType);
  const urgent: Client = client.withOptions({ timeoutMs: 2_000 });
  // @ts-expect-error withOptions takes only per-call options
  client.withOptions({ backoffBaseMs: 5 });
  const post: Post = await urgent.publish(input, publishOptions);
  const fields: [string, string, string, number, boolean, boolean] = [
    post.id,
    post.status,
    post.idempotencyKey,
    post.attempts,
    post.replayed,
    post.fromStore,
  ];
  const publisher = new Publisher(client, new SqliteStore('posts.db'));
  await publisher.publish({ businessKey: 'draft-2', platform: 'x', accountId: 'acc', content: 'hi' });
  const counts: StoreCounts = await publisher.store.counts();
  const letters: DeadLetter[] = await new MemoryStore().deadLetters(10);
  const id: string | null = await publisher.store.publishedId('draft-2');
  const shared = new Publisher(client, new PostgresStore('postgres://postato@127.0.0.1:5432/postato', { poolSize: 4 }));
  const url: string = (shared.store as PostgresStore).url;
  const stats: SimulatorStats = sim.stats();
  const once: number = sim.publishes('draft-1');
  sim.setFaults({ serverError: 0 });
  sim.setRateLimit(null);
  sim.outage(0);
  sim.reset();
  await sim.stop();
  const errors: PostatoError[] = [
    new InvalidPostError('x'),
    new PermanentPostError('x'),
    new IdempotencyConflictError('x'),
    new BusinessKeyReusedError('x'),
    new TransientPostError('x'),
    new RateLimitedError('x'),
    new DeadlineExceededError('x'),
    new InvalidResponseError('x'),
    new PublishCancelledError('x'),
  ];
  console.log(
    idempotencyKey('draft-1'),
    version,
    fields,
    counts,
    letters,
    id,
    stats.platformPublishes,
    once,
    errors.map(describe),
    client.toJSON(),
    url,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
