/**
 * Elementwise and reduction ops on same-shaped tensors. These build MTSA's losses (DPO's
 * −log σ(β·Δ), the future-reward regression's squared error) from per-sequence log-probs, so they
 * favour clarity over speed; the model's hot paths have fused ops elsewhere.
 */
import { assert } from '../../core/errors.js';
import { logSigmoidValue, sigmoidValue } from '../../core/math.js';
import { kernels } from '../kernels/index.js';
import { Tensor, accumulateGrad, accumulateGradCopy, addInto, record } from '../tensor.js';

function sameShape(a: Tensor, b: Tensor, op: string): void {
  assert(a.size === b.size && a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]), () => `${op}: shapes [${a.shape}] and [${b.shape}] differ`);
}

function unary(
  a: Tensor,
  forward: (x: number) => number,
  // derivative given input x and output y
  derivative: (x: number, y: number) => number,
): Tensor {
  const out = Tensor.zeros(a.shape);
  const x = a.data;
  const y = out.data;
  for (let i = 0; i < x.length; i++) y[i] = forward(x[i]);
  record([a], out, () => {
    const go = out.grad;
    if (!go) return;
    const g = a.gradBuffer();
    for (let i = 0; i < x.length; i++) g[i] += go[i] * derivative(x[i], y[i]);
  });
  return out;
}

export function add(a: Tensor, b: Tensor): Tensor {
  sameShape(a, b, 'add');
  const out = Tensor.empty(a.shape);
  kernels().add(a.data, b.data, out.data, out.size);
  record([a, b], out, () => {
    const go = out.grad;
    if (!go) return;
    // The output gradient is handed to one input and copied into the other (residual streams).
    if (a.requiresGrad && b.requiresGrad && a !== b) {
      accumulateGradCopy(b, go);
      accumulateGrad(a, go);
    } else if (a.requiresGrad) {
      if (a === b) addInto(a.gradBuffer(), go);
      accumulateGrad(a, go);
    } else if (b.requiresGrad) accumulateGrad(b, go);
    out.grad = null;
  });
  return out;
}

export function sub(a: Tensor, b: Tensor): Tensor {
  sameShape(a, b, 'sub');
  const out = Tensor.zeros(a.shape);
  for (let i = 0; i < out.size; i++) out.data[i] = a.data[i] - b.data[i];
  record([a, b], out, () => {
    const go = out.grad;
    if (!go) return;
    if (a.requiresGrad) addInto(a.gradBuffer(), go);
    if (b.requiresGrad) {
      const g = b.gradBuffer();
      for (let i = 0; i < g.length; i++) g[i] -= go[i];
    }
  });
  return out;
}

export function mul(a: Tensor, b: Tensor): Tensor {
  sameShape(a, b, 'mul');
  const out = Tensor.zeros(a.shape);
  for (let i = 0; i < out.size; i++) out.data[i] = a.data[i] * b.data[i];
  record([a, b], out, () => {
    const go = out.grad;
    if (!go) return;
    if (a.requiresGrad) {
      const g = a.gradBuffer();
      const bd = b.data;
      for (let i = 0; i < g.length; i++) g[i] += go[i] * bd[i];
    }
    if (b.requiresGrad) {
      const g = b.gradBuffer();
      const ad = a.data;
      for (let i = 0; i < g.length; i++) g[i] += go[i] * ad[i];
    }
  });
  return out;
}

/** a · s for a constant s. */
export function scale(a: Tensor, s: number): Tensor {
  return unary(
    a,
    (x) => x * s,
    () => s,
  );
}

/** a + s for a constant s. */
export function addScalar(a: Tensor, s: number): Tensor {
  return unary(
    a,
    (x) => x + s,
    () => 1,
  );
}

export function square(a: Tensor): Tensor {
  return unary(
    a,
    (x) => x * x,
    (x) => 2 * x,
  );
}

export function exp(a: Tensor): Tensor {
  return unary(a, Math.exp, (_x, y) => y);
}

export function log(a: Tensor): Tensor {
  return unary(a, Math.log, (x) => 1 / x);
}

export function sigmoid(a: Tensor): Tensor {
  return unary(a, sigmoidValue, (_x, y) => y * (1 - y));
}

/** log σ(x), computed stably for large |x| (DPO's loss is −log σ(β·margin)). */
export function logSigmoid(a: Tensor): Tensor {
  return unary(a, logSigmoidValue, (x) => 1 - sigmoidValue(x));
}

/** SiLU x·σ(x), the gate activation of SwiGLU (also fused in swiglu()). */
export function silu(a: Tensor): Tensor {
  return unary(
    a,
    (x) => x * sigmoidValue(x),
    (x) => {
      const s = sigmoidValue(x);
      return s * (1 + x * (1 - s));
    },
  );
}

export function sum(a: Tensor): Tensor {
  const out = Tensor.zeros([]);
  let s = 0;
  for (let i = 0; i < a.size; i++) s += a.data[i];
  out.data[0] = s;
  record([a], out, () => {
    if (!out.grad) return;
    const g = a.gradBuffer();
    const go = out.grad[0];
    for (let i = 0; i < g.length; i++) g[i] += go;
  });
  return out;
}

export function mean(a: Tensor): Tensor {
  assert(a.size > 0, 'mean of an empty tensor');
  return scale(sum(a), 1 / a.size);
}

export { logSigmoidValue, sigmoidValue };
