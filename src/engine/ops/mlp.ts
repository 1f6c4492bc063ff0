/**
 * SwiGLU's elementwise core, fused: silu(gate) ∘ up (the projections are plain `linear`s).
 */
import { assert } from '../../core/errors.js';
import { kernels } from '../kernels/index.js';
import { allocateUninitialized } from '../memory.js';
import { Tensor, record } from '../tensor.js';

export function swiglu(gate: Tensor, up: Tensor): Tensor {
  assert(gate.size === up.size, () => `swiglu: gate [${gate.shape}] and up [${up.shape}] differ`);
  const n = gate.size;
  const out = Tensor.empty(gate.shape);
  const gd = gate.data;
  const ud = up.data;
  const y = out.data;
  const sig = allocateUninitialized(n); // σ(gate), kept for backward
  kernels().swigluForward(gd, ud, y, sig, n);
  record([gate, up], out, () => {
    const g = out.grad;
    if (!g) return;
    kernels().swigluBackward(g, gd, ud, sig, gate.requiresGrad ? gate.gradBuffer() : null, up.requiresGrad ? up.gradBuffer() : null, n);
  });
  return out;
}
