'use strict';
/**
 * postato-testing: the Rust simulator of the Postato API, in-process on 127.0.0.1, for tests.
 * Its addon is its own: the `postato` addon that production code loads holds no simulator.
 */
const native = require('./native.js');

const DEFAULT_API_KEY = 'sk_test_postato';

class Simulator {
  #native;

  constructor(handle) {
    this.#native = handle;
  }

  /**
   * Starts a simulator. `faults`: probabilities by name (serverError, rateLimited,
   * resetBefore, dropAfterCommit, slowCommit, latency) plus slowCommitMs and latencyMs.
   * `rateLimit`: { ratePerSecond, burst }, the workspace's. Per account (the post's
   * `platform/accountId`): `accountRateLimit` ({ ratePerSecond, burst }), `accountQuota`
   * ({ limit, windowMs }) and `spentAccounts` ({ 'x/acc_1': 3000 }: every request answered 429
   * for that many seconds from the start).
   */
  static async start(options = {}) {
    const quota = options.accountQuota ?? null;
    const config = {
      apiKeys: options.apiKeys ?? [DEFAULT_API_KEY],
      faults: options.faults ?? {},
      rateLimit: options.rateLimit ?? null,
      accountRateLimit: options.accountRateLimit ?? null,
      accountQuota: quota === null ? null : { limit: quota.limit, window: quota.windowMs },
      spentAccounts: options.spentAccounts ?? {},
      seed: options.seed ?? 0,
      requireIdempotencyKey: options.requireIdempotencyKey ?? true,
    };
    return new Simulator(await native.startSimulator(JSON.stringify(config)));
  }

  get baseUrl() {
    return this.#native.baseUrl;
  }

  get apiKey() {
    return this.#native.apiKey;
  }

  /** Counters; `platformPublishes` is the ground truth of real publishes. */
  stats() {
    const stats = JSON.parse(this.#native.statsJson());
    stats.byStatus = Object.fromEntries(Object.entries(stats.byStatus).map(([k, v]) => [Number(k), v]));
    return stats;
  }

  /** Genuine publishes of a business key (exactly 1 for a post published once). */
  publishes(businessKey) {
    return this.#native.publishesFor(businessKey);
  }

  /** Scripts a business key's requests: [{ action: 'respond', status: 500 }, { action: 'ok' }, …]. */
  script(businessKey, actions) {
    this.#native.script(businessKey, JSON.stringify(actions));
  }

  setFaults(faults) {
    this.#native.setFaults(JSON.stringify(faults));
  }

  /** `ratePerSecond` null removes the limit; an absent `burst` is the simulator's default. */
  setRateLimit(ratePerSecond, burst) {
    this.#native.setRateLimit(ratePerSecond ?? undefined, burst ?? undefined);
  }

  /** Every request fails with 503 for `durationMs`, from `startInMs`. */
  outage(durationMs, startInMs = 0) {
    this.#native.outage(startInMs, durationMs);
  }

  reset() {
    this.#native.reset();
  }

  async stop() {
    await this.#native.stop();
  }
}

module.exports = { Simulator, DEFAULT_API_KEY };
