/**
 * AdamW (decoupled weight decay, Loshchilov & Hutter) with global-norm gradient clipping.
 * Weight decay applies to matrices only, not to norm gains, as is usual for transformers.
 */
import { NumericalError } from '../../core/errors.js';
import { kernels } from '../kernels/index.js';
import type { Tensor } from '../tensor.js';

export interface AdamWOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** clip the global gradient norm to this value (0 or undefined: no clipping) */
  maxGradNorm?: number;
}

export interface StepStats {
  gradNorm: number;
  lr: number;
}

export class AdamW {
  private readonly m = new Map<Tensor, Float32Array>();
  private readonly v = new Map<Tensor, Float32Array>();
  step = 0;

  constructor(
    readonly params: readonly Tensor[],
    readonly options: AdamWOptions,
  ) {}

  /** Global L2 norm of all gradients (missing gradients count as zero). */
  gradNorm(): number {
    const k = kernels();
    let s = 0;
    for (const p of this.params) if (p.grad) s += k.sumSquares(p.grad, p.grad.length);
    return Math.sqrt(s);
  }

  /** One update with the given learning rate (default options.lr); zeroes the gradients. */
  update(lr = this.options.lr): StepStats {
    const { beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0, maxGradNorm = 0 } = this.options;
    const norm = this.gradNorm();
    if (!Number.isFinite(norm)) throw new NumericalError(`AdamW step ${this.step + 1}: gradient norm is ${norm}`);
    const clip = maxGradNorm > 0 && norm > maxGradNorm ? maxGradNorm / norm : 1;
    this.step++;
    const correction1 = 1 - beta1 ** this.step;
    const correction2 = 1 - beta2 ** this.step;
    const stepSize = lr / correction1;
    for (const p of this.params) {
      const g = p.grad;
      if (!g) continue;
      let m = this.m.get(p);
      let v = this.v.get(p);
      if (!m || !v) {
        m = new Float32Array(p.size);
        v = new Float32Array(p.size);
        this.m.set(p, m);
        this.v.set(p, v);
      }
      const decay = p.shape.length >= 2 ? 1 - lr * weightDecay : 1;
      // w ← w·decay − stepSize·m / (√(v/correction2) + eps), moments from the clipped gradient; zeroes g
      kernels().adamw(p.data, g, m, v, p.size, { clip, beta1, beta2, stepSize, correction2, eps, decay });
    }
    return { gradNorm: norm, lr };
  }

  zeroGrad(): void {
    for (const p of this.params) p.grad?.fill(0);
  }
}
