import { describe, expect, it } from 'vitest';
import { Rng } from '../../core/rng.js';
import { gradCheck, randomTensor } from '../../testing/grad-check.js';
import { nativeKernels, jsKernels, withKernels, type Kernels } from '../kernels/index.js';
import { Tensor } from '../tensor.js';
import * as ops from './index.js';

const TOLERANCE = 2e-3;

const kernelSets: Kernels[] = [jsKernels];
const loaded = nativeKernels();
// .ci/run sets MTSA_REQUIRE_NATIVE=1 where the addon can build, so the native tests cannot drop out quietly.
if (!loaded.kernels && process.env.MTSA_REQUIRE_NATIVE === '1') throw new Error(`MTSA_REQUIRE_NATIVE=1 but the native kernels did not load: ${loaded.reason}`);
const addon = loaded.kernels;
if (addon) kernelSets.push(addon);

function expectGradientsMatch(build: (inputs: Tensor[]) => Tensor, inputs: Tensor[], eps?: number) {
  const result = gradCheck(build, inputs, { eps });
  expect(result.checked).toBeGreaterThan(0);
  expect(result.maxRelError, result.worst).toBeLessThan(TOLERANCE);
}

describe.each(kernelSets.map((k) => [k.name, k] as const))('gradient checks with %s kernels', (_name, kernelSet) => {
  const run = (fn: () => void) => withKernels(kernelSet, fn);
  const rng = new Rng(1);

  it('matmul in all four transpose combinations', () =>
    run(() => {
      for (const [ta, tb] of [
        [false, false],
        [true, false],
        [false, true],
        [true, true],
      ] as const) {
        const a = randomTensor(rng, ta ? [4, 3] : [3, 4]);
        const b = randomTensor(rng, tb ? [5, 4] : [4, 5]);
        expectGradientsMatch(([x, y]) => ops.matmul(x, y, ta, tb), [a, b]);
      }
    }));

  it('linear', () => run(() => expectGradientsMatch(([x, w]) => ops.linear(x, w), [randomTensor(rng, [6, 5]), randomTensor(rng, [7, 5])])));

  it('rmsNorm', () => run(() => expectGradientsMatch(([x, w]) => ops.rmsNorm(x, w, 1e-5), [randomTensor(rng, [4, 8]), randomTensor(rng, [8])])));

  it('rope', () =>
    run(() => {
      const positions = Int32Array.from([0, 1, 2, 7, 3, 4]);
      expectGradientsMatch(([x]) => ops.rope(x, 2, positions, 10000), [randomTensor(rng, [6, 8])]);
    }));

  it('causal attention with grouped-query heads and left padding', () =>
    run(() => {
      const shape = { batch: 2, seqLen: 5, heads: 4, kvHeads: 2, headDim: 4 };
      const q = randomTensor(rng, [10, 16]);
      const k = randomTensor(rng, [10, 8]);
      const v = randomTensor(rng, [10, 8]);
      expectGradientsMatch(([a, b, c]) => ops.causalAttention(a, b, c, shape, Int32Array.from([0, 2])), [q, k, v]);
    }));

  it('causal attention over a length of several 32-row blocks (the native kernel skips the upper triangle by blocks)', () =>
    run(() => {
      const shape = { batch: 1, seqLen: 40, heads: 2, kvHeads: 1, headDim: 4 };
      expectGradientsMatch(([a, b, c]) => ops.causalAttention(a, b, c, shape, Int32Array.from([3])), [randomTensor(rng, [40, 8]), randomTensor(rng, [40, 4]), randomTensor(rng, [40, 4])]);
    }));

  it('swiglu and silu', () =>
    run(() => {
      expectGradientsMatch(([g, u]) => ops.swiglu(g, u), [randomTensor(rng, [3, 6]), randomTensor(rng, [3, 6])]);
      expectGradientsMatch(([g]) => ops.silu(g), [randomTensor(rng, [3, 6])]);
    }));

  it('softmax, logSoftmax and tokenLogProbs with ignored targets', () =>
    run(() => {
      expectGradientsMatch(([x]) => ops.softmax(x), [randomTensor(rng, [3, 7])]);
      expectGradientsMatch(([x]) => ops.logSoftmax(x), [randomTensor(rng, [3, 7])]);
      expectGradientsMatch(([x]) => ops.tokenLogProbs(x, Int32Array.from([2, -100, 6, 0])), [randomTensor(rng, [4, 7])]);
    }));

  it('embedding, gatherRows, segmentSum and pick', () =>
    run(() => {
      expectGradientsMatch(([w]) => ops.embedding(w, Int32Array.from([3, 1, 3, 0])), [randomTensor(rng, [5, 4])]);
      expectGradientsMatch(([x]) => ops.gatherRows(x, Int32Array.from([2, 0, 2])), [randomTensor(rng, [4, 3])]);
      expectGradientsMatch(([x]) => ops.segmentSum(x, Int32Array.from([0, 0, 1, 2, 1]), 3, Float32Array.from([1, 0, 1, 1, 0.5])), [randomTensor(rng, [5])]);
      expectGradientsMatch(([x]) => ops.pick(x, [3, 1, 1]), [randomTensor(rng, [4])]);
    }));

  it('elementwise ops and reductions', () =>
    run(() => {
      const a = () => randomTensor(rng, [5]);
      expectGradientsMatch(([x, y]) => ops.add(x, y), [a(), a()]);
      expectGradientsMatch(([x, y]) => ops.sub(x, y), [a(), a()]);
      expectGradientsMatch(([x, y]) => ops.mul(x, y), [a(), a()]);
      expectGradientsMatch(([x]) => ops.scale(x, -2.5), [a()]);
      expectGradientsMatch(([x]) => ops.addScalar(x, 3), [a()]);
      expectGradientsMatch(([x]) => ops.square(x), [a()]);
      expectGradientsMatch(([x]) => ops.exp(x), [a()]);
      expectGradientsMatch(([x]) => ops.log(ops.addScalar(ops.square(x), 1)), [a()]);
      expectGradientsMatch(([x]) => ops.sigmoid(x), [a()]);
      expectGradientsMatch(([x]) => ops.logSigmoid(ops.scale(x, 4)), [a()]);
      expectGradientsMatch(([x]) => ops.sum(x), [a()]);
      expectGradientsMatch(([x]) => ops.mean(x), [a()]);
    }));
});

describe('op values', () => {
  it('logSigmoid is stable far from zero', () => {
    const y = ops.logSigmoid(Tensor.from([-1000, 0, 1000]));
    expect(y.data[0]).toBeCloseTo(-1000, 3);
    expect(y.data[1]).toBeCloseTo(-Math.LN2, 6);
    expect(y.data[2]).toBe(0);
  });

  it('attention rows only see their past: changing a future key leaves earlier outputs unchanged', () => {
    const rng = new Rng(3);
    const shape = { batch: 1, seqLen: 4, heads: 2, kvHeads: 1, headDim: 4 };
    const q = randomTensor(rng, [4, 8], 1, false);
    const k = randomTensor(rng, [4, 4], 1, false);
    const v = randomTensor(rng, [4, 4], 1, false);
    const before = ops.causalAttention(q, k, v, shape).data.slice(0, 3 * 8);
    k.data[3 * 4] += 5;
    v.data[3 * 4] += 5;
    const after = ops.causalAttention(q, k, v, shape).data.slice(0, 3 * 8);
    expect(Array.from(after)).toEqual(Array.from(before));
  });

  it('rope keeps vector norms and position 0 is the identity', () => {
    const rng = new Rng(4);
    const x = randomTensor(rng, [2, 8], 1, false);
    const y = ops.rope(x, 2, Int32Array.from([0, 5]), 10000);
    expect(Array.from(y.data.slice(0, 8))).toEqual(Array.from(x.data.slice(0, 8)));
    const norm = (d: Float32Array) => Math.hypot(...d);
    expect(norm(y.data.slice(8))).toBeCloseTo(norm(x.data.slice(8)), 5);
  });
});

describe('kernel parity', () => {
  it.skipIf(!addon)('native and TypeScript sgemm agree on strided, transposed, accumulating products', () => {
    const rng = new Rng(9);
    for (const [ta, tb] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      const M = 37,
        N = 29,
        K = 41;
      const lda = (ta ? M : K) + 3,
        ldb = (tb ? K : N) + 2,
        ldc = N + 5;
      const A = Float32Array.from({ length: (ta ? K : M) * lda + 4 }, () => rng.normal());
      const B = Float32Array.from({ length: (tb ? N : K) * ldb + 4 }, () => rng.normal());
      const C0 = Float32Array.from({ length: M * ldc + 4 }, () => rng.normal());
      const Cjs = C0.slice();
      const Caddon = C0.slice();
      jsKernels.sgemm(ta, tb, M, N, K, 0.7, A, 2, lda, B, 1, ldb, 0.5, Cjs, 3, ldc);
      addon!.sgemm(ta, tb, M, N, K, 0.7, A, 2, lda, B, 1, ldb, 0.5, Caddon, 3, ldc);
      let maxError = 0;
      for (let i = 0; i < Cjs.length; i++) maxError = Math.max(maxError, Math.abs(Cjs[i] - Caddon[i]));
      expect(maxError).toBeLessThan(1e-4);
    }
  });

  it.skipIf(!addon)('native softmax, causal softmax and SwiGLU agree with the TypeScript kernels', () => {
    const rng = new Rng(10);
    const rows = 5,
      cols = 300;
    const x = Float32Array.from({ length: rows * cols + 7 }, () => rng.normal() * 6);
    const [a, b] = [x.slice(), x.slice()];
    const [lseA, lseB] = [new Float32Array(rows), new Float32Array(rows)];
    jsKernels.softmaxRows(a, 7, rows, cols, lseA);
    addon!.softmaxRows(b, 7, rows, cols, lseB);
    const maxDiff = (u: Float32Array, v: Float32Array) => u.reduce((m, ui, i) => Math.max(m, Math.abs(ui - v[i])), 0);
    expect(maxDiff(a, b)).toBeLessThan(1e-6);
    expect(maxDiff(lseA, lseB)).toBeLessThan(1e-4);

    const T = 9,
      blocks = 3;
    const scores = Float32Array.from({ length: blocks * T * T }, () => rng.normal() * 4);
    const [c, d] = [scores.slice(), scores.slice()];
    jsKernels.causalSoftmax(c, 0, blocks, T, 2);
    addon!.causalSoftmax(d, 0, blocks, T, 2);
    expect(maxDiff(c, d)).toBeLessThan(1e-6);
    expect(c[4 * T + 1]).toBe(0); // padding key
    expect(c[4 * T + 5]).toBe(0); // future key
    expect(c.slice(4 * T + 2, 4 * T + 5).reduce((s, v) => s + v, 0)).toBeCloseTo(1, 6);

    const n = 1000;
    const gate = Float32Array.from({ length: n }, () => rng.normal() * 5);
    const up = Float32Array.from({ length: n }, () => rng.normal());
    const outs = [new Float32Array(n), new Float32Array(n)];
    const sigs = [new Float32Array(n), new Float32Array(n)];
    jsKernels.swigluForward(gate, up, outs[0], sigs[0], n);
    addon!.swigluForward(gate, up, outs[1], sigs[1], n);
    expect(maxDiff(outs[0], outs[1])).toBeLessThan(1e-5);
    expect(maxDiff(sigs[0], sigs[1])).toBeLessThan(1e-6);
  });

  it.skipIf(!addon)('native cached attention agrees with the TypeScript kernel', () => {
    const rng = new Rng(12);
    const shape = { batch: 3, heads: 4, kvHeads: 2, headDim: 8, capacity: 11, length: 9 };
    const width = shape.kvHeads * shape.headDim;
    const q = Float32Array.from({ length: shape.batch * shape.heads * shape.headDim }, () => rng.normal());
    const keys = Float32Array.from({ length: shape.batch * shape.capacity * width }, () => rng.normal());
    const values = Float32Array.from({ length: shape.batch * shape.capacity * width }, () => rng.normal());
    const start = Int32Array.from([0, 3, 8]);
    const outs = [new Float32Array(q.length), new Float32Array(q.length)];
    jsKernels.attendCached(q, keys, values, outs[0], start, shape, 0.35);
    addon!.attendCached(q, keys, values, outs[1], start, shape, 0.35);
    let maxDiff = 0;
    for (let i = 0; i < q.length; i++) maxDiff = Math.max(maxDiff, Math.abs(outs[0][i] - outs[1][i]));
    expect(maxDiff).toBeLessThan(1e-5);
    // sequence 2 sees only its last position: its output is that value row
    const last = 2 * shape.capacity * width + 8 * width;
    expect(Array.from(outs[0].slice(2 * 32, 2 * 32 + 8)).map((v) => v.toFixed(5))).toEqual(Array.from(values.slice(last, last + 8)).map((v) => v.toFixed(5)));
  });

  it.skipIf(!addon)('native sgemm agrees with TypeScript across micro-tile edges and split K', () => {
    const rng = new Rng(13);
    for (const [M, N, K] of [
      [1, 1, 1],
      [13, 33, 7],
      [31, 17, 300],
      [129, 65, 513],
      [7, 344, 129],
    ]) {
      for (const [ta, tb] of [
        [false, true],
        [true, false],
        [false, false],
      ] as const) {
        const A = Float32Array.from({ length: M * K }, () => rng.normal());
        const B = Float32Array.from({ length: K * N }, () => rng.normal());
        const C0 = Float32Array.from({ length: M * N }, () => rng.normal());
        const [Cjs, Cnative] = [C0.slice(), C0.slice()];
        jsKernels.sgemm(ta, tb, M, N, K, 1.3, A, 0, ta ? M : K, B, 0, tb ? K : N, 1, Cjs, 0, N);
        addon!.sgemm(ta, tb, M, N, K, 1.3, A, 0, ta ? M : K, B, 0, tb ? K : N, 1, Cnative, 0, N);
        let maxError = 0;
        for (let i = 0; i < Cjs.length; i++) maxError = Math.max(maxError, Math.abs(Cjs[i] - Cnative[i]) / (1 + Math.abs(Cjs[i])));
        expect(maxError, `${M}×${N}×${K} ${ta} ${tb}`).toBeLessThan(1e-5 * Math.sqrt(K) + 1e-6);
      }
    }
    // beta = 0 ignores what C held, NaN included; K = 0 scales C by beta
    const C = new Float32Array(4).fill(Number.NaN);
    addon!.sgemm(false, false, 2, 2, 1, 1, Float32Array.of(1, 2), 0, 1, Float32Array.of(3, 4), 0, 2, 0, C, 0, 2);
    expect(Array.from(C)).toEqual([3, 4, 6, 8]);
    addon!.sgemm(false, false, 2, 2, 0, 1, new Float32Array(0), 0, 0, new Float32Array(0), 0, 2, 0.5, C, 0, 2);
    expect(Array.from(C)).toEqual([1.5, 2, 3, 4]);
  });

  it.skipIf(!addon)('native layer kernels agree with the TypeScript ones', () => {
    const rng = new Rng(14);
    const normal = (n: number, s = 1) => Float32Array.from({ length: n }, () => rng.normal() * s);
    const maxDiff = (u: Float32Array, v: Float32Array) => u.reduce((m, ui, i) => Math.max(m, Math.abs(ui - v[i]) / (1 + Math.abs(ui))), 0);
    const both = (make: () => Float32Array[], apply: (k: Kernels, buffers: Float32Array[]) => void) => {
      const first = make();
      const second = first.map((b) => b.slice());
      apply(jsKernels, first);
      apply(addon!, second);
      return first.map((b, i) => maxDiff(b, second[i]));
    };
    // RMSNorm forward and backward (accumulating into existing gradients)
    const [R, C] = [37, 40];
    const x = normal(R * C),
      w = normal(C),
      g = normal(R * C);
    for (const d of both(
      () => [new Float32Array(R * C), new Float32Array(R), normal(R * C), normal(C)],
      (k, [y, inv, dx, dw]) => {
        k.rmsNormForward(x, w, y, inv, R, C, 1e-5);
        k.rmsNormBackward(g, x, w, inv, dx, dw, R, C);
      },
    ))
      expect(d).toBeLessThan(1e-5);
    // rotary positions, into another buffer and in place (inverse)
    const positions = Int32Array.from({ length: R }, (_, r) => (r * 7) % 50);
    const table = ops.ropeTable(8, 10000, 64);
    for (const d of both(
      () => [normal(R * 32), new Float32Array(R * 32)],
      (k, [data, rotated]) => {
        k.rope(data, rotated, R, 4, 8, positions, table.cos, table.sin, false);
        k.rope(data, data, R, 4, 8, positions, table.cos, table.sin, true);
      },
    ))
      expect(d).toBeLessThan(1e-6);
    // scatter-add of rows with repeated indices (embedding and gatherRows backward)
    const indices = Int32Array.from([3, 0, 3, 7, 3]);
    const source = normal(5 * 16);
    for (const d of both(
      () => [normal(8 * 16)],
      (k, [target]) => k.scatterAddRows(source, indices, target, 5, 16),
    ))
      expect(d).toBe(0);
    // token log-probs with an ignored target, the backward both accumulating and overwriting in place
    const [N, V] = [9, 300];
    const logits = normal(N * V, 4);
    const targets = Int32Array.from([3, -100, 299, 0, 5, 6, 7, 8, 9]);
    const grad = normal(N);
    grad[4] = 0;
    for (const d of both(
      () => [new Float32Array(N * V), new Float32Array(N), normal(N * V)],
      (k, [probs, out, dLogits]) => {
        k.tokenLogProbs(logits, probs, targets, out, N, V);
        k.tokenLogProbsBackward(grad, probs, targets, dLogits, N, V, false);
        k.tokenLogProbsBackward(grad, probs, targets, probs, N, V, true);
      },
    ))
      expect(d).toBeLessThan(1e-5);
    // causal attention with grouped-query heads and left padding, forward and backward; the native
    // kernel skips the products' upper triangle in blocks of 32 rows, so one length spans 3 blocks
    // with padding that ends inside, at and past a block edge
    for (const [T, starts] of [
      [11, [0, 4, 10]],
      [70, [0, 32, 45]],
    ] as const) {
      const dims = { batch: 3, seqLen: T, heads: 4, kvHeads: 2, headDim: 8 };
      const rows = dims.batch * T;
      const [q, kk, vv, go] = [normal(rows * 32), normal(rows * 16), normal(rows * 16), normal(rows * 32)];
      const keyStart = Int32Array.from(starts);
      for (const d of both(
        () => [new Float32Array(3 * 4 * T * T), new Float32Array(rows * 32), normal(rows * 32), normal(rows * 16), normal(rows * 16)],
        (k, [probs, out, dq, dk, dv]) => {
          k.attentionForward(q, kk, vv, probs, out, dims, keyStart, 0.35);
          k.attentionBackward(go, q, kk, vv, probs, dq, dk, dv, dims, keyStart, 0.35);
        },
      ))
        expect(d, `T = ${T}`).toBeLessThan(1e-5);
    }
    // residual add, squared norm, and AdamW (the same double-precision arithmetic: the same bytes)
    const [a, b] = [normal(5000), normal(5000)];
    for (const d of both(
      () => [new Float32Array(5000)],
      (k, [out]) => k.add(a, b, out, 5000),
    ))
      expect(d).toBe(0);
    expect(addon!.sumSquares(a, 5000)).toBeCloseTo(jsKernels.sumSquares(a, 5000), 6);
    const step = { clip: 0.7, beta1: 0.9, beta2: 0.999, stepSize: 1e-3, correction2: 0.02, eps: 1e-8, decay: 0.9999 };
    const [w0, g0, m0, v0] = [normal(40000), normal(40000), normal(40000, 0.01), Float32Array.from({ length: 40000 }, () => rng.next())];
    const js = [w0, g0, m0, v0].map((t) => t.slice());
    const native = [w0, g0, m0, v0].map((t) => t.slice());
    jsKernels.adamw(js[0], js[1], js[2], js[3], 40000, step);
    addon!.adamw(native[0], native[1], native[2], native[3], 40000, step);
    for (let i = 0; i < 4; i++) expect(Buffer.from(native[i].buffer).equals(Buffer.from(js[i].buffer))).toBe(true);
    expect(native[1].every((v) => v === 0)).toBe(true);
  });

  it.skipIf(!addon)('native results are the same bytes with one thread or two', () => {
    const rng = new Rng(15);
    const normal = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
    const run = (threads: number, buffers: Float32Array[]) => {
      const previous = addon!.threads();
      addon!.setThreads(threads);
      try {
        const [A, B, C, logits, probs, out, x, y, inv, dx, dw] = buffers;
        // large enough that every kernel splits into several tasks
        addon!.sgemm(false, true, 300, 200, 150, 1, A, 0, 150, B, 0, 150, 0.5, C, 0, 200);
        addon!.sgemm(true, false, 200, 150, 300, 1, C, 0, 200, A, 0, 150, 1, B, 0, 150);
        addon!.tokenLogProbs(
          logits,
          probs,
          Int32Array.from({ length: 100 }, (_, i) => (i * 37) % 1000),
          out,
          100,
          1000,
        );
        addon!.rmsNormForward(x, x.subarray(0, 64), y, inv, 1000, 64, 1e-5);
        addon!.rmsNormBackward(y, x, x.subarray(0, 64), inv, dx, dw, 1000, 64);
      } finally {
        addon!.setThreads(previous);
      }
    };
    const make = () => [
      normal(300 * 150),
      normal(200 * 150),
      normal(300 * 200),
      normal(100 * 1000),
      new Float32Array(100 * 1000),
      new Float32Array(100),
      normal(64000),
      new Float32Array(64000),
      new Float32Array(1000),
      normal(64000),
      normal(64),
    ];
    const one = make();
    const two = one.map((b) => b.slice());
    run(1, one);
    run(2, two);
    one.forEach((b, i) => expect(Buffer.from(two[i].buffer).equals(Buffer.from(b.buffer)), `buffer ${i}`).toBe(true));
  });

  it.skipIf(!addon)('native kernels reject out-of-bounds operands instead of reading past the array', () => {
    const A = new Float32Array(4);
    expect(() => addon!.sgemm(false, false, 2, 2, 2, 1, A, 1, 2, A, 0, 2, 0, A, 0, 2)).toThrow(/out of bounds/);
    expect(() => addon!.rmsNormForward(A, A, A, A, 2, 4, 1e-5)).toThrow(/needed length/);
    expect(() => addon!.tokenLogProbs(A, A, Int32Array.of(0, 9), A, 2, 2)).toThrow(/vocabulary/);
    expect(() => addon!.scatterAddRows(A, Int32Array.of(0, 2), A, 2, 2)).toThrow(/outside the target/);
    expect(() => addon!.attentionForward(A, A, A, A, A, { batch: 1, seqLen: 2, heads: 1, kvHeads: 1, headDim: 4 }, null, 1)).toThrow(/needed length/);
  });
});
