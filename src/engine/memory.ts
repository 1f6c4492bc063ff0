/**
 * Buffer recycling for training steps and forward passes. A step allocates the same few hundred
 * activation and gradient buffers every time; handing fresh ones to V8 each step cost ~15% of the
 * step in page faults and garbage collection. Inside `withBufferScope`, large buffers come from a
 * pool and go back to it when the scope ends, so nothing allocated inside may be used after it:
 * read numbers out (`.item()`, copies) before the scope returns. Outside a scope, allocation is plain.
 */

const POOL_LIMIT_BYTES = 1 << 30;
/** smaller buffers are cheap to allocate and not worth tracking */
const MIN_POOLED = 1024;

const pool = new Map<number, Float32Array[]>();
let pooledBytes = 0;
const scopes: Float32Array[][] = [];

/** A zero-filled buffer; pooled when a scope is open. */
export function allocate(length: number): Float32Array {
  const scope = scopes[scopes.length - 1];
  if (!scope || length < MIN_POOLED) return new Float32Array(length);
  const reused = pool.get(length)?.pop();
  let buffer: Float32Array;
  if (reused) {
    pooledBytes -= reused.byteLength;
    reused.fill(0);
    buffer = reused;
  } else {
    buffer = new Float32Array(length);
  }
  scope.push(buffer);
  return buffer;
}

/** A pooled copy of `source`. */
export function allocateCopy(source: Float32Array): Float32Array {
  const out = allocate(source.length);
  out.set(source);
  return out;
}

/**
 * Runs `fn`; large buffers allocated inside are recycled when it returns. The result must not
 * reference them (return numbers or copies).
 */
export function withBufferScope<T>(fn: () => T): T {
  const scope: Float32Array[] = [];
  scopes.push(scope);
  try {
    return fn();
  } finally {
    scopes.pop();
    const parent = scopes[scopes.length - 1];
    if (parent) parent.push(...scope);
    else {
      for (const buffer of scope) {
        if (pooledBytes + buffer.byteLength > POOL_LIMIT_BYTES) continue;
        let free = pool.get(buffer.length);
        if (!free) pool.set(buffer.length, (free = []));
        free.push(buffer);
        pooledBytes += buffer.byteLength;
      }
    }
  }
}

/** Empties the pool (e.g. between phases that use very different shapes). */
export function releasePool(): void {
  pool.clear();
  pooledBytes = 0;
}
