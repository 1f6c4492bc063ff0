/**
 * Traffic control for one role's server: a concurrency limit, requests-per-minute and
 * tokens-per-minute token buckets, a per-attempt timeout, and bounded retries with exponential
 * backoff that honour `retry-after-ms` / `Retry-After` (seconds or an HTTP date). Errors that no
 * retry can fix (authentication, quota, unknown model, a prompt too long for every request) stop
 * the whole run with a message that says what to fix: they are thrown as FatalBackendError.
 * Time is injected (Clock), so tests run the backoff schedule without waiting.
 */
import { MtsaError } from '../../core/errors.js';

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))),
};

export interface TrafficSettings {
  /** requests in flight at once */
  concurrency: number;
  /** requests started per minute (0: unlimited) */
  requestsPerMinute: number;
  /** prompt + completion tokens per minute (0: unlimited) */
  tokensPerMinute: number;
  /** one attempt is abandoned after this long */
  timeoutMs: number;
  /** retries after the first attempt */
  maxRetries: number;
  /** backoff before retry k is initialBackoffMs · 2^k (with jitter), at most maxBackoffMs */
  initialBackoffMs: number;
  maxBackoffMs: number;
  /**
   * failed calls in a row (no success in between) after which the run stops: a server that fails
   * every request (down, a request shape it rejects, every prompt too long) is not worth a run
   */
  maxConsecutiveFailures: number;
}

export const DEFAULT_TRAFFIC: TrafficSettings = {
  concurrency: 8,
  requestsPerMinute: 0,
  tokensPerMinute: 0,
  timeoutMs: 120_000,
  maxRetries: 4,
  initialBackoffMs: 500,
  maxBackoffMs: 30_000,
  maxConsecutiveFailures: 16,
};

/** An error no retry can fix: the run stops and the message says what to change. */
export class FatalBackendError extends MtsaError {}

/**
 * One failed attempt, classified. `retryable` attempts are retried (bounded); others fail the call
 * (its dialogue is marked errored); `fatal` ones stop the run; `context` counts toward the
 * "too long for every request" stop.
 */
export class AttemptError extends MtsaError {
  constructor(
    message: string,
    readonly kind: 'retryable' | 'call' | 'fatal' | 'context',
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** Delay the server asks for: `retry-after-ms`, then `retry-after` (seconds or HTTP date); undefined if absent or unparsable. */
export function retryAfterMs(headers: { get(name: string): string | null }, now: number): number | undefined {
  const ms = headers.get('retry-after-ms');
  if (ms !== null && ms.trim() !== '' && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const value = headers.get('retry-after');
  if (value === null || value.trim() === '') return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Math.max(0, Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

/** Backoff before retry `retry` (0-based): the server's delay when it gave one under 60 s, else exponential with jitter. */
export function backoffMs(settings: Pick<TrafficSettings, 'initialBackoffMs' | 'maxBackoffMs'>, retry: number, serverDelayMs: number | undefined, random: () => number): number {
  if (serverDelayMs !== undefined && serverDelayMs < 60_000) return serverDelayMs;
  const base = Math.min(settings.maxBackoffMs, settings.initialBackoffMs * 2 ** retry);
  return base * (0.75 + 0.25 * random());
}

/** A token bucket of `perMinute` units refilled continuously; take(n) waits until n units are there. */
export class TokenBucket {
  private level: number;
  private updated: number;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    readonly perMinute: number,
    private readonly clock: Clock,
  ) {
    this.level = perMinute;
    this.updated = clock.now();
  }

  private refill(): void {
    const now = this.clock.now();
    this.level = Math.min(this.perMinute, this.level + ((now - this.updated) * this.perMinute) / 60_000);
    this.updated = now;
  }

  /** Takes n units (at most the capacity), waiting in FIFO order. */
  take(n: number): Promise<void> {
    if (this.perMinute <= 0) return Promise.resolve();
    const want = Math.min(n, this.perMinute);
    const turn = this.queue.then(async () => {
      for (;;) {
        this.refill();
        if (this.level >= want) {
          this.level -= want;
          return;
        }
        await this.clock.sleep(Math.ceil(((want - this.level) * 60_000) / this.perMinute));
      }
    });
    this.queue = turn;
    return turn;
  }

  /** Charges units used beyond an estimate (may go negative: later takes wait). */
  charge(n: number): void {
    if (this.perMinute <= 0) return;
    this.refill();
    this.level -= n;
  }
}

class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}
  async acquire(): Promise<void> {
    if (this.active < this.limit) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }
}

export interface TrafficStats {
  calls: number;
  attempts: number;
  retries: number;
  failedCalls: number;
  /** backoff delays slept, in order */
  backoffs: number[];
}

export interface AttemptResult<T> {
  value: T;
  /** tokens actually used (prompt + completion), for the TPM bucket */
  tokens: number;
}

/**
 * Runs calls for one role under its limits. `run` returns the value or throws: AttemptError
 * ('call' kind, or retries exhausted) for a call that failed, FatalBackendError for the run.
 */
export class TrafficController {
  readonly stats: TrafficStats = { calls: 0, attempts: 0, retries: 0, failedCalls: 0, backoffs: [] };
  private readonly slots: Semaphore;
  private readonly rpm: TokenBucket;
  private readonly tpm: TokenBucket;
  private consecutiveFailures = 0;
  private consecutiveContext = 0;
  private fatal: FatalBackendError | null = null;

  constructor(
    readonly settings: TrafficSettings,
    readonly label: string,
    private readonly clock: Clock = systemClock,
    private readonly random: () => number = Math.random,
  ) {
    this.slots = new Semaphore(Math.max(1, settings.concurrency));
    this.rpm = new TokenBucket(settings.requestsPerMinute, clock);
    this.tpm = new TokenBucket(settings.tokensPerMinute, clock);
  }

  /**
   * `attempt(signal)` makes one request; `signal` aborts when the attempt times out.
   * `estimatedTokens` is taken from the TPM bucket before the attempt.
   */
  async run<T>(estimatedTokens: number, attempt: (signal: AbortSignal) => Promise<AttemptResult<T>>): Promise<T> {
    if (this.fatal) throw this.fatal;
    this.stats.calls++;
    await this.slots.acquire();
    try {
      let last: AttemptError | undefined;
      for (let retry = 0; retry <= this.settings.maxRetries; retry++) {
        if (this.fatal) throw this.fatal;
        if (retry > 0) {
          const delay = backoffMs(this.settings, retry - 1, last?.retryAfterMs, this.random);
          this.stats.retries++;
          this.stats.backoffs.push(delay);
          await this.clock.sleep(delay);
          if (this.fatal) throw this.fatal;
        }
        await this.rpm.take(1);
        await this.tpm.take(estimatedTokens);
        this.stats.attempts++;
        try {
          const result = await this.withTimeout(attempt);
          this.tpm.charge(result.tokens - Math.min(estimatedTokens, this.settings.tokensPerMinute || estimatedTokens));
          this.consecutiveFailures = 0;
          this.consecutiveContext = 0;
          return result.value;
        } catch (error) {
          if (error instanceof FatalBackendError) throw this.stop(error.message);
          const classified = error instanceof AttemptError ? error : new AttemptError(`${this.label}: ${(error as Error).message}`, 'retryable');
          if (classified.kind === 'fatal') throw this.stop(classified.message);
          if (classified.kind === 'context' || classified.kind === 'call') throw this.callFailed(classified);
          last = classified;
        }
      }
      throw this.callFailed(new AttemptError(`${last?.message ?? `${this.label}: failed`} (gave up after ${this.settings.maxRetries + 1} attempts)`, 'call'));
    } finally {
      this.slots.release();
    }
  }

  /** Counts a failed call; the error to throw (the call's, or the run's stop after too many in a row). */
  private callFailed(error: AttemptError): Error {
    this.stats.failedCalls++;
    this.consecutiveFailures++;
    this.consecutiveContext = error.kind === 'context' ? this.consecutiveContext + 1 : 0;
    if (this.consecutiveFailures >= this.settings.maxConsecutiveFailures) {
      const why =
        this.consecutiveContext === this.consecutiveFailures
          ? "every one was too long for the model's context: raise the server's context length (e.g. vLLM --max-model-len) or lower maxTokens / maxTurns"
          : 'the server is failing every request: check that it is up and accepts these requests';
      return this.stop(`${error.message}\n${this.label}: ${this.consecutiveFailures} calls in a row failed and none succeeded; stopping the run: ${why}`);
    }
    return error;
  }

  private stop(message: string): FatalBackendError {
    this.fatal ??= new FatalBackendError(message);
    return this.fatal;
  }

  private async withTimeout<T>(attempt: (signal: AbortSignal) => Promise<AttemptResult<T>>): Promise<AttemptResult<T>> {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new AttemptError(`${this.label}: no answer within ${this.settings.timeoutMs} ms (timeout)`, 'retryable'));
      }, this.settings.timeoutMs);
    });
    try {
      return await Promise.race([attempt(controller.signal), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }
}
