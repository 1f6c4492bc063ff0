/**
 * Fakes for judges: a completion model and a chat model that answer from a function and can
 * return first-token log-probs, each with a call log. No module mocks.
 */
import type { ChatModel, ChatRequest, ChatResponse, CompletionModel, CompletionRequest, TokenLogprob } from '../core/models.js';

export interface FakeAnswer {
  text: string;
  logprobs?: TokenLogprob[];
  error?: string;
}

function toResponse(answer: FakeAnswer): ChatResponse {
  if (answer.error !== undefined) return { text: '', finishReason: 'error', error: answer.error, usage: { promptTokens: 0, completionTokens: 0 } };
  return { text: answer.text, finishReason: 'stop', usage: { promptTokens: 0, completionTokens: 1 }, ...(answer.logprobs ? { firstTokenLogprobs: answer.logprobs } : {}) };
}

export class FakeCompletionModel implements CompletionModel {
  readonly calls: CompletionRequest[] = [];
  constructor(
    readonly id: string,
    private readonly answer: (request: CompletionRequest, index: number) => FakeAnswer,
  ) {}
  async complete(requests: readonly CompletionRequest[]): Promise<ChatResponse[]> {
    return requests.map((r) => {
      const out = toResponse(this.answer(r, this.calls.length));
      this.calls.push(r);
      return out;
    });
  }
}

export class FakeLogprobChatModel implements ChatModel {
  readonly calls: ChatRequest[] = [];
  constructor(
    readonly id: string,
    private readonly answer: (request: ChatRequest, index: number) => FakeAnswer,
  ) {}
  async generate(requests: readonly ChatRequest[]): Promise<ChatResponse[]> {
    return requests.map((r) => {
      const out = toResponse(this.answer(r, this.calls.length));
      this.calls.push(r);
      return out;
    });
  }
}

/** Log-probs of a top-k list from probabilities: lp('unsafe', 0.7) etc. */
export const lp = (token: string, p: number): TokenLogprob => ({ token, logprob: Math.log(p) });
