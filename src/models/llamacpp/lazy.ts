/**
 * A GGUF model behind the synchronous per-role factories (run/build-models.ts): the file is loaded
 * by llama.cpp on the first call, so building a run's models stays synchronous and a role that is
 * never used never loads its weights.
 */
import type { Message } from '../../core/message.js';
import type { ChatModel, ChatRequest, ChatResponse, CompletionModel, CompletionRequest, Judge, Judgement } from '../../core/models.js';
import { LlamaCppJudge } from './llamacpp-judge.js';
import type { LlamaCppModel } from './llamacpp-model.js';
import { createLlamaCppModel } from './index.js';
import type { LlamaCppModelSpecInput } from './spec.js';

export class LazyLlamaCppModel implements ChatModel, CompletionModel {
  private loading: Promise<LlamaCppModel> | undefined;

  constructor(
    readonly id: string,
    private readonly spec: LlamaCppModelSpecInput,
  ) {}

  /** the loaded model (loads it on the first call) */
  load(): Promise<LlamaCppModel> {
    this.loading ??= createLlamaCppModel(this.spec);
    return this.loading;
  }

  async generate(requests: readonly ChatRequest[]): Promise<ChatResponse[]> {
    return (await this.load()).generate(requests);
  }

  async complete(requests: readonly CompletionRequest[]): Promise<ChatResponse[]> {
    return (await this.load()).complete(requests);
  }

  /** frees llama.cpp's context and weights, if they were loaded */
  async dispose(): Promise<void> {
    if (this.loading) await (await this.loading).dispose();
    this.loading = undefined;
  }

  /**
   * A Llama-Guard-style judge on this model: verdict-token probabilities after the model's own
   * template renders the target's view of the conversation (a Llama Guard GGUF builds its guard
   * prompt in that template), or after `formatPrompt` where the caller gives one.
   */
  judge(formatPrompt: (conversation: readonly Message[]) => Message[] = (c) => [...c], id = `${this.id}:judge`): Judge {
    let judge: LlamaCppJudge | undefined;
    return {
      id,
      judge: async (conversations): Promise<Judgement[]> => {
        judge ??= new LlamaCppJudge(await this.load(), { id, formatPrompt });
        return judge.judge(conversations);
      },
    };
  }
}
