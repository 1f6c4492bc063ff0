/**
 * SwiGLU's elementwise core, fused: silu(gate) ∘ up (the projections are plain `linear`s).
 */
import { assert } from '../../core/errors.js';
import { kernels } from '../kernels/index.js';
import { allocate } from '../memory.js';
import { Tensor, record } from '../tensor.js';

export function swiglu(gate: Tensor, up: Tensor): Tensor {
  assert(gate.size === up.size, () => `swiglu: gate [${gate.shape}] and up [${up.shape}] differ`);
  const n = gate.size;
  const out = Tensor.zeros(gate.shape);
  const gd = gate.data;
  const ud = up.data;
  const y = out.data;
  const sig = allocate(n); // σ(gate), kept for backward
  kernels().swigluForward(gd, ud, y, sig, n);
  record([gate, up], out, () => {
    const g = out.grad;
    if (!g) return;
    // Separate loops per gradient: a nullable array tested inside a hot loop costs V8 3×.
    if (up.requiresGrad) {
      const gu = up.gradBuffer();
      for (let i = 0; i < n; i++) gu[i] += g[i] * gd[i] * sig[i];
    }
    if (gate.requiresGrad) {
      const gg = gate.gradBuffer();
      for (let i = 0; i < n; i++) {
        // d silu/dx = σ(x)(1 + x(1 − σ(x)))
        const x = gd[i];
        const s = sig[i];
        gg[i] += g[i] * ud[i] * s * (1 + x * (1 - s));
      }
    }
  });
  return out;
}
