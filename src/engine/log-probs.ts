/**
 * The seam between the engine and every training objective: summed log-probs of the scored
 * tokens of a batch of sequences, as a differentiable (B) tensor. SFT, DPO and the future-reward
 * regression are all written as scalars built from it. Only scored positions reach the LM head.
 */
import { assert } from '../core/errors.js';
import type { LlamaModel, TokenBatch } from './nn/llama.js';
import * as ops from './ops/index.js';
import { Tensor } from './tensor.js';

/** One token sequence and which of its tokens are scored (1) or context (0). */
export interface ScoredSequence {
  ids: ArrayLike<number>;
  mask: ArrayLike<number>;
}

interface PackedBatch {
  batch: TokenBatch;
  /** row of the hidden state that predicts each scored token */
  rows: Int32Array;
  targets: Int32Array;
  /** sequence index of each scored token */
  segments: Int32Array;
}

/** Right-pads to the longest sequence and lists (row, target) for every scored token. */
export function packSequences(sequences: readonly ScoredSequence[], padId: number, maxPositions: number): PackedBatch {
  assert(sequences.length > 0, 'packSequences: empty batch');
  let T = 0;
  let scored = 0;
  sequences.forEach((s, i) => {
    assert(s.ids.length === s.mask.length, () => `sequence ${i}: ${s.ids.length} ids but ${s.mask.length} mask entries`);
    assert(s.ids.length <= maxPositions, () => `sequence ${i} has ${s.ids.length} tokens, more than the model's maxPositions ${maxPositions}; truncate it first`);
    T = Math.max(T, s.ids.length);
    for (let t = 1; t < s.ids.length; t++) if (s.mask[t]) scored++;
  });
  const B = sequences.length;
  const ids = new Int32Array(B * T).fill(padId);
  const rows = new Int32Array(scored);
  const targets = new Int32Array(scored);
  const segments = new Int32Array(scored);
  let n = 0;
  sequences.forEach((s, b) => {
    for (let t = 0; t < s.ids.length; t++) ids[b * T + t] = s.ids[t];
    // The first token has no prediction; a mask on it is ignored.
    for (let t = 1; t < s.ids.length; t++) {
      if (!s.mask[t]) continue;
      rows[n] = b * T + t - 1;
      targets[n] = s.ids[t];
      segments[n] = b;
      n++;
    }
  });
  return { batch: { ids, batch: B, seqLen: T }, rows, targets, segments };
}

function scoredTokenLogProbs(model: LlamaModel, packed: PackedBatch): Tensor {
  const hidden = model.forwardHidden(packed.batch);
  const logits = model.logits(ops.gatherRows(hidden, packed.rows));
  return ops.tokenLogProbs(logits, packed.targets);
}

/** Σ log p(scored tokens) per sequence → (B). Differentiable when the tape records. */
export function sequenceLogProbs(model: LlamaModel, sequences: readonly ScoredSequence[], padId: number): Tensor {
  const packed = packSequences(sequences, padId, model.config.maxPositions);
  if (packed.rows.length === 0) return Tensor.zeros([sequences.length]);
  return ops.segmentSum(scoredTokenLogProbs(model, packed), packed.segments, sequences.length);
}

/** Mean cross-entropy over all scored tokens of the batch (SFT / language modelling). */
export function languageModelLoss(model: LlamaModel, sequences: readonly ScoredSequence[], padId: number): { loss: Tensor; tokens: number } {
  const packed = packSequences(sequences, padId, model.config.maxPositions);
  const tokens = packed.rows.length;
  assert(tokens > 0, 'languageModelLoss: no scored tokens in the batch');
  const loss = ops.scale(ops.sum(scoredTokenLogProbs(model, packed)), -1 / tokens);
  return { loss, tokens };
}
