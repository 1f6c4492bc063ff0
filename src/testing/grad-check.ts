/**
 * Finite-difference gradient checking (llm.c's check_tensor, no PyTorch needed): compares the
 * tape's gradient of a random projection Σ rᵢ·outᵢ with central differences, input by input.
 */
import { Rng } from '../core/rng.js';
import { Tensor, backward, clearTape, noGrad } from '../engine/tensor.js';

export interface GradCheckResult {
  maxAbsError: number;
  maxRelError: number;
  worst: string;
  checked: number;
}

export function randomTensor(rng: Rng, shape: number[], scale = 1, requiresGrad = true): Tensor {
  const t = Tensor.zeros(shape, requiresGrad);
  for (let i = 0; i < t.size; i++) t.data[i] = rng.normal() * scale;
  return t;
}

/**
 * `build` maps the inputs to any tensor; the check projects it on fixed random weights.
 * Entries are sampled (at most `samplesPerInput` per input) to keep the check fast.
 */
export function gradCheck(build: (inputs: Tensor[]) => Tensor, inputs: Tensor[], options: { eps?: number; samplesPerInput?: number; seed?: number } = {}): GradCheckResult {
  const eps = options.eps ?? 1e-2;
  const rng = new Rng(options.seed ?? 7);
  clearTape();
  for (const x of inputs) x.grad = null;
  const first = build(inputs);
  const projection = new Float32Array(first.size);
  for (let i = 0; i < projection.length; i++) projection[i] = rng.normal();
  const objective = (out: Tensor): number => {
    let s = 0;
    for (let i = 0; i < out.size; i++) s += projection[i] * out.data[i];
    return s;
  };
  // Analytic: seed out.grad with the projection and replay the tape through a scalar wrapper.
  first.grad = Float32Array.from(projection);
  const seedScalar = new Tensor(Float32Array.of(objective(first)), [], false);
  backward(seedScalar, 0); // replays the tape; the seed only touches the unused scalar
  let maxAbsError = 0;
  let maxRelError = 0;
  let worst = '';
  let checked = 0;
  inputs.forEach((x, inputIndex) => {
    if (!x.requiresGrad) return;
    const analytic = x.grad ?? new Float32Array(x.size);
    const count = Math.min(x.size, options.samplesPerInput ?? 24);
    for (let s = 0; s < count; s++) {
      const i = count === x.size ? s : rng.int(x.size);
      const original = x.data[i];
      x.data[i] = original + eps;
      const plus = noGrad(() => objective(build(inputs)));
      x.data[i] = original - eps;
      const minus = noGrad(() => objective(build(inputs)));
      x.data[i] = original;
      const numeric = (plus - minus) / (2 * eps);
      const error = Math.abs(numeric - analytic[i]);
      const rel = error / Math.max(1, Math.abs(numeric), Math.abs(analytic[i]));
      checked++;
      if (rel > maxRelError) {
        maxRelError = rel;
        worst = `input ${inputIndex}[${i}]: analytic ${analytic[i]}, numeric ${numeric}`;
      }
      maxAbsError = Math.max(maxAbsError, error);
    }
  });
  return { maxAbsError, maxRelError, worst, checked };
}
