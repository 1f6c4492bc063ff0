/**
 * Our checkpoints as a CompletionModel, in-process: a raw prompt (special tokens allowed) is
 * continued by the engine, and the first generated token's top-k log-probs are read from the
 * prompt's last-position logits — what a server's `/v1/completions` with `logprobs: k` returns.
 * So every judge written against CompletionModel (Llama Guard format, HarmBench) runs on a
 * checkpoint of ours without a server.
 */
import type { ChatResponse, CompletionModel, CompletionRequest, TokenLogprob } from '../../core/models.js';
import { Rng } from '../../core/rng.js';
import { generate, headLogits, lastHidden } from '../../engine/generate.js';
import { withBufferScope } from '../../engine/memory.js';
import { KvCache, type LlamaModel } from '../../engine/nn/llama.js';
import { noGrad } from '../../engine/tensor.js';
import type { ByteLevelBpeTokenizer } from '../../engine/tokenizer/byte-level-bpe.js';
import { ChatTemplate } from '../chat-template.js';

/** The k most likely next tokens after `ids`, as log-probs (log-softmax of the last position's logits). */
export function nextTokenTopLogprobs(model: LlamaModel, tokenizer: ByteLevelBpeTokenizer, ids: readonly number[], k: number): TokenLogprob[] {
  const logits = noGrad(() =>
    withBufferScope(() => {
      const cache = new KvCache(model, 1, ids.length, Int32Array.from([0]));
      return Float32Array.from(headLogits(model, lastHidden(model, cache, Int32Array.from(ids), ids.length), 1));
    }),
  );
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  const logZ = max + Math.log(sum);
  const order = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a] || a - b);
  return order.slice(0, k).map((id) => ({ token: tokenizer.decode([id]), logprob: logits[id] - logZ }));
}

export class LocalCompletionModel implements CompletionModel {
  private readonly template: ChatTemplate;

  constructor(
    readonly id: string,
    private readonly model: LlamaModel,
    private readonly tokenizer: ByteLevelBpeTokenizer,
  ) {
    this.template = new ChatTemplate(tokenizer);
  }

  async complete(requests: readonly CompletionRequest[]): Promise<ChatResponse[]> {
    return requests.map((request) => {
      const limit = this.model.config.maxPositions;
      const maxTokens = Math.max(1, Math.min(request.sampling.maxTokens, limit - 2));
      let ids = this.tokenizer.encode(request.prompt, { allowSpecial: true });
      if (ids.length === 0) return { text: '', finishReason: 'error', error: 'empty prompt', usage: { promptTokens: 0, completionTokens: 0 } };
      // Keep the end of an over-long prompt (where the question to the model is), leaving room to answer.
      if (ids.length + maxTokens > limit) ids = ids.slice(ids.length + maxTokens - limit);
      const firstTokenLogprobs = request.topLogprobs ? nextTokenTopLogprobs(this.model, this.tokenizer, ids, request.topLogprobs) : undefined;
      const [result] = generate(this.model, [ids], {
        padId: this.template.padId,
        rng: new Rng(request.seed ?? 0),
        settings: { temperature: request.sampling.temperature, topP: request.sampling.topP, maxNewTokens: maxTokens, stopTokenIds: [this.template.endId] },
      });
      let text = this.template.decode(result.tokens);
      for (const stop of request.sampling.stop ?? []) {
        const at = text.indexOf(stop);
        if (at >= 0) text = text.slice(0, at);
      }
      return { text, finishReason: result.finishReason, usage: { promptTokens: ids.length, completionTokens: result.tokens.length }, ...(firstTokenLogprobs ? { firstTokenLogprobs } : {}) };
    });
  }
}
