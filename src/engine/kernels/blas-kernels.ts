/**
 * OpenBLAS kernels through the optional addon in native/ (built at install time when cblas.h exists).
 * Loading never throws: `loadBlasKernels()` returns null with the reason when the addon is missing.
 */
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kernels } from './kernels.js';

interface Addon {
  sgemm(...args: unknown[]): void;
  softmaxRows(data: Float32Array, offset: number, rows: number, cols: number, lse: Float32Array | null): void;
  causalSoftmax(data: Float32Array, offset: number, blocks: number, T: number, start: number): void;
  swigluForward(gate: Float32Array, up: Float32Array, out: Float32Array, sigmoid: Float32Array, n: number): void;
  attendCached(...args: unknown[]): void;
  swigluBackward(...args: unknown[]): void;
  setThreads(n: number): void;
  config(): string;
}

/** native/build/Release/mtsa_kernels.node under the package root, from src/ (tests) or dist/src/ (CLI). */
export function addonPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'native', 'binding.gyp')) && dirname(dir) !== dir) dir = dirname(dir);
  return join(dir, 'native', 'build', 'Release', 'mtsa_kernels.node');
}

function cpuHasAvx512(): boolean {
  try {
    return /\bavx512f\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return false;
  }
}

export interface BlasLoadResult {
  kernels: (Kernels & { config: string; setThreads(n: number): void }) | null;
  reason?: string;
}

export function loadBlasKernels(): BlasLoadResult {
  const path = addonPath();
  if (!existsSync(path)) return { kernels: null, reason: `OpenBLAS addon not built (${path} missing)` };
  // OpenBLAS 0.3.21 does not recognise recent AMD CPUs and falls back to AVX2 kernels; forcing the
  // SKYLAKEX core type unlocks AVX-512 (about 1.7× on large products). It must be set before dlopen.
  if (!process.env.OPENBLAS_CORETYPE && cpuHasAvx512()) process.env.OPENBLAS_CORETYPE = 'SKYLAKEX';
  let addon: Addon;
  try {
    addon = createRequire(import.meta.url)(path) as Addon;
  } catch (error) {
    return { kernels: null, reason: `OpenBLAS addon failed to load: ${(error as Error).message}` };
  }
  // One OpenBLAS thread: at the engine's sizes a second thread gains little (and loses under load),
  // the two cores go to two worker threads instead, and a product's rounding then depends neither
  // on the machine's core count nor on what runs beside it (OpenBLAS splits a product by thread
  // count, and edge tiles round differently): the same seed gives the same bytes everywhere.
  // docs/decisions/0013-workers-and-one-blas-thread.md.
  addon.setThreads(1);
  const sgemm = addon.sgemm;
  return {
    kernels: {
      name: 'blas',
      softmaxRows: (data, offset, rows, cols, lse) => {
        if (rows > 0 && cols > 0) addon.softmaxRows(data, offset, rows, cols, lse);
      },
      causalSoftmax: (data, offset, blocks, T, start) => {
        if (blocks > 0 && T > 0) addon.causalSoftmax(data, offset, blocks, T, start);
      },
      swigluForward: (gate, up, out, sigmoid, n) => addon.swigluForward(gate, up, out, sigmoid, n),
      swigluBackward: (g, gate, up, sigmoid, dGate, dUp, n) => addon.swigluBackward(g, gate, up, sigmoid, dGate, dUp, n),
      attendCached: (q, keys, values, out, start, s, scale) => addon.attendCached(q, keys, values, out, start, s.batch, s.heads, s.kvHeads, s.headDim, s.capacity, s.length, scale),
      config: addon.config(),
      setThreads: (n: number) => addon.setThreads(n),
      sgemm(transA, transB, M, N, K, alpha, A, aOffset, lda, B, bOffset, ldb, beta, C, cOffset, ldc) {
        if (M <= 0 || N <= 0) return;
        if (K <= 0) {
          for (let i = 0; i < M; i++) {
            const co = cOffset + i * ldc;
            for (let j = 0; j < N; j++) C[co + j] = beta === 0 ? 0 : beta * C[co + j];
          }
          return;
        }
        sgemm(transA, transB, M, N, K, alpha, A, aOffset, lda, B, bOffset, ldb, beta, C, cOffset, ldc);
      },
    },
  };
}
