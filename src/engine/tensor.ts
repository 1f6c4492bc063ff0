/**
 * Float32 tensors with reverse-mode autodiff on a tape, in the manner of llm.c: every op is a
 * forward that may push one backward closure onto the tape; `backward(loss)` replays the tape in
 * reverse. Gradients accumulate into `tensor.grad`. Not a general array library: shapes are
 * row-major and contiguous, and ops state exactly which layouts they accept.
 */
import { assert, NumericalError } from '../core/errors.js';
import { allocate, allocateCopy, allocateUninitialized } from './memory.js';

export type Shape = readonly number[];

export function shapeSize(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export class Tensor {
  readonly size: number;
  /** d(loss)/d(this); allocated on first accumulation. */
  grad: Float32Array | null = null;
  /** parameters: their gradients outlive a step, so they never come from the buffer pool */
  persistent = false;

  constructor(
    readonly data: Float32Array,
    readonly shape: Shape,
    /** true for parameters and for every op output computed from one while the tape records */
    public requiresGrad = false,
    public name = '',
  ) {
    this.size = shapeSize(shape);
    assert(data.length === this.size, () => `Tensor ${name}: data length ${data.length} does not match shape [${shape}]`);
  }

  /** A zero tensor; its buffer is pooled inside withBufferScope (see memory.ts). */
  static zeros(shape: Shape, requiresGrad = false, name = ''): Tensor {
    return new Tensor(allocate(shapeSize(shape)), shape, requiresGrad, name);
  }

  /** A tensor whose every entry the caller is about to write (may hold garbage until then). */
  static empty(shape: Shape): Tensor {
    return new Tensor(allocateUninitialized(shapeSize(shape)), shape);
  }

  /** A parameter: trainable, never pooled. */
  static parameter(data: Float32Array, shape: Shape, name: string): Tensor {
    const t = new Tensor(data, shape, true, name);
    t.persistent = true;
    return t;
  }

  static from(values: ArrayLike<number>, shape?: Shape, requiresGrad = false): Tensor {
    const data = Float32Array.from(values);
    return new Tensor(data, shape ?? [data.length], requiresGrad);
  }

  static scalar(value: number): Tensor {
    return new Tensor(Float32Array.of(value), []);
  }

  get rows(): number {
    return this.shape.length === 0 ? 1 : this.size / this.shape[this.shape.length - 1];
  }

  get cols(): number {
    return this.shape.length === 0 ? 1 : this.shape[this.shape.length - 1];
  }

  /** The value of a one-element tensor. */
  item(): number {
    assert(this.size === 1, () => `item() needs a one-element tensor, got shape [${this.shape}]`);
    return this.data[0];
  }

  /** The gradient buffer, allocated (zeroed) on first use. */
  gradBuffer(): Float32Array {
    this.grad ??= this.persistent ? new Float32Array(this.size) : allocate(this.size);
    return this.grad;
  }

  zeroGrad(): void {
    this.grad?.fill(0);
  }

  /** Same data, new shape (no copy; shares the gradient through a backward closure). */
  reshape(shape: Shape): Tensor {
    assert(shapeSize(shape) === this.size, () => `reshape: [${this.shape}] → [${shape}] changes the size`);
    const out = new Tensor(this.data, shape, false, this.name);
    record([this], out, () => {
      if (out.grad) addInto(this.gradBuffer(), out.grad);
    });
    return out;
  }

  /** A constant copy that the tape does not track. */
  detach(): Tensor {
    return new Tensor(this.data, this.shape, false, this.name);
  }
}

/**
 * Adds `source` into `tensor.grad`. When the tensor has no gradient yet it takes `source` itself
 * (no allocation, no pass): callers hand over a buffer nobody reads afterwards, such as the
 * gradient of an op's output once that op's backward runs (the tape replays in reverse, so every
 * consumer of the output has contributed by then).
 */
export function accumulateGrad(tensor: Tensor, source: Float32Array): void {
  // Parameters keep their own (unpooled) buffers: their gradients outlive the step's scope.
  if (!tensor.grad && !tensor.persistent) {
    tensor.grad = source;
    return;
  }
  addInto(tensor.gradBuffer(), source);
}

/** Adds a copy of `source` into the gradient (a copy when there is none yet: `source` stays in use). */
export function accumulateGradCopy(tensor: Tensor, source: Float32Array): void {
  if (!tensor.grad && !tensor.persistent) tensor.grad = allocateCopy(source);
  else addInto(tensor.gradBuffer(), source);
}

export function addInto(target: Float32Array, source: Float32Array): void {
  for (let i = 0; i < target.length; i++) target[i] += source[i];
}

type BackwardFn = () => void;

let tape: BackwardFn[] = [];
let recording = true;

/**
 * Makes `out` require grad and records `backward` when any input requires grad. Op authors call
 * this once per op; `backward` reads `out.grad` (which may be null if nothing downstream used it).
 */
export function record(inputs: readonly Tensor[], out: Tensor, backward: BackwardFn): void {
  if (!recording) return;
  for (const input of inputs) {
    if (input.requiresGrad) {
      out.requiresGrad = true;
      tape.push(backward);
      return;
    }
  }
}

/** Runs `fn` without recording (inference, reference-model log-probs, sampling). */
export function noGrad<T>(fn: () => T): T {
  const previous = recording;
  recording = false;
  try {
    return fn();
  } finally {
    recording = previous;
  }
}

/** Drops the tape without back-propagating (e.g. after an evaluation forward with grad on). */
export function clearTape(): void {
  tape = [];
}

/**
 * Back-propagates from a scalar: seeds d(loss)/d(loss) = seed (default 1), replays the tape in
 * reverse and clears it. Parameters' `.grad` accumulate across calls (gradient accumulation);
 * zero them in the optimizer step.
 */
export function backward(loss: Tensor, seed = 1): void {
  assert(loss.size === 1, () => `backward() needs a scalar loss, got shape [${loss.shape}]`);
  if (!Number.isFinite(loss.data[0])) throw new NumericalError(`backward(): loss is ${loss.data[0]}`);
  loss.gradBuffer()[0] += seed;
  const steps = tape;
  tape = [];
  for (let i = steps.length - 1; i >= 0; i--) steps[i]();
}
