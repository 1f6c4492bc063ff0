/**
 * Fakes with call logs (no module mocks): a scripted chat model, a rule-based judge, a constant
 * helpfulness scorer and a bag-of-characters embedder.
 */
import type { ChatModel, ChatRequest, ChatResponse, Embedder, HelpfulnessScorer, Judge, Judgement } from '../core/models.js';
import type { Message } from '../core/message.js';

export class ScriptedChatModel implements ChatModel {
  readonly calls: ChatRequest[] = [];

  constructor(
    readonly id: string,
    private readonly respond: (request: ChatRequest, index: number) => string,
  ) {}

  async generate(requests: readonly ChatRequest[]): Promise<ChatResponse[]> {
    return requests.map((request) => {
      const said = this.respond(request, this.calls.length);
      // Like LocalChatModel: the returned text is the prefill followed by what the model wrote
      // (a model that writes the prefill again gets it twice, as a real one would).
      let text = (request.prefill ?? '') + said;
      // A mid-reply prefill is forced right after the first line break the model writes; the
      // model's own words after it are kept as written (nothing is stripped: the engine strips nothing).
      if (request.afterFirstLine) {
        const at = text.indexOf('\n', request.prefill?.length ?? 0);
        if (at >= 0) text = `${text.slice(0, at + 1)}${request.afterFirstLine}${text.slice(at + 1)}`;
      }
      // …and ends before the first stop string after the prefill.
      const from = request.prefill?.length ?? 0;
      for (const stop of request.sampling.stop ?? []) {
        const at = text.indexOf(stop, from);
        if (at >= 0) text = text.slice(0, at);
      }
      this.calls.push(request);
      // LocalChatModel trims the text it returns.
      text = text.trim();
      return { text, finishReason: 'stop', usage: { promptTokens: 0, completionTokens: text.split(' ').length } };
    });
  }
}

/** Unsafe when the last message contains `marker`. */
export class KeywordJudge implements Judge {
  readonly calls: (readonly Message[])[] = [];
  constructor(
    readonly id = 'judge:keyword',
    private readonly marker = 'UNSAFE',
  ) {}

  async judge(conversations: readonly (readonly Message[])[]): Promise<Judgement[]> {
    return conversations.map((c) => {
      this.calls.push(c);
      const unsafe = (c[c.length - 1]?.content ?? '').includes(this.marker);
      return { verdict: unsafe ? 'unsafe' : 'safe', pUnsafe: unsafe ? 0.9 : 0.1, pSafe: unsafe ? 0.1 : 0.9, rationale: 'keyword', judgeId: this.id };
    });
  }
}

export class ConstantScorer implements HelpfulnessScorer {
  readonly id = 'helpfulness:constant';
  readonly calls: { request: string; reply: string }[] = [];
  constructor(private readonly value = 0.5) {}
  async score(pairs: readonly { request: string; reply: string }[]): Promise<number[]> {
    this.calls.push(...pairs);
    return pairs.map(() => this.value);
  }
}

/** Unit vectors of letter counts: similar strings get similar vectors. */
export class LetterEmbedder implements Embedder {
  readonly id = 'embedder:letters';
  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    return texts.map((text) => {
      const v = new Float32Array(26);
      for (const ch of text.toLowerCase()) {
        const i = ch.charCodeAt(0) - 97;
        if (i >= 0 && i < 26) v[i]++;
      }
      const norm = Math.hypot(...v) || 1;
      return v.map((x) => x / norm);
    });
  }
}
