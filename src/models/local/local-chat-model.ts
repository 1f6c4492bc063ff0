/**
 * A chat model run by the project's own engine: a Llama checkpoint plus the mtsa chat template.
 * Requests are batched by prompt length; each request may carry its own sampling settings and
 * seed. Stop strings are enforced by decoding as tokens arrive.
 */
import type { ChatModel, ChatRequest, ChatResponse } from '../../core/models.js';
import { PrefixStore } from '../../engine/prefix-store.js';
import type { Message } from '../../core/message.js';
import { promptTokens, replyReserve } from '../scored-encoding.js';
import { Rng } from '../../core/rng.js';
import { generate } from '../../engine/generate.js';
import type { LlamaModel } from '../../engine/nn/llama.js';
import type { ByteLevelBpeTokenizer } from '../../engine/tokenizer/byte-level-bpe.js';
import { ChatTemplate } from '../chat-template.js';

export interface LocalModelOptions {
  id: string;
  /** most sequences sampled in one batch */
  maxBatch?: number;
  /** seed for requests that carry none */
  seed?: number;
  /**
   * Prefix reuse: the most key/value bytes kept per reuse scope (a request's `reuse`; one batch of
   * dialogues) for this model; 0 turns reuse off. Default 256 MiB.
   */
  prefixCacheBytes?: number;
}

/**
 * 256 MiB: a position costs 2 · layers · KV heads · head size · 4 bytes (2 KiB for the arena's
 * attacker and target), so this holds 128k positions — 128 dialogues of 1000 tokens each.
 */
const DEFAULT_PREFIX_CACHE_BYTES = 256 * 2 ** 20;

export class LocalChatModel implements ChatModel {
  readonly id: string;
  readonly template: ChatTemplate;
  protected readonly maxBatch: number;
  private readonly fallbackRng: Rng;
  private readonly prefixCacheBytes: number;

  constructor(
    readonly model: LlamaModel,
    readonly tokenizer: ByteLevelBpeTokenizer,
    options: LocalModelOptions,
  ) {
    this.id = options.id;
    this.template = new ChatTemplate(tokenizer);
    this.maxBatch = options.maxBatch ?? 64;
    this.fallbackRng = new Rng(options.seed ?? 0).fork(`chat:${options.id}`);
    this.prefixCacheBytes = options.prefixCacheBytes ?? DEFAULT_PREFIX_CACHE_BYTES;
  }

  /** the prefix store of a request's reuse scope (none without a scope or with reuse off) */
  private prefixStore(request: ChatRequest): PrefixStore | undefined {
    if (!request.reuse || this.prefixCacheBytes <= 0) return undefined;
    return request.reuse.stateOf(this, () => new PrefixStore(this.model, this.prefixCacheBytes));
  }

  /**
   * Prompt tokens for a request, dropping the oldest non-system turns when the prompt would not
   * leave `reserve` positions for the reply (the system prompt, e.g. the attacker's goal, is kept).
   */
  promptTokens(messages: readonly Message[], generationRole: Message['role'], reserve: number): number[] {
    return promptTokens(this.template, messages, generationRole, this.model.config.maxPositions, reserve);
  }

  /** the reserve generate() leaves for a reply sampled with `maxTokens` after `prefill` */
  replyReserve(maxTokens: number, prefill?: string): number {
    return replyReserve(this.template, this.model.config.maxPositions, maxTokens, prefill);
  }

  private lineBreaks?: ReadonlySet<number>;

  /** every (non-special) token whose text contains a line break */
  lineBreakTokens(): ReadonlySet<number> {
    this.lineBreaks ??= new Set(this.template.lineBreakTokens());
    return this.lineBreaks;
  }

  async generate(requests: readonly ChatRequest[]): Promise<ChatResponse[]> {
    const prepared = requests.map((request, index) => {
      const maxTokens = Math.max(1, Math.min(request.sampling.maxTokens, this.model.config.maxPositions - 8));
      const prefill = request.prefill ? this.template.encodeContent(request.prefill) : [];
      const ids = [...this.promptTokens(request.messages, request.generationRole ?? 'assistant', this.replyReserve(request.sampling.maxTokens, request.prefill)), ...prefill];
      const store = this.prefixStore(request);
      // positions a prefill must run for this prompt: all of them, less what the scope holds
      const uncached = ids.length - (store?.reusable(ids, ids.length - 1) ?? 0);
      return { index, request, ids, maxTokens: Math.min(maxTokens, this.model.config.maxPositions - ids.length), store, uncached };
    });
    // Batches within each reuse scope (in the order scopes first appear), by the positions left to
    // prefill: a batch prefills as many positions for every row as its row with the most needs.
    // Without reuse that is the prompt length.
    const scopes = [...new Set(prepared.map((item) => item.store))];
    const order = [...prepared].sort((a, b) => scopes.indexOf(a.store) - scopes.indexOf(b.store) || a.uncached - b.uncached || a.ids.length - b.ids.length || a.index - b.index);
    const batches: (typeof order)[] = [];
    for (const item of order) {
      const last = batches.at(-1);
      if (last && last.length < this.maxBatch && last[0].store === item.store) last.push(item);
      else batches.push([item]);
    }
    const responses: ChatResponse[] = new Array(requests.length);
    for (const batch of batches) {
      const rngs = batch.map((item) => (item.request.seed !== undefined ? new Rng(item.request.seed) : this.fallbackRng.fork(this.fallbackRng.nextUint32())));
      const stops = batch.map((item) => item.request.sampling.stop ?? []);
      const results = generate(
        this.model,
        batch.map((item) => item.ids),
        {
          padId: this.template.padId,
          rng: rngs,
          settings: batch.map((item) => ({
            temperature: item.request.sampling.temperature,
            topP: item.request.sampling.topP,
            maxNewTokens: item.maxTokens,
            stopTokenIds: [this.template.endId],
            ...(item.request.afterFirstLine ? { force: { after: this.lineBreakTokens(), tokens: this.template.encodeContent(item.request.afterFirstLine) } } : {}),
          })),
          shouldStop: (b, tokens) => stops[b].length > 0 && stops[b].some((stop) => this.template.decode(tokens).includes(stop)),
          prefixes: batch[0].store,
        },
      );
      results.forEach((result, b) => {
        const item = batch[b];
        let text = this.template.decode(result.tokens);
        for (const stop of stops[b]) {
          const at = text.indexOf(stop);
          if (at >= 0) text = text.slice(0, at);
        }
        text = (item.request.prefill ?? '') + text;
        responses[item.index] = {
          text: text.trim(),
          finishReason: result.finishReason,
          usage: { promptTokens: item.ids.length, completionTokens: result.tokens.length },
        };
      });
    }
    return responses;
  }
}
