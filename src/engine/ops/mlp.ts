/**
 * SwiGLU's elementwise core, fused: silu(gate) ∘ up (the projections are plain `linear`s).
 */
import { assert } from '../../core/errors.js';
import { Tensor, record } from '../tensor.js';

export function swiglu(gate: Tensor, up: Tensor): Tensor {
  assert(gate.size === up.size, () => `swiglu: gate [${gate.shape}] and up [${up.shape}] differ`);
  const n = gate.size;
  const out = Tensor.zeros(gate.shape);
  const gd = gate.data;
  const ud = up.data;
  const y = out.data;
  const sig = new Float32Array(n); // σ(gate), kept for backward
  for (let i = 0; i < n; i++) {
    const x = gd[i];
    const s = 1 / (1 + Math.exp(-x));
    sig[i] = s;
    y[i] = x * s * ud[i];
  }
  record([gate, up], out, () => {
    const g = out.grad;
    if (!g) return;
    const gg = gate.requiresGrad ? gate.gradBuffer() : null;
    const gu = up.requiresGrad ? up.gradBuffer() : null;
    for (let i = 0; i < n; i++) {
      const x = gd[i];
      const s = sig[i];
      if (gu) gu[i] += g[i] * x * s;
      // d silu/dx = σ(x)(1 + x(1 − σ(x)))
      if (gg) gg[i] += g[i] * ud[i] * s * (1 + x * (1 - s));
    }
  });
  return out;
}
