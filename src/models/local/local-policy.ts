/**
 * The engine's TrainablePolicy: sequence log-probs of scored messages, gradients seeded by the
 * loss's per-sequence coefficients, AdamW steps, and a frozen reference snapshot.
 */
import type { ScoredConversation, SequenceLoss, SequenceLossResult, SequenceScore, StepOptions, TrainStepResult, TrainablePolicy } from '../../core/models.js';
import type { Message } from '../../core/message.js';
import { NumericalError } from '../../core/errors.js';
import { loadCheckpoint, saveCheckpoint } from '../../engine/checkpoint/hf-checkpoint.js';
import { firstNonFinite } from '../../engine/checkpoint/safetensors.js';
import type { ScoredSequence } from '../../engine/log-probs.js';
import { sequenceLogProbs } from '../../engine/log-probs.js';
import { withBufferScope } from '../../engine/memory.js';
import type { LlamaModel } from '../../engine/nn/llama.js';
import * as ops from '../../engine/ops/index.js';
import { AdamW } from '../../engine/optim/adamw.js';
import { Tensor, backward, clearTape, noGrad } from '../../engine/tensor.js';
import type { ByteLevelBpeTokenizer } from '../../engine/tokenizer/byte-level-bpe.js';
import { CHAT_TEMPLATE_ID, HF_CHAT_TEMPLATE } from '../chat-template.js';
import { encodeScored } from '../scored-encoding.js';
import { LocalChatModel, type LocalModelOptions } from './local-chat-model.js';

/** Tokens per forward pass when scoring or training (bounds memory). */
const TOKENS_PER_PASS = 8192;

export class LocalPolicy extends LocalChatModel implements TrainablePolicy {
  private reference: LlamaModel;
  private optimizer: AdamW;

  constructor(model: LlamaModel, tokenizer: ByteLevelBpeTokenizer, options: LocalModelOptions) {
    super(model, tokenizer, options);
    this.reference = model.clone();
    this.optimizer = new AdamW([...model.params.values()], { lr: 0 });
  }

  /**
   * Token ids and a 0/1 mask over the scored messages (content and closing <|end|>). A
   * conversation longer than the context is fitted the way generation fits it: the oldest
   * non-system messages before the first scored one are dropped (the system prompt, e.g. the
   * attacker's goal, stays), leaving the reserve generation left for the reply
   * (`generatedWith`, or the scored messages' own length). Only when the scored messages alone do
   * not fit is the sequence cut from the left, counting the scored tokens that survive.
   */
  encode(item: ScoredConversation): ScoredSequence & { tokens: number } {
    return encodeScored(this.template, item, this.model.config.maxPositions);
  }

  protected chunks<T extends { ids: ArrayLike<number> }>(items: T[]): T[][] {
    const out: T[][] = [];
    let current: T[] = [];
    let longest = 0;
    for (const item of items) {
      longest = Math.max(longest, item.ids.length);
      if (current.length > 0 && longest * (current.length + 1) > TOKENS_PER_PASS) {
        out.push(current);
        current = [];
        longest = item.ids.length;
      }
      current.push(item);
    }
    if (current.length) out.push(current);
    return out;
  }

  async scoreSequences(items: readonly ScoredConversation[], options: { reference?: boolean } = {}): Promise<SequenceScore[]> {
    const model = options.reference ? this.reference : this.model;
    const encoded = items.map((item, index) => ({ ...this.encode(item), index }));
    const sorted = [...encoded].sort((a, b) => a.ids.length - b.ids.length);
    const scores: SequenceScore[] = new Array(items.length);
    for (const chunk of this.chunks(sorted)) {
      const values = noGrad(() => withBufferScope(() => Array.from(sequenceLogProbs(model, chunk, this.template.padId).data)));
      chunk.forEach((item, i) => (scores[item.index] = { logProb: values[i], tokens: item.tokens }));
    }
    return scores;
  }

  /**
   * One forward with the tape recording (all chunks of the step), the loss on the read-out
   * log-probs, then one backward of Σ cᵢ · log πᵢ (its gradient is exactly Σ cᵢ ∇ log πᵢ) and AdamW.
   */
  async trainStep(items: readonly ScoredConversation[], lossOf: SequenceLoss, options: StepOptions): Promise<TrainStepResult> {
    const encoded = items.map((item, index) => ({ ...this.encode(item), index }));
    let scores: SequenceScore[] = [];
    let result: SequenceLossResult | undefined;
    withBufferScope(() => {
      clearTape();
      const chunks = this.chunks(encoded);
      const logProbs = chunks.map((chunk) => sequenceLogProbs(this.model, chunk, this.template.padId));
      scores = new Array(items.length);
      chunks.forEach((chunk, c) => {
        const values = logProbs[c].data;
        chunk.forEach((item, i) => (scores[item.index] = { logProb: values[i], tokens: item.tokens }));
      });
      result = lossOf(scores);
      const step = this.optimizer.step + 1;
      if (!Number.isFinite(result.loss))
        throw new NumericalError(`model ${this.id}: the training loss is ${result.loss} at optimiser step ${step}; the weights or the training data are broken (no update was applied)`);
      const gradients = result.gradients;
      if (!gradients.every(Number.isFinite)) throw new NumericalError(`model ${this.id}: the loss gradient is not finite at optimiser step ${step} (no update was applied)`);
      if (gradients.length !== items.length) throw new Error(`trainStep: the loss returned ${gradients.length} gradients for ${items.length} sequences`);
      const terms = chunks.map((chunk, c) => ops.sum(ops.mul(logProbs[c], Tensor.from(chunk.map((item) => gradients[item.index])))));
      backward(terms.reduce((a, b) => ops.add(a, b)));
    });
    this.optimizer.options.maxGradNorm = options.maxGradNorm ?? 1;
    this.optimizer.options.weightDecay = options.weightDecay ?? 0;
    let gradNorm: number;
    try {
      ({ gradNorm } = this.optimizer.update(options.lr));
    } catch (error) {
      if (error instanceof NumericalError) throw new NumericalError(`model ${this.id}: ${error.message}; no update was applied`, { cause: error });
      throw error;
    }
    this.assertFinite(`after optimiser step ${this.optimizer.step}`);
    return { scores, result: result as SequenceLossResult, gradNorm };
  }

  /** Throws a NumericalError naming this model and the first non-finite tensor (one pass: a sum of squares). */
  assertFinite(when: string): void {
    for (const [name, t] of this.model.params) {
      const broken = firstNonFinite(t.data);
      if (broken >= 0) throw new NumericalError(`model ${this.id}: weight "${name}" became ${t.data[broken]} ${when}; lower the learning rate or check the training data`);
    }
  }

  /**
   * log P(the reply opens with `answer`) for each prompt: the prompt, the assistant's turn opened,
   * then the answer's tokens without a closing <|end|> (how Llama Guard's verdict is read).
   */
  async scoreOpenings(prompts: readonly (readonly Message[])[], answer: string): Promise<number[]> {
    const answerIds = this.template.encodeContent(answer);
    const limit = this.model.config.maxPositions;
    const encoded = prompts.map((messages, index) => {
      let ids = [...this.template.render(messages, 'assistant').ids, ...answerIds];
      if (ids.length > limit) ids = ids.slice(ids.length - limit);
      const mask = ids.map((_, t) => (t >= ids.length - answerIds.length ? 1 : 0));
      return { ids, mask, index };
    });
    const sorted = [...encoded].sort((a, b) => a.ids.length - b.ids.length);
    const out = new Array<number>(prompts.length);
    for (const chunk of this.chunks(sorted)) {
      const values = noGrad(() => withBufferScope(() => Array.from(sequenceLogProbs(this.model, chunk, this.template.padId).data)));
      chunk.forEach((item, i) => (out[item.index] = values[i]));
    }
    return out;
  }

  async snapshotReference(): Promise<void> {
    this.reference.copyFrom(this.model);
  }

  async resetOptimizer(): Promise<void> {
    this.model.zeroGrad();
    this.optimizer = new AdamW([...this.model.params.values()], { lr: 0 });
  }

  async save(dir: string, metadata: Record<string, unknown> = {}): Promise<void> {
    this.assertFinite(`before saving ${dir}`);
    saveCheckpoint(dir, { model: this.model, tokenizer: this.tokenizer, metadata: { chatTemplate: CHAT_TEMPLATE_ID, ...metadata }, chat: HF_CHAT_TEMPLATE });
  }

  async restore(dir: string): Promise<void> {
    const { model } = loadCheckpoint(dir);
    this.model.copyFrom(model);
    await this.resetOptimizer();
  }

  async fingerprint(): Promise<number> {
    let s = 0;
    for (const t of this.model.params.values()) for (let i = 0; i < t.size; i += 7) s += t.data[i] * ((i % 13) + 1);
    return s;
  }
}
