/**
 * Portable TypeScript kernels: always available, about 4 GFLOP/s on one core.
 * The product packs op(A) and op(B) into contiguous row-major buffers, then runs an i-k-j loop over
 * four rows of A at a time with float64 accumulators (V8 computes in doubles anyway).
 */
import { jsLayerKernels } from './js-layer-kernels.js';
import type { Kernels } from './kernels.js';

let packA = new Float32Array(0);
let packB = new Float32Array(0);
let accumulator = new Float64Array(0);

function pack(source: Float32Array, offset: number, ld: number, transposed: boolean, rows: number, cols: number, target: Float32Array): void {
  // target is (rows, cols) row-major; source holds X (rows, cols) or Xᵀ (cols, rows) with leading dim ld
  if (!transposed) {
    for (let r = 0; r < rows; r++) {
      const s = offset + r * ld;
      target.set(source.subarray(s, s + cols), r * cols);
    }
  } else {
    for (let c = 0; c < cols; c++) {
      const s = offset + c * ld;
      for (let r = 0; r < rows; r++) target[r * cols + c] = source[s + r];
    }
  }
}

const baseKernels = {
  name: 'js' as const,
  softmaxRows(data, offset, rows, cols, lse) {
    for (let r = 0; r < rows; r++) {
      const o = offset + r * cols;
      let max = -Infinity;
      for (let c = 0; c < cols; c++) if (data[o + c] > max) max = data[o + c];
      let s = 0;
      for (let c = 0; c < cols; c++) {
        const e = Math.exp(data[o + c] - max);
        data[o + c] = e;
        s += e;
      }
      const inv = 1 / s;
      for (let c = 0; c < cols; c++) data[o + c] *= inv;
      if (lse) lse[r] = max + Math.log(s);
    }
  },
  causalSoftmax(data, offset, blocks, T, start) {
    for (let b = 0; b < blocks; b++) {
      for (let t = 0; t < T; t++) {
        const row = offset + (b * T + t) * T;
        if (t < start) {
          data.fill(0, row, row + T);
          continue;
        }
        let max = -Infinity;
        for (let j = start; j <= t; j++) if (data[row + j] > max) max = data[row + j];
        let s = 0;
        for (let j = start; j <= t; j++) {
          const e = Math.exp(data[row + j] - max);
          data[row + j] = e;
          s += e;
        }
        const inv = 1 / s;
        for (let j = start; j <= t; j++) data[row + j] *= inv;
        if (start > 0) data.fill(0, row, row + start);
        data.fill(0, row + t + 1, row + T);
      }
    }
  },
  attendCached(q, keys, values, out, start, shape, scale) {
    const { batch: B, heads: H, kvHeads: KV, headDim: D, capacity, length: L } = shape;
    const group = H / KV;
    const width = KV * D;
    const scores = new Float64Array(L);
    for (let b = 0; b < B; b++) {
      const from = Math.max(0, Math.min(start[b], L - 1));
      for (let h = 0; h < H; h++) {
        const qo = (b * H + h) * D;
        const kvo = b * capacity * width + Math.floor(h / group) * D;
        let max = -Infinity;
        for (let j = from; j < L; j++) {
          const ko = kvo + j * width;
          let dot = 0;
          for (let d = 0; d < D; d++) dot += q[qo + d] * keys[ko + d];
          dot *= scale;
          scores[j] = dot;
          if (dot > max) max = dot;
        }
        let sum = 0;
        for (let j = from; j < L; j++) {
          const e = Math.exp(scores[j] - max);
          scores[j] = e;
          sum += e;
        }
        out.fill(0, qo, qo + D);
        for (let j = from; j < L; j++) {
          const p = scores[j] / sum;
          const vo = kvo + j * width;
          for (let d = 0; d < D; d++) out[qo + d] += p * values[vo + d];
        }
      }
    }
  },
  swigluBackward(g, gate, up, sigmoid, dGate, dUp, n) {
    // Separate loops per gradient: a nullable array tested inside a hot loop costs V8 3×.
    if (dUp) for (let i = 0; i < n; i++) dUp[i] += g[i] * gate[i] * sigmoid[i];
    if (dGate) {
      for (let i = 0; i < n; i++) {
        const x = gate[i];
        const s = sigmoid[i];
        dGate[i] += g[i] * up[i] * s * (1 + x * (1 - s));
      }
    }
  },
  swigluForward(gate, up, out, sigmoid, n) {
    for (let i = 0; i < n; i++) {
      const x = gate[i];
      const s = 1 / (1 + Math.exp(-x));
      sigmoid[i] = s;
      out[i] = x * s * up[i];
    }
  },
  sgemm(transA, transB, M, N, K, alpha, A, aOffset, lda, B, bOffset, ldb, beta, C, cOffset, ldc) {
    if (M <= 0 || N <= 0) return;
    if (packA.length < M * K) packA = new Float32Array(M * K);
    if (packB.length < K * N) packB = new Float32Array(K * N);
    if (accumulator.length < 4 * N) accumulator = new Float64Array(4 * N);
    const a = packA;
    const b = packB;
    const acc = accumulator;
    pack(A, aOffset, lda, transA, M, K, a);
    pack(B, bOffset, ldb, transB, K, N, b);
    for (let i0 = 0; i0 < M; i0 += 4) {
      const rows = Math.min(4, M - i0);
      acc.fill(0, 0, 4 * N);
      if (rows === 4) {
        const r0 = i0 * K;
        const r1 = r0 + K;
        const r2 = r1 + K;
        const r3 = r2 + K;
        const n2 = 2 * N;
        const n3 = 3 * N;
        for (let k = 0; k < K; k++) {
          const a0 = a[r0 + k];
          const a1 = a[r1 + k];
          const a2 = a[r2 + k];
          const a3 = a[r3 + k];
          const bk = k * N;
          for (let j = 0; j < N; j++) {
            const bv = b[bk + j];
            acc[j] += a0 * bv;
            acc[N + j] += a1 * bv;
            acc[n2 + j] += a2 * bv;
            acc[n3 + j] += a3 * bv;
          }
        }
      } else {
        for (let r = 0; r < rows; r++) {
          const ra = (i0 + r) * K;
          const ro = r * N;
          for (let k = 0; k < K; k++) {
            const av = a[ra + k];
            if (av === 0) continue;
            const bk = k * N;
            for (let j = 0; j < N; j++) acc[ro + j] += av * b[bk + j];
          }
        }
      }
      for (let r = 0; r < rows; r++) {
        const co = cOffset + (i0 + r) * ldc;
        const ro = r * N;
        if (beta === 0) for (let j = 0; j < N; j++) C[co + j] = alpha * acc[ro + j];
        else for (let j = 0; j < N; j++) C[co + j] = alpha * acc[ro + j] + beta * C[co + j];
      }
    }
    if (K === 0) {
      for (let i = 0; i < M; i++) {
        const co = cOffset + i * ldc;
        for (let j = 0; j < N; j++) C[co + j] = beta === 0 ? 0 : beta * C[co + j];
      }
    }
  },
} satisfies Omit<Kernels, keyof ReturnType<typeof jsLayerKernels>>;

export const jsKernels: Kernels = { ...baseKernels, ...jsLayerKernels(baseKernels) };
