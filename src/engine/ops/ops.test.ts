import { describe, expect, it } from 'vitest';
import { Rng } from '../../core/rng.js';
import { gradCheck, randomTensor } from '../../testing/grad-check.js';
import { blasKernels, jsKernels, withKernels, type Kernels } from '../kernels/index.js';
import { Tensor } from '../tensor.js';
import * as ops from './index.js';

const TOLERANCE = 2e-3;

const kernelSets: Kernels[] = [jsKernels];
const loaded = blasKernels();
// .ci/run sets MTSA_REQUIRE_BLAS=1 where OpenBLAS is installed, so the BLAS tests cannot drop out quietly.
if (!loaded.kernels && process.env.MTSA_REQUIRE_BLAS === '1') throw new Error(`MTSA_REQUIRE_BLAS=1 but the OpenBLAS kernels did not load: ${loaded.reason}`);
const blas = loaded.kernels;
if (blas) kernelSets.push(blas);

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
  it.skipIf(!blas)('BLAS and TypeScript sgemm agree on strided, transposed, accumulating products', () => {
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
      const Cblas = C0.slice();
      jsKernels.sgemm(ta, tb, M, N, K, 0.7, A, 2, lda, B, 1, ldb, 0.5, Cjs, 3, ldc);
      blas!.sgemm(ta, tb, M, N, K, 0.7, A, 2, lda, B, 1, ldb, 0.5, Cblas, 3, ldc);
      let maxError = 0;
      for (let i = 0; i < Cjs.length; i++) maxError = Math.max(maxError, Math.abs(Cjs[i] - Cblas[i]));
      expect(maxError).toBeLessThan(1e-4);
    }
  });

  it.skipIf(!blas)('native softmax, causal softmax and SwiGLU agree with the TypeScript kernels', () => {
    const rng = new Rng(10);
    const rows = 5,
      cols = 300;
    const x = Float32Array.from({ length: rows * cols + 7 }, () => rng.normal() * 6);
    const [a, b] = [x.slice(), x.slice()];
    const [lseA, lseB] = [new Float32Array(rows), new Float32Array(rows)];
    jsKernels.softmaxRows(a, 7, rows, cols, lseA);
    blas!.softmaxRows(b, 7, rows, cols, lseB);
    const maxDiff = (u: Float32Array, v: Float32Array) => u.reduce((m, ui, i) => Math.max(m, Math.abs(ui - v[i])), 0);
    expect(maxDiff(a, b)).toBeLessThan(1e-6);
    expect(maxDiff(lseA, lseB)).toBeLessThan(1e-4);

    const T = 9,
      blocks = 3;
    const scores = Float32Array.from({ length: blocks * T * T }, () => rng.normal() * 4);
    const [c, d] = [scores.slice(), scores.slice()];
    jsKernels.causalSoftmax(c, 0, blocks, T, 2);
    blas!.causalSoftmax(d, 0, blocks, T, 2);
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
    blas!.swigluForward(gate, up, outs[1], sigs[1], n);
    expect(maxDiff(outs[0], outs[1])).toBeLessThan(1e-5);
    expect(maxDiff(sigs[0], sigs[1])).toBeLessThan(1e-6);
  });

  it.skipIf(!blas)('native cached attention agrees with the TypeScript kernel', () => {
    const rng = new Rng(12);
    const shape = { batch: 3, heads: 4, kvHeads: 2, headDim: 8, capacity: 11, length: 9 };
    const width = shape.kvHeads * shape.headDim;
    const q = Float32Array.from({ length: shape.batch * shape.heads * shape.headDim }, () => rng.normal());
    const keys = Float32Array.from({ length: shape.batch * shape.capacity * width }, () => rng.normal());
    const values = Float32Array.from({ length: shape.batch * shape.capacity * width }, () => rng.normal());
    const start = Int32Array.from([0, 3, 8]);
    const outs = [new Float32Array(q.length), new Float32Array(q.length)];
    jsKernels.attendCached(q, keys, values, outs[0], start, shape, 0.35);
    blas!.attendCached(q, keys, values, outs[1], start, shape, 0.35);
    let maxDiff = 0;
    for (let i = 0; i < q.length; i++) maxDiff = Math.max(maxDiff, Math.abs(outs[0][i] - outs[1][i]));
    expect(maxDiff).toBeLessThan(1e-5);
    // sequence 2 sees only its last position: its output is that value row
    const last = 2 * shape.capacity * width + 8 * width;
    expect(Array.from(outs[0].slice(2 * 32, 2 * 32 + 8)).map((v) => v.toFixed(5))).toEqual(Array.from(values.slice(last, last + 8)).map((v) => v.toFixed(5)));
  });

  it.skipIf(!blas)('BLAS rejects out-of-bounds operands instead of reading past the array', () => {
    const A = new Float32Array(4);
    expect(() => blas!.sgemm(false, false, 2, 2, 2, 1, A, 1, 2, A, 0, 2, 0, A, 0, 2)).toThrow(/out of bounds/);
  });
});
