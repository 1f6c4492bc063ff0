/**
 * Buffer recycling for training steps and forward passes. A step allocates the same few hundred
 * activation and gradient buffers every time; handing fresh ones to V8 each step cost ~15% of the
 * step in page faults and garbage collection. Inside `withBufferScope`, large buffers come from a
 * pool and go back to it when the scope ends, so nothing allocated inside may be used after it:
 * read numbers out (`.item()`, copies) before the scope returns. Outside a scope, allocation is plain.
 */

const POOL_LIMIT_BYTES = 4 * 2 ** 30;
/** smaller buffers are cheap to allocate and not worth tracking */
const MIN_POOLED = 1024;

const pool = new Map<number, Float32Array[]>();
let pooledBytes = 0;
const scopes: Float32Array[][] = [];

/**
 * Capacity class of a length: the next power of 2^(1/4) (≤ 19% slack). Batches of varying
 * sequence length then reuse each other's buffers instead of asking V8 for fresh ones.
 */
function capacityOf(length: number): number {
  const exponent = Math.ceil(4 * Math.log2(length)) / 4;
  return Math.max(length, Math.ceil(2 ** exponent));
}

/** A zero-filled buffer; pooled when a scope is open (then a view of a larger pooled buffer). */
export function allocate(length: number): Float32Array {
  return take(length, true);
}

/**
 * A buffer whose contents are garbage when it comes from the pool: only for outputs the caller
 * overwrites entirely (a product with beta = 0, an elementwise result). Saves a pass of zeroing.
 */
export function allocateUninitialized(length: number): Float32Array {
  return take(length, false);
}

function take(length: number, zero: boolean): Float32Array {
  const scope = scopes[scopes.length - 1];
  if (!scope || length < MIN_POOLED) return new Float32Array(length);
  const capacity = capacityOf(length);
  // Best fit: this class, else one of the next few larger ones (fresh pages cost ~12 µs each on
  // the machines we measured, so a slightly larger warm buffer beats a new one).
  let reused: Float32Array | undefined;
  for (let c = capacity, k = 0; k < 5 && !reused; k++, c = capacityOf(c + 1)) reused = pool.get(c)?.pop();
  let buffer: Float32Array;
  if (reused) {
    pooledBytes -= reused.byteLength;
    buffer = reused;
  } else {
    buffer = new Float32Array(capacity);
  }
  scope.push(buffer);
  const view = buffer.subarray(0, length);
  if (reused && zero) view.fill(0);
  return view;
}

/** A pooled copy of `source`. */
export function allocateCopy(source: Float32Array): Float32Array {
  const out = take(source.length, false);
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
        // (buffer.length is its capacity class: buffers are created at class sizes)
        free.push(buffer);
        pooledBytes += buffer.byteLength;
      }
    }
  }
}
