/**
 * Fused causal multi-head self-attention with grouped-query heads.
 * q: (B·T, H·D), k and v: (B·T, KV·D), row-major with time inside batch; heads are column blocks,
 * so one head of one sequence is a strided matrix that a product reads in place (leading dim H·D).
 * Per head: S = QKᵀ/√D, P = softmax(S + causal mask), O = PV. P is kept for the backward:
 * dV = PᵀdO, dP = dO·Vᵀ, dS = P∘(dP − rowsum(dP∘P)), dQ = dS·K/√D, dK = dSᵀ·Q/√D.
 */
import { assert } from '../../core/errors.js';
import { type AttentionDims, kernels } from '../kernels/index.js';
import { allocateUninitialized } from '../memory.js';
import { Tensor, record } from '../tensor.js';

/** batch, seqLen, heads, kvHeads, headDim: the attention kernels' own shape record */
export type AttentionShape = AttentionDims;

/**
 * keyStart[b] masks keys before that position in sequence b (left padding). Query rows with no
 * visible key (padding) output zeros.
 */
export function causalAttention(q: Tensor, k: Tensor, v: Tensor, shape: AttentionShape, keyStart?: Int32Array): Tensor {
  const { batch: B, seqLen: T, heads: H, kvHeads: KV, headDim: D } = shape;
  assert(H % KV === 0, () => `attention: ${H} heads are not a multiple of ${KV} key/value heads`);
  assert(q.rows === B * T && q.cols === H * D, () => `attention: q is [${q.shape}], expected [${B * T}, ${H * D}]`);
  assert(k.rows === B * T && k.cols === KV * D && v.rows === B * T && v.cols === KV * D, () => `attention: k/v are [${k.shape}]/[${v.shape}], expected [${B * T}, ${KV * D}]`);
  const probs = allocateUninitialized(B * H * T * T);
  const out = Tensor.empty([B * T, H * D]);
  const scale = 1 / Math.sqrt(D);
  kernels().attentionForward(q.data, k.data, v.data, probs, out.data, shape, keyStart ?? null, scale);
  record([q, k, v], out, () => {
    const g = out.grad;
    if (!g) return;
    const dq = q.requiresGrad ? q.gradBuffer() : null;
    const dk = k.requiresGrad ? k.gradBuffer() : null;
    const dv = v.requiresGrad ? v.gradBuffer() : null;
    kernels().attentionBackward(g, q.data, k.data, v.data, probs, dq, dk, dv, shape, keyStart ?? null, scale);
  });
  return out;
}

/** Where `cachedAttention` finds the keys and values: per sequence, `capacity` rows of KV·D. */
export interface CachedKeys {
  keys: Float32Array;
  values: Float32Array;
  capacity: number;
  /** first real (non-padding) position of each sequence */
  start: Int32Array;
}

/**
 * The same causal attention for queries whose keys and values sit in a cache (sampling with a
 * key/value cache): q holds n new rows per sequence, (B·n, H·D), at positions past..past+n−1, and
 * the cache already holds their keys and values at those positions. Query t of sequence b sees the
 * cached positions start[b]..past+t. Inference only (nothing is taped). One new row per sequence
 * (a decoding step) goes to the fused `attendCached` kernel; several (a prefill, possibly after a
 * reused prefix) take two products per head, as `causalAttention` does, over the rectangle of n
 * queries × (past + n) keys.
 */
export function cachedAttention(q: Float32Array, cache: CachedKeys, shape: Omit<AttentionShape, 'seqLen'>, past: number, n: number): Tensor {
  const { batch: B, heads: H, kvHeads: KV, headDim: D } = shape;
  const L = past + n;
  const width = KV * D;
  const group = H / KV;
  const scale = 1 / Math.sqrt(D);
  const kern = kernels();
  const out = Tensor.zeros([B * n, H * D]);
  if (n === 1) {
    kern.attendCached(q, cache.keys, cache.values, out.data, cache.start, { batch: B, heads: H, kvHeads: KV, headDim: D, capacity: cache.capacity, length: L }, scale);
    return out;
  }
  const scores = new Float32Array(n * L);
  for (let b = 0; b < B; b++) {
    const start = cache.start[b];
    const cacheBase = b * cache.capacity * width;
    for (let h = 0; h < H; h++) {
      const kvOffset = cacheBase + Math.floor(h / group) * D;
      const qOffset = b * n * H * D + h * D;
      // scores (n, L) = q (n, D) · Kᵀ over every cached position, then causal softmax
      kern.sgemm(false, true, n, L, D, scale, q, qOffset, H * D, cache.keys, kvOffset, width, 0, scores, 0, L);
      for (let t = 0; t < n; t++) {
        const row = t * L;
        const last = past + t; // causal: query t sees keys start..past+t
        const from = Math.min(start, last);
        scores.fill(-Infinity, row, row + from);
        scores.fill(-Infinity, row + last + 1, row + L);
      }
      kern.softmaxRows(scores, 0, n, L, null);
      kern.sgemm(false, false, n, D, L, 1, scores, 0, L, cache.values, kvOffset, width, 0, out.data, qOffset, H * D);
    }
  }
  return out;
}
