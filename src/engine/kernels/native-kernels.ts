/**
 * The native kernels: the addon in native/ (our own matrix product and the layer loops in C, built
 * at install time when a C compiler exists; docs/decisions/0015-own-kernels.md says why not OpenBLAS).
 * Loading never throws: `loadNativeKernels()` returns null with the reason when the addon is missing.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AdamWStep, AttentionDims, Kernels } from './kernels.js';

interface Addon {
  sgemm(...args: unknown[]): void;
  softmaxRows(data: Float32Array, offset: number, rows: number, cols: number, lse: Float32Array | null): void;
  causalSoftmax(data: Float32Array, offset: number, blocks: number, T: number, start: number): void;
  swigluForward(gate: Float32Array, up: Float32Array, out: Float32Array, sigmoid: Float32Array, n: number): void;
  attendCached(...args: unknown[]): void;
  swigluBackward(...args: unknown[]): void;
  rmsNormForward(x: Float32Array, w: Float32Array, out: Float32Array, inv: Float32Array, rows: number, cols: number, eps: number): void;
  rmsNormBackward(g: Float32Array, x: Float32Array, w: Float32Array, inv: Float32Array, dx: Float32Array | null, dw: Float32Array | null, rows: number, cols: number): void;
  rope(input: Float32Array, output: Float32Array, rows: number, heads: number, headDim: number, positions: Int32Array, cos: Float32Array, sin: Float32Array, inverse: boolean): void;
  tokenLogProbs(logits: Float32Array, probs: Float32Array, targets: Int32Array, out: Float32Array, rows: number, vocab: number): void;
  tokenLogProbsBackward(g: Float32Array, probs: Float32Array, targets: Int32Array, dLogits: Float32Array, rows: number, vocab: number, overwrite: boolean): void;
  attentionForward(...args: unknown[]): void;
  attentionBackward(...args: unknown[]): void;
  add(a: Float32Array, b: Float32Array, out: Float32Array, n: number): void;
  scatterAddRows(source: Float32Array, indices: Int32Array, target: Float32Array, rows: number, cols: number): void;
  sumSquares(x: Float32Array, n: number): number;
  adamw(...args: unknown[]): void;
  setThreads(n: number): void;
  threads(): number;
  config(): string;
}

/** native/build/Release/mtsa_kernels.node under the package root, from src/ (tests) or dist/src/ (CLI). */
export function addonPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'native', 'binding.gyp')) && dirname(dir) !== dir) dir = dirname(dir);
  return join(dir, 'native', 'build', 'Release', 'mtsa_kernels.node');
}

export interface NativeLoadResult {
  kernels: (Kernels & { config(): string; setThreads(n: number): void; threads(): number }) | null;
  reason?: string;
}

export function loadNativeKernels(): NativeLoadResult {
  const path = addonPath();
  if (!existsSync(path)) return { kernels: null, reason: `native kernel addon not built (${path} missing)` };
  let addon: Addon;
  try {
    addon = createRequire(import.meta.url)(path) as Addon;
  } catch (error) {
    return { kernels: null, reason: `native kernel addon failed to load: ${(error as Error).message}` };
  }
  // The addon starts with one thread: `mtsa run` gives its two cores to two worker threads
  // (docs/decisions/0013-workers-and-one-blas-thread.md); a process that trains alone may ask for
  // more (setKernelThreads). Results never depend on the thread count (native/pool.h).
  return {
    kernels: {
      name: 'native',
      softmaxRows: (data, offset, rows, cols, lse) => {
        if (rows > 0 && cols > 0) addon.softmaxRows(data, offset, rows, cols, lse);
      },
      causalSoftmax: (data, offset, blocks, T, start) => {
        if (blocks > 0 && T > 0) addon.causalSoftmax(data, offset, blocks, T, start);
      },
      swigluForward: (gate, up, out, sigmoid, n) => addon.swigluForward(gate, up, out, sigmoid, n),
      swigluBackward: (g, gate, up, sigmoid, dGate, dUp, n) => addon.swigluBackward(g, gate, up, sigmoid, dGate, dUp, n),
      attendCached: (q, keys, values, out, start, s, scale) => addon.attendCached(q, keys, values, out, start, s.batch, s.heads, s.kvHeads, s.headDim, s.capacity, s.length, scale),
      rmsNormForward: (x, w, out, inv, rows, cols, eps) => addon.rmsNormForward(x, w, out, inv, rows, cols, eps),
      rmsNormBackward: (g, x, w, inv, dx, dw, rows, cols) => addon.rmsNormBackward(g, x, w, inv, dx, dw, rows, cols),
      rope: (input, output, rows, heads, headDim, positions, cos, sin, inverse) => addon.rope(input, output, rows, heads, headDim, positions, cos, sin, inverse),
      scatterAddRows: (source, indices, target, rows, cols) => addon.scatterAddRows(source, indices, target, rows, cols),
      tokenLogProbs: (logits, probs, targets, out, rows, vocab) => addon.tokenLogProbs(logits, probs, targets, out, rows, vocab),
      tokenLogProbsBackward: (g, probs, targets, dLogits, rows, vocab, overwrite) => addon.tokenLogProbsBackward(g, probs, targets, dLogits, rows, vocab, overwrite),
      attentionForward: (q, k, v, probs, out, d: AttentionDims, keyStart, scale) => addon.attentionForward(q, k, v, probs, out, d.batch, d.seqLen, d.heads, d.kvHeads, d.headDim, keyStart, scale),
      attentionBackward: (g, q, k, v, probs, dq, dk, dv, d: AttentionDims, keyStart, scale) =>
        addon.attentionBackward(g, q, k, v, probs, dq, dk, dv, d.batch, d.seqLen, d.heads, d.kvHeads, d.headDim, keyStart, scale),
      add: (a, b, out, n) => addon.add(a, b, out, n),
      sumSquares: (x, n) => addon.sumSquares(x, n),
      adamw: (w, g, m, v, n, s: AdamWStep) => addon.adamw(w, g, m, v, n, s.clip, s.beta1, s.beta2, s.stepSize, s.correction2, s.eps, s.decay),
      config: () => addon.config(),
      setThreads: (n: number) => addon.setThreads(n),
      threads: () => addon.threads(),
      // (the addon itself returns at once for an empty C)
      sgemm: (transA, transB, M, N, K, alpha, A, aOffset, lda, B, bOffset, ldb, beta, C, cOffset, ldc) =>
        addon.sgemm(transA, transB, M, N, K, alpha, A, aOffset, lda, B, bOffset, ldb, beta, C, cOffset, ldc),
    },
  };
}
