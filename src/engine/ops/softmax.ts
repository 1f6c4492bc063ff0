/**
 * Softmax family over the last dimension, and the fused token log-prob op that every training
 * objective here is built on: SFT's cross-entropy, DPO's and the future-reward loss's sequence
 * log-probs are sums of `tokenLogProbs` over masked positions.
 */
import { assert } from '../../core/errors.js';
import { kernels } from '../kernels/index.js';
import { allocateCopy, allocateUninitialized } from '../memory.js';
import { Tensor, record } from '../tensor.js';

export function softmax(x: Tensor): Tensor {
  const C = x.cols;
  const R = x.rows;
  const out = new Tensor(allocateCopy(x.data), x.shape);
  const y = out.data;
  kernels().softmaxRows(y, 0, R, C, null);
  record([x], out, () => {
    const g = out.grad;
    if (!g) return;
    const gx = x.gradBuffer();
    for (let r = 0; r < R; r++) {
      const o = r * C;
      let dot = 0;
      for (let c = 0; c < C; c++) dot += g[o + c] * y[o + c];
      for (let c = 0; c < C; c++) gx[o + c] += y[o + c] * (g[o + c] - dot);
    }
  });
  return out;
}

export function logSoftmax(x: Tensor): Tensor {
  const C = x.cols;
  const R = x.rows;
  const out = Tensor.zeros(x.shape);
  const xd = x.data;
  const y = out.data;
  for (let r = 0; r < R; r++) {
    const o = r * C;
    const lse = logSumExpRow(xd, o, C);
    for (let c = 0; c < C; c++) y[o + c] = xd[o + c] - lse;
  }
  record([x], out, () => {
    const g = out.grad;
    if (!g) return;
    const gx = x.gradBuffer();
    for (let r = 0; r < R; r++) {
      const o = r * C;
      let s = 0;
      for (let c = 0; c < C; c++) s += g[o + c];
      for (let c = 0; c < C; c++) gx[o + c] += g[o + c] - Math.exp(y[o + c]) * s;
    }
  });
  return out;
}

export function logSumExpRow(data: Float32Array, offset: number, length: number): number {
  let max = -Infinity;
  for (let c = 0; c < length; c++) if (data[offset + c] > max) max = data[offset + c];
  let s = 0;
  for (let c = 0; c < length; c++) s += Math.exp(data[offset + c] - max);
  return max + Math.log(s);
}

/**
 * log p(targets[r] | row r) for logits (N, V) → (N). Rows whose target is negative are skipped
 * (value 0, no gradient): the usual −100 "ignore" label.
 */
export function tokenLogProbs(logits: Tensor, targets: Int32Array): Tensor {
  const V = logits.cols;
  const N = logits.rows;
  assert(targets.length === N, () => `tokenLogProbs: ${targets.length} targets for ${N} rows`);
  const outside = targets.findIndex((t) => t >= V);
  assert(outside < 0, () => `tokenLogProbs: target id ${targets[outside]} is outside the vocabulary of ${V}`);
  const out = Tensor.empty([N]);
  // Probabilities are kept for the backward, which then needs no exp: d log p_t/dx = onehot_t − p.
  const probs = allocateUninitialized(N * V);
  kernels().tokenLogProbs(logits.data, probs, targets, out.data, N, V);
  record([logits], out, () => {
    const g = out.grad;
    if (!g) return;
    // When the logits have no gradient yet (the usual case: they feed only this op), the gradient
    // is written over the probabilities, which nothing reads afterwards, and handed over.
    if (!logits.grad && !logits.persistent) {
      kernels().tokenLogProbsBackward(g, probs, targets, probs, N, V, true);
      logits.grad = probs;
    } else kernels().tokenLogProbsBackward(g, probs, targets, logits.gradBuffer(), N, V, false);
  });
  return out;
}
