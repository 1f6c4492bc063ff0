/**
 * Ops that move rows around: token embedding lookup, row gathering (so the LM head runs only on
 * positions that carry a loss), and per-sequence weighted sums (summed completion log-probs).
 */
import { assert } from '../../core/errors.js';
import { kernels } from '../kernels/index.js';
import { Tensor, record } from '../tensor.js';

/** weight (V, C) looked up at ids → (N, C). */
export function embedding(weight: Tensor, ids: Int32Array): Tensor {
  const C = weight.cols;
  const V = weight.rows;
  const N = ids.length;
  const out = Tensor.empty([N, C]);
  for (let r = 0; r < N; r++) {
    const id = ids[r];
    assert(id >= 0 && id < V, () => `embedding: token id ${id} is outside the vocabulary of ${V}`);
    out.data.set(weight.data.subarray(id * C, id * C + C), r * C);
  }
  record([weight], out, () => {
    if (out.grad) kernels().scatterAddRows(out.grad, ids, weight.gradBuffer(), N, C);
  });
  return out;
}

/** Rows of x (R, C) at the given indices → (N, C). */
export function gatherRows(x: Tensor, indices: Int32Array): Tensor {
  const C = x.cols;
  const R = x.rows;
  const N = indices.length;
  const out = Tensor.empty([N, C]);
  for (let r = 0; r < N; r++) {
    const i = indices[r];
    assert(i >= 0 && i < R, () => `gatherRows: row ${i} is outside 0..${R - 1}`);
    out.data.set(x.data.subarray(i * C, i * C + C), r * C);
  }
  record([x], out, () => {
    if (out.grad) kernels().scatterAddRows(out.grad, indices, x.gradBuffer(), N, C);
  });
  return out;
}

/**
 * out[s] = Σ_{r : segments[r] = s} weights[r] · values[r]  for values (N) → (S).
 * With 0/1 weights this is the masked sum of token log-probs per sequence.
 */
export function segmentSum(values: Tensor, segments: Int32Array, count: number, weights?: Float32Array): Tensor {
  const N = values.size;
  assert(segments.length === N, () => `segmentSum: ${segments.length} segment ids for ${N} values`);
  assert(!weights || weights.length === N, () => `segmentSum: ${weights?.length} weights for ${N} values`);
  const out = Tensor.zeros([count]);
  for (let r = 0; r < N; r++) {
    const s = segments[r];
    assert(s >= 0 && s < count, () => `segmentSum: segment ${s} is outside 0..${count - 1}`);
    out.data[s] += (weights ? weights[r] : 1) * values.data[r];
  }
  record([values], out, () => {
    const g = out.grad;
    if (!g) return;
    const gv = values.gradBuffer();
    for (let r = 0; r < N; r++) gv[r] += (weights ? weights[r] : 1) * g[segments[r]];
  });
  return out;
}

/** Entries of a 1-D tensor at the given indices (for splitting a batch into chosen/rejected). */
export function pick(x: Tensor, indices: readonly number[]): Tensor {
  const out = Tensor.zeros([indices.length]);
  for (let i = 0; i < indices.length; i++) out.data[i] = x.data[indices[i]];
  record([x], out, () => {
    const g = out.grad;
    if (!g) return;
    const gx = x.gradBuffer();
    for (let i = 0; i < indices.length; i++) gx[indices[i]] += g[i];
  });
  return out;
}
