/** A test kit: the Rust simulator of the Postato API, in-process on 127.0.0.1. */

export interface Faults {
  serverError?: number;
  rateLimited?: number;
  resetBefore?: number;
  dropAfterCommit?: number;
  slowCommit?: number;
  slowCommitMs?: number;
  latency?: number;
  latencyMs?: number;
}

export interface SimulatorOptions {
  apiKeys?: string[];
  faults?: Faults;
  rateLimit?: { ratePerSecond: number; burst: number } | null;
  /** A token bucket per account (the post's `platform/accountId`). */
  accountRateLimit?: { ratePerSecond: number; burst: number } | null;
  /** At most `limit` requests per account per window. */
  accountQuota?: { limit: number; windowMs: number } | null;
  /** Accounts (`platform/accountId`) answered 429 for this many seconds from the start. */
  spentAccounts?: Record<string, number>;
  seed?: number;
  requireIdempotencyKey?: boolean;
}

export type ScriptAction =
  | { action: 'ok' }
  | { action: 'respond'; status: number; headers?: Record<string, string>; body?: unknown; bodyText?: string }
  | { action: 'reset' }
  | { action: 'dropAfterCommit' }
  | { action: 'slowCommit'; ms: number }
  | { action: 'hang'; ms: number }
  | { action: 'latency'; ms: number };

export interface SimulatorStats {
  requests: number;
  byStatus: Record<number, number>;
  replays: number;
  inProgressConflicts: number;
  keyReusedConflicts: number;
  rateLimited: number;
  faultsInjected: number;
  resets: number;
  dropsAfterCommit: number;
  slowCommits: number;
  /** Genuine publishes: the ground truth. */
  platformPublishes: number;
  publishedKeys: number;
  /** Keys published more than once: must stay empty. */
  duplicateKeys: string[];
}

export declare class Simulator {
  static start(options?: SimulatorOptions): Promise<Simulator>;
  readonly baseUrl: string;
  readonly apiKey: string;
  stats(): SimulatorStats;
  publishes(businessKey: string): number;
  script(businessKey: string, actions: ScriptAction[]): void;
  setFaults(faults: Faults): void;
  setRateLimit(ratePerSecond: number | null, burst?: number): void;
  outage(durationMs: number, startInMs?: number): void;
  reset(): void;
  stop(): Promise<void>;
  private constructor();
}

export declare const DEFAULT_API_KEY: string;
