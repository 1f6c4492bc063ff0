/**
 * The project's error types. Expected per-item failures (a malformed attacker turn, an undetermined
 * judgement) are data, not exceptions; these are for bad input, programmer errors and infrastructure.
 */

export class MtsaError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Invalid configuration or input file. The message names the file/field and the fix. */
export class ConfigError extends MtsaError {}

/** A NaN or infinite value where a finite number was required (loss, gradient). */
export class NumericalError extends MtsaError {}

/** A call to a model backend failed. */
export class ModelCallError extends MtsaError {
  constructor(
    message: string,
    readonly statusCode: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
  /** 408/409/429/5xx are worth retrying (as in the Vercel AI SDK). */
  get isRetryable(): boolean {
    const s = this.statusCode;
    return s === undefined || s === 408 || s === 409 || s === 429 || s >= 500;
  }
}

/** Throws an Error with `message` when `condition` is false; for invariants and shapes. */
export function assert(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new MtsaError(typeof message === 'function' ? message() : message);
}
