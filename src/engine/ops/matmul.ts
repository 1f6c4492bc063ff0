/**
 * Matrix products through the kernel interface. `linear` is the model's workhorse: weights are
 * stored (out, in) as in Hugging Face checkpoints, so y = x·Wᵀ.
 */
import { assert } from '../../core/errors.js';
import { kernels } from '../kernels/index.js';
import { allocateUninitialized } from '../memory.js';
import { Tensor, record } from '../tensor.js';

function dims(t: Tensor, transposed: boolean): [number, number] {
  assert(t.shape.length === 2, () => `matmul needs 2-D operands, got [${t.shape}]`);
  return transposed ? [t.shape[1], t.shape[0]] : [t.shape[0], t.shape[1]];
}

/** op(a)·op(b) for 2-D a, b, where op transposes when asked. */
export function matmul(a: Tensor, b: Tensor, transA = false, transB = false): Tensor {
  const [M, K] = dims(a, transA);
  const [K2, N] = dims(b, transB);
  assert(K === K2, () => `matmul: inner dimensions ${K} and ${K2} differ ([${a.shape}]${transA ? 'ᵀ' : ''} · [${b.shape}]${transB ? 'ᵀ' : ''})`);
  const out = Tensor.empty([M, N]);
  const lda = a.shape[1];
  const ldb = b.shape[1];
  kernels().sgemm(transA, transB, M, N, K, 1, a.data, 0, lda, b.data, 0, ldb, 0, out.data, 0, N);
  record([a, b], out, () => {
    const g = out.grad;
    if (!g) return;
    const k = kernels();
    if (a.requiresGrad) {
      // C = op(A)·op(B): dA = dC·op(B)ᵀ, transposed back when A was transposed.
      if (!transA) k.sgemm(false, !transB, M, K, N, 1, g, 0, N, b.data, 0, ldb, 1, a.gradBuffer(), 0, lda);
      else k.sgemm(transB, true, K, M, N, 1, b.data, 0, ldb, g, 0, N, 1, a.gradBuffer(), 0, lda);
    }
    if (b.requiresGrad) {
      if (!transB) k.sgemm(!transA, false, K, N, M, 1, a.data, 0, lda, g, 0, N, 1, b.gradBuffer(), 0, ldb);
      else k.sgemm(true, transA, N, K, M, 1, g, 0, N, a.data, 0, lda, 1, b.gradBuffer(), 0, ldb);
    }
  });
  return out;
}

/** x (N, in) · Wᵀ with W (out, in) → (N, out). */
export function linear(x: Tensor, weight: Tensor): Tensor {
  const N = x.rows;
  const inFeatures = x.cols;
  assert(weight.shape.length === 2 && weight.shape[1] === inFeatures, () => `linear: input has ${inFeatures} features, weight ${weight.name} is [${weight.shape}]`);
  const outFeatures = weight.shape[0];
  const out = Tensor.empty([N, outFeatures]);
  const k0 = kernels();
  k0.sgemm(false, true, N, outFeatures, inFeatures, 1, x.data, 0, inFeatures, weight.data, 0, inFeatures, 0, out.data, 0, outFeatures);
  record([x, weight], out, () => {
    const g = out.grad;
    if (!g) return;
    const k = kernels();
    // dx = dy · W ; dW += dyᵀ · x. When x has no gradient yet (a fresh activation, the usual case)
    // the product writes a new buffer instead of adding into a zeroed one.
    if (x.requiresGrad) {
      const fresh = !x.grad && !x.persistent;
      const dx = fresh ? (x.grad = allocateUninitialized(x.size)) : x.gradBuffer();
      k.sgemm(false, false, N, inFeatures, outFeatures, 1, g, 0, outFeatures, weight.data, 0, inFeatures, fresh ? 0 : 1, dx, 0, inFeatures);
    }
    if (weight.requiresGrad) k.sgemm(true, false, outFeatures, inFeatures, N, 1, g, 0, outFeatures, x.data, 0, inFeatures, 1, weight.gradBuffer(), 0, inFeatures);
  });
  return out;
}
