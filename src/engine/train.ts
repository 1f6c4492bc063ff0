/**
 * A small supervised trainer over scored sequences: seeded shuffling with length bucketing (less
 * padding), gradient accumulation, AdamW, warm-up + cosine schedule, clipping. Used for the arena's
 * models and for MTSA's Stage-1 SFT; preference losses have their own loops in training/.
 */
import { NumericalError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { languageModelLoss, type ScoredSequence } from './log-probs.js';
import { withBufferScope } from './memory.js';
import type { LlamaModel } from './nn/llama.js';
import { AdamW } from './optim/adamw.js';
import { learningRate } from '../core/lr-schedule.js';
import { backward, clearTape } from './tensor.js';

export interface TrainOptions {
  epochs: number;
  /** sequences per optimizer step (split into micro-batches by `accumulation`) */
  batchSize: number;
  accumulation?: number;
  lr: number;
  warmupRatio?: number;
  minLrRatio?: number;
  weightDecay?: number;
  maxGradNorm?: number;
  seed: number;
  padId: number;
  /** called after every optimizer step */
  onStep?: (stats: { step: number; totalSteps: number; loss: number; lr: number; gradNorm: number; tokens: number }) => void;
}

/**
 * Batches of indices: shuffled, then sorted by length inside windows of 64 batches so that each
 * batch holds sequences of similar length, then the batches themselves shuffled.
 */
export function lengthBucketedBatches(lengths: readonly number[], batchSize: number, rng: Rng): number[][] {
  const order = rng.shuffle(lengths.map((_, i) => i));
  const window = batchSize * 64;
  const batches: number[][] = [];
  for (let w = 0; w < order.length; w += window) {
    const chunk = order.slice(w, w + window).sort((a, b) => lengths[a] - lengths[b] || a - b);
    for (let i = 0; i < chunk.length; i += batchSize) batches.push(chunk.slice(i, i + batchSize));
  }
  return rng.shuffle(batches);
}

export interface TrainResult {
  steps: number;
  firstLoss: number;
  lastLoss: number;
  /** mean loss over the last 10% of steps */
  finalLoss: number;
  tokens: number;
  seconds: number;
}

export function trainLanguageModel(model: LlamaModel, data: readonly ScoredSequence[], options: TrainOptions): TrainResult {
  const rng = new Rng(options.seed);
  const accumulation = options.accumulation ?? 1;
  const micro = Math.max(1, Math.floor(options.batchSize / accumulation));
  const lengths = data.map((s) => s.ids.length);
  const epochs = Array.from({ length: options.epochs }, (_, e) => lengthBucketedBatches(lengths, micro, rng.fork(`epoch-${e}`)));
  const microBatches = epochs.flat();
  const totalSteps = Math.ceil(microBatches.length / accumulation);
  const optimizer = new AdamW([...model.params.values()], {
    lr: options.lr,
    weightDecay: options.weightDecay ?? 0,
    maxGradNorm: options.maxGradNorm ?? 1,
  });
  const schedule = { peak: options.lr, totalSteps, warmupRatio: options.warmupRatio ?? 0.1, minRatio: options.minLrRatio ?? 0.1 };
  const losses: number[] = [];
  let tokens = 0;
  const started = performance.now();
  for (let step = 0; step < totalSteps; step++) {
    const group = microBatches.slice(step * accumulation, (step + 1) * accumulation);
    let stepLoss = 0;
    let stepTokens = 0;
    for (const indices of group) {
      const batch = indices.map((i) => data[i]);
      const { loss, count } = withBufferScope(() => {
        clearTape();
        const result = languageModelLoss(model, batch, options.padId);
        const value = result.loss.item();
        if (!Number.isFinite(value)) throw new NumericalError(`training step ${step}: loss is ${value}`);
        backward(result.loss, 1 / group.length);
        return { loss: value, count: result.tokens };
      });
      stepLoss += loss / group.length;
      stepTokens += count;
    }
    const lr = learningRate(schedule, step);
    const { gradNorm } = optimizer.update(lr);
    losses.push(stepLoss);
    tokens += stepTokens;
    options.onStep?.({ step: step + 1, totalSteps, loss: stepLoss, lr, gradNorm, tokens });
  }
  const tail = losses.slice(-Math.max(1, Math.ceil(losses.length / 10)));
  return {
    steps: totalSteps,
    firstLoss: losses[0] ?? NaN,
    lastLoss: losses[losses.length - 1] ?? NaN,
    finalLoss: tail.reduce((a, b) => a + b, 0) / tail.length,
    tokens,
    seconds: (performance.now() - started) / 1000,
  };
}
