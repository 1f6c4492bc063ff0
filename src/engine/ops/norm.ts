/**
 * RMSNorm over the last dimension (Llama): y = x / sqrt(mean(x²) + eps) · w.
 */
import { assert } from '../../core/errors.js';
import { Tensor, record } from '../tensor.js';

export function rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
  const C = x.cols;
  const R = x.rows;
  assert(weight.size === C, () => `rmsNorm: weight ${weight.name} has ${weight.size} entries, input has ${C} features`);
  const out = Tensor.empty(x.shape);
  const inv = new Float32Array(R); // 1/rms per row, kept for backward
  const xd = x.data;
  const w = weight.data;
  const y = out.data;
  for (let r = 0; r < R; r++) {
    const o = r * C;
    let ss = 0;
    for (let c = 0; c < C; c++) ss += xd[o + c] * xd[o + c];
    const s = 1 / Math.sqrt(ss / C + eps);
    inv[r] = s;
    for (let c = 0; c < C; c++) y[o + c] = xd[o + c] * s * w[c];
  }
  record([x, weight], out, () => {
    const g = out.grad;
    if (!g) return;
    if (weight.requiresGrad) {
      const gw = weight.gradBuffer();
      for (let r = 0; r < R; r++) {
        const o = r * C;
        const s = inv[r];
        for (let c = 0; c < C; c++) gw[c] += g[o + c] * xd[o + c] * s;
      }
    }
    if (x.requiresGrad) {
      const gx = x.gradBuffer();
      for (let r = 0; r < R; r++) {
        const o = r * C;
        const s = inv[r];
        // dx = s·(w∘g) − s³/C · x · Σ(w∘g∘x)
        let dot = 0;
        for (let c = 0; c < C; c++) dot += w[c] * g[o + c] * xd[o + c];
        const k = (s * s * s * dot) / C;
        for (let c = 0; c < C; c++) gx[o + c] += s * w[c] * g[o + c] - k * xd[o + c];
      }
    }
  });
  return out;
}
