/**
 * A TrainablePolicy (and ChatModel) run by PyTorch in a worker process (python/mtsa_worker.py).
 * Tokenisation stays ours: the chat template renders conversations and the worker receives token
 * ids and masks of scored tokens. A training step is one forward in the worker (graph kept), the
 * pure loss evaluated here on the returned log-probs, and the coefficients sent back for the
 * backward, clipping and AdamW step — never a second forward.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, NumericalError } from '../../core/errors.js';
import type { ChatRequest, ChatResponse, ScoredConversation, SequenceLoss, SequenceLossResult, SequenceScore, StepOptions, TrainStepResult, TrainablePolicy } from '../../core/models.js';
import { Rng } from '../../core/rng.js';
import { ByteLevelBpeTokenizer } from '../../engine/tokenizer/byte-level-bpe.js';
import { CHAT_TEMPLATE_ID, ChatTemplate } from '../chat-template.js';
import { encodeScored, promptTokens, replyReserve } from '../scored-encoding.js';
import { WorkerProcess } from './worker-process.js';

export interface LoraOptions {
  rank: number;
  alpha: number;
  /** module names to adapt (default: every attention and MLP projection) */
  targets?: string[];
}

/** How the worker runs the model (docs/torch-trainer.md). */
export interface TorchTrainerOptions {
  /** cpu, cuda or cuda:N */
  device?: string;
  dtype?: 'fp32' | 'bf16';
  /** train a LoRA adapter; the reference policy is then the adapter switched off */
  lora?: LoraOptions;
  gradientCheckpointing?: boolean;
  /** most padded tokens per forward (0: the whole step in one forward) */
  microBatchTokens?: number;
  /** CPU threads of the worker (0: PyTorch's default) */
  threads?: number;
  /** limit on one request, ms (default 30 minutes) */
  timeoutMs?: number;
  /** the Python interpreter (default: $MTSA_VENV/bin/python or <repo>/.venv/bin/python) */
  python?: string;
  /** data-parallel ranks under torchrun (one per GPU with device cuda; gloo on CPU); default 1 */
  processes?: number;
}

export interface TorchPolicyOptions extends TorchTrainerOptions {
  id: string;
  seed?: number;
  /** most sequences sampled in one batch */
  maxBatch?: number;
}

interface LoadReply {
  maxPositions: number;
  vocabSize: number;
  device: string;
  dtype: string;
  parameters: number;
  trainable: number;
}

export class TorchPolicy implements TrainablePolicy {
  readonly id: string;
  readonly template: ChatTemplate;
  private readonly maxBatch: number;
  private readonly fallbackRng: Rng;

  private constructor(
    readonly worker: WorkerProcess,
    readonly tokenizer: ByteLevelBpeTokenizer,
    readonly info: LoadReply,
    options: TorchPolicyOptions,
  ) {
    this.id = options.id;
    this.template = new ChatTemplate(tokenizer);
    this.maxBatch = options.maxBatch ?? 64;
    this.fallbackRng = new Rng(options.seed ?? 0).fork(`chat:${options.id}`);
  }

  /** Starts a worker and loads the checkpoint in `dir` (HF layout with our tokenizer.json). */
  static async open(dir: string, options: TorchPolicyOptions): Promise<TorchPolicy> {
    let tokenizer: ByteLevelBpeTokenizer;
    try {
      tokenizer = ByteLevelBpeTokenizer.fromJSON(JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')));
    } catch (error) {
      throw new ConfigError(`${join(dir, 'tokenizer.json')}: cannot load the tokenizer (${(error as Error).message}); the torch trainer tokenises with mtsa's byte-level BPE tokenizer`);
    }
    const worker = new WorkerProcess({ name: `torch worker for ${options.id}`, python: options.python, timeoutMs: options.timeoutMs, processes: options.processes });
    const { device = 'cpu', dtype = 'fp32', lora, gradientCheckpointing = false, microBatchTokens = 0, threads = 0 } = options;
    try {
      const info = await worker.request<LoadReply>('load', { path: dir, options: { device, dtype, lora: lora ?? null, gradientCheckpointing, microBatchTokens, threads, seed: options.seed ?? 0 } });
      return new TorchPolicy(worker, tokenizer, info, options);
    } catch (error) {
      await worker.close();
      throw error;
    }
  }

  get maxPositions(): number {
    return this.info.maxPositions;
  }

  encode(item: ScoredConversation) {
    return encodeScored(this.template, item, this.maxPositions);
  }

  async scoreSequences(items: readonly ScoredConversation[], options: { reference?: boolean } = {}): Promise<SequenceScore[]> {
    if (items.length === 0) return [];
    const encoded = items.map((item) => this.encode(item));
    const reply = await this.worker.request<{ logProbs: number[] }>('score', { sequences: encoded.map(({ ids, mask }) => ({ ids, mask })), reference: Boolean(options.reference) });
    return reply.logProbs.map((logProb, i) => ({ logProb, tokens: encoded[i].tokens }));
  }

  async trainStep(items: readonly ScoredConversation[], lossOf: SequenceLoss, options: StepOptions): Promise<TrainStepResult> {
    const encoded = items.map((item) => this.encode(item));
    const forward = await this.worker.request<{ logProbs: number[] }>('train_forward', { sequences: encoded.map(({ ids, mask }) => ({ ids, mask })) });
    const scores: SequenceScore[] = forward.logProbs.map((logProb, i) => ({ logProb, tokens: encoded[i].tokens }));
    let result: SequenceLossResult;
    try {
      result = lossOf(scores);
      if (result.gradients.length !== items.length) throw new Error(`trainStep: the loss returned ${result.gradients.length} gradients for ${items.length} sequences`);
      const bad = result.gradients.findIndex((g) => !Number.isFinite(g));
      if (bad >= 0) throw new NumericalError(`trainStep: the loss's gradient for sequence ${bad} is ${result.gradients[bad]}`);
    } catch (error) {
      await this.worker.request('train_abort');
      throw error;
    }
    const { gradNorm } = await this.worker.request<{ gradNorm: number }>('train_backward', {
      coefficients: result.gradients,
      lr: options.lr,
      maxGradNorm: options.maxGradNorm ?? 1,
      weightDecay: options.weightDecay ?? 0,
    });
    return { scores, result, gradNorm };
  }

  async snapshotReference(): Promise<void> {
    await this.worker.request('snapshot_reference');
  }

  async resetOptimizer(): Promise<void> {
    await this.worker.request('reset_optimizer');
  }

  async save(dir: string, metadata: Record<string, unknown> = {}): Promise<void> {
    await this.worker.request('save', { dir, metadata: { chatTemplate: CHAT_TEMPLATE_ID, ...metadata } });
  }

  async restore(dir: string): Promise<void> {
    await this.worker.request('restore', { dir });
  }

  async fingerprint(): Promise<number> {
    return (await this.worker.request<{ fingerprint: number }>('fingerprint')).fingerprint;
  }

  /** Ends the worker process. */
  async close(): Promise<void> {
    await this.worker.close();
  }

  /**
   * Sampling in the worker (batched, a seed per request). `afterFirstLine` is native: the worker
   * feeds its tokens right after the first sampled line-break token. Stop strings are cut here.
   */
  async generate(requests: readonly ChatRequest[]): Promise<ChatResponse[]> {
    const prepared = requests.map((request, index) => {
      const maxTokens = Math.max(1, Math.min(request.sampling.maxTokens, this.maxPositions - 8));
      const prefill = request.prefill ? this.template.encodeContent(request.prefill) : [];
      const ids = [
        ...promptTokens(
          this.template,
          request.messages,
          request.generationRole ?? 'assistant',
          this.maxPositions,
          replyReserve(this.template, this.maxPositions, request.sampling.maxTokens, request.prefill),
        ),
        ...prefill,
      ];
      const seed = request.seed ?? this.fallbackRng.nextUint32();
      return { index, request, ids, seed, maxTokens: Math.max(1, Math.min(maxTokens, this.maxPositions - ids.length)) };
    });
    const order = [...prepared].sort((a, b) => a.ids.length - b.ids.length || a.index - b.index);
    const responses: ChatResponse[] = new Array(requests.length);
    const needsForce = requests.some((r) => r.afterFirstLine);
    for (let i = 0; i < order.length; i += this.maxBatch) {
      const batch = order.slice(i, i + this.maxBatch);
      const reply = await this.worker.request<{ results: { tokens: number[]; finishReason: ChatResponse['finishReason'] }[] }>('generate', {
        padId: this.template.padId,
        forceAfter: needsForce ? this.template.lineBreakTokens() : [],
        requests: batch.map((item) => ({
          ids: item.ids,
          temperature: item.request.sampling.temperature,
          topP: item.request.sampling.topP,
          maxTokens: item.maxTokens,
          seed: item.seed,
          stopIds: [this.template.endId],
          ...(item.request.afterFirstLine ? { force: this.template.encodeContent(item.request.afterFirstLine) } : {}),
        })),
      });
      reply.results.forEach((result, b) => {
        const item = batch[b];
        let text = this.template.decode(result.tokens);
        let finishReason = result.finishReason;
        for (const stop of item.request.sampling.stop ?? []) {
          const at = text.indexOf(stop);
          if (at >= 0) {
            text = text.slice(0, at);
            finishReason = 'stop';
          }
        }
        text = (item.request.prefill ?? '') + text;
        responses[item.index] = { text: text.trim(), finishReason, usage: { promptTokens: item.ids.length, completionTokens: result.tokens.length } };
      });
    }
    return responses;
  }
}
