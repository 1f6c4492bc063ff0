/**
 * RMSNorm over the last dimension (Llama): y = x / sqrt(mean(x²) + eps) · w.
 */
import { assert } from '../../core/errors.js';
import { kernels } from '../kernels/index.js';
import { Tensor, record } from '../tensor.js';

export function rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
  const C = x.cols;
  const R = x.rows;
  assert(weight.size === C, () => `rmsNorm: weight ${weight.name} has ${weight.size} entries, input has ${C} features`);
  const out = Tensor.empty(x.shape);
  const inv = new Float32Array(R); // 1/rms per row, kept for backward
  kernels().rmsNormForward(x.data, weight.data, out.data, inv, R, C, eps);
  record([x, weight], out, () => {
    const g = out.grad;
    if (!g) return;
    // dx = s·(w∘g) − s³/C · x · Σ(w∘g∘x), dw = Σ_rows g∘x·s
    kernels().rmsNormBackward(g, x.data, weight.data, inv, x.requiresGrad ? x.gradBuffer() : null, weight.requiresGrad ? weight.gradBuffer() : null, R, C);
  });
  return out;
}
