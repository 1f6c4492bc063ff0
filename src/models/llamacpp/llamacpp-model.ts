/**
 * A GGUF model run in this process by llama.cpp (node-llama-cpp's prebuilt CPU binaries), behind
 * the project's ChatModel and CompletionModel seams, plus the log-prob reads judges need.
 *
 * One llama.cpp context holds `batch` sequences; requests take a free sequence each and run
 * concurrently, and node-llama-cpp decodes the pending tokens of all sequences in one batch.
 * Each request samples with its own seed. Prompts of GGUFs that mtsa exported are rendered with
 * our template token by token (so prefill and the attacker's user turn are exact); any other GGUF
 * is rendered with its own Jinja `tokenizer.chat_template`.
 */
import { Template } from '@huggingface/jinja';
import { basename } from 'node:path';
import { getLlama, LlamaLogLevel, type Llama, type LlamaContext, type LlamaContextSequence, type LlamaModel, type Token } from 'node-llama-cpp';
import { ConfigError } from '../../core/errors.js';
import type { Message, Role } from '../../core/message.js';
import type { ChatModel, ChatRequest, ChatResponse, CompletionModel, CompletionRequest, SamplingOptions, TokenLogprob } from '../../core/models.js';
import { Rng } from '../../core/rng.js';
import { tokenStringToBytes } from '../../engine/tokenizer/byte-level.js';
import { MTSA_CHAT_TEMPLATE_JINJA } from '../chat-template-jinja.js';
import { LlamaCppModelSpecSchema, type LlamaCppModelSpec, type LlamaCppModelSpecInput } from './spec.js';

let cpuLlama: Promise<Llama> | undefined;

/** The llama.cpp runtime, CPU only, never compiled here: the prebuilt binary or an error. */
function llamaRuntime(): Promise<Llama> {
  cpuLlama ??= getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, progressLogs: false });
  return cpuLlama;
}

interface Generation {
  /** text tokens (the closing end-of-generation token excluded) */
  tokens: Token[];
  /** tokens generated, the closing end-of-generation token included (as the engine counts) */
  generated: number;
  finishReason: ChatResponse['finishReason'];
  firstTokenLogprobs?: TokenLogprob[];
}

interface GenerationJob {
  prompt: Token[];
  sampling: SamplingOptions;
  seed: number;
  afterFirstLine?: string;
  topLogprobs?: number;
}

/** A request llama.cpp failed on is an item-level error, not a failed batch. */
function failed(error: unknown, promptTokens: number): ChatResponse {
  return { text: '', finishReason: 'error', error: `llama.cpp: ${(error as Error)?.message ?? String(error)}`, usage: { promptTokens, completionTokens: 0 } };
}

export class LlamaCppModel implements ChatModel, CompletionModel {
  readonly id: string;
  /** which template renders chat prompts */
  readonly templateKind: 'mtsa' | 'gguf';
  private readonly free: LlamaContextSequence[];
  private readonly waiting: ((sequence: LlamaContextSequence) => void)[] = [];
  private readonly fallbackRng: Rng;
  private readonly roleIds = new Map<Role, Token>();
  private endId: Token | undefined;
  private jinja: Template | undefined;
  /** bytes of each token for GGUFs in our format (control tokens: none) */
  private tokenBytes: (Uint8Array | undefined)[] | undefined;
  private readonly utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

  private constructor(
    readonly spec: LlamaCppModelSpec,
    readonly model: LlamaModel,
    readonly context: LlamaContext,
  ) {
    this.id = spec.id ?? `llama-cpp:${basename(spec.path)}`;
    this.free = Array.from({ length: context.totalSequences }, () => context.getSequence());
    this.fallbackRng = new Rng(spec.seed).fork(`chat:${this.id}`);
    const ggufTemplate = (model.fileInfo.metadata as { tokenizer?: { chat_template?: string } }).tokenizer?.chat_template;
    const ours = ggufTemplate === MTSA_CHAT_TEMPLATE_JINJA;
    this.templateKind = spec.template === 'auto' ? (ours ? 'mtsa' : 'gguf') : spec.template;
    if (this.templateKind === 'mtsa') {
      for (const role of ['system', 'user', 'assistant'] as const) this.roleIds.set(role, this.specialToken(`<|${role}|>`));
      this.endId = this.specialToken('<|end|>');
      // llama.cpp's detokenizer applies GPT-2's clean_up_tokenization_spaces for pre-type "gpt-2"
      // (" ?" becomes "?"); our models' text is the plain concatenation of token bytes.
      const { tokens, token_type: types } = model.fileInfo.metadata.tokenizer.ggml as { tokens: readonly string[]; token_type?: readonly number[] };
      this.tokenBytes = tokens.map((token, id) => (types?.[id] === 3 ? new Uint8Array(0) : tokenStringToBytes(token)));
    } else {
      if (!ggufTemplate) throw new ConfigError(`${spec.path}: the GGUF has no tokenizer.chat_template; set template: 'mtsa' for an mtsa-format model, or use complete() with prompts you render`);
      this.jinja = new Template(ggufTemplate);
    }
  }

  static async load(input: LlamaCppModelSpecInput): Promise<LlamaCppModel> {
    const spec = LlamaCppModelSpecSchema.parse(input);
    const llama = await llamaRuntime();
    let model: LlamaModel;
    try {
      model = await llama.loadModel({ modelPath: spec.path, gpuLayers: 0 });
    } catch (error) {
      throw new ConfigError(`${spec.path}: llama.cpp could not load the model: ${(error as Error).message}`, { cause: error });
    }
    const trained = (model.fileInfo.metadata as { llama?: { context_length?: number } }).llama?.context_length ?? model.trainContextSize;
    const kv = spec.kvCache === 'f32' ? 'F32' : 'F16';
    const context = await model.createContext({
      contextSize: spec.contextSize ?? Math.min(trained, 4096),
      sequences: spec.batch,
      threads: spec.threads,
      // Exact attention (no flash kernel) so log-probs match a reference implementation.
      flashAttention: false,
      experimentalKvCacheKeyType: kv,
      experimentalKvCacheValueType: kv,
    });
    return new LlamaCppModel(spec, model, context);
  }

  async dispose(): Promise<void> {
    await this.context.dispose();
    await this.model.dispose();
  }

  /** tokens each sequence can hold */
  get contextSize(): number {
    return this.context.contextSize;
  }

  get vocabSize(): number {
    return this.model.fileInfo.metadata.tokenizer.ggml.tokens.length;
  }

  /** llama.cpp's tokenisation; `special` parses special-token text into control tokens */
  tokenize(text: string, special = false): Token[] {
    return this.model.tokenize(text, special);
  }

  /** Text of tokens; control tokens are dropped unless `special` */
  detokenize(ids: readonly number[], special = false): string {
    const tokens = ids as readonly Token[];
    if (!this.tokenBytes) return this.model.detokenize(tokens, special);
    const encoder = new TextEncoder();
    const parts = tokens.map((token) => {
      const bytes = this.tokenBytes![token];
      if (bytes === undefined) return encoder.encode(this.model.detokenize([token], special));
      // control tokens have no bytes: their text only when asked for
      return bytes.length === 0 && special ? encoder.encode(this.model.detokenize([token], true)) : bytes;
    });
    const joined = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const part of parts) {
      joined.set(part, offset);
      offset += part.length;
    }
    return this.utf8.decode(joined);
  }

  private specialToken(text: string): Token {
    const ids = this.model.tokenize(text, true);
    if (ids.length !== 1) throw new ConfigError(`${this.spec.path}: "${text}" is not one special token in this GGUF; it is not an mtsa-format model (set template: 'gguf')`);
    return ids[0];
  }

  // ---------------------------------------------------------------------------------------------
  // Prompts

  /** Prompt tokens for messages, the turn to open and an optional prefill of that turn. */
  renderChat(messages: readonly Message[], generationRole: Role = 'assistant', prefill = ''): Token[] {
    if (this.templateKind === 'mtsa') {
      const ids: Token[] = [];
      for (const message of messages) ids.push(this.roleIds.get(message.role)!, ...this.tokenize(message.content), this.endId!);
      ids.push(this.roleIds.get(generationRole)!);
      if (prefill) ids.push(...this.tokenize(prefill));
      return ids;
    }
    // A third-party model generates assistant turns only: the MTSA attacker's own turns become
    // the assistant's and the target's replies the user's.
    const flip = generationRole === 'user';
    const view = messages.map((m) => ({ role: flip && m.role !== 'system' ? (m.role === 'user' ? 'assistant' : 'user') : m.role, content: m.content }));
    const special = (token: Token | null) => (token === null ? '' : this.detokenize([token], true));
    const text = this.jinja!.render({ messages: view, add_generation_prompt: true, bos_token: special(this.model.tokens.bos), eos_token: special(this.model.tokens.eos) });
    return this.tokenize(text + prefill, true);
  }

  /** Drops the oldest non-system messages until the prompt leaves `reserve` positions (as our engine does). */
  private fitChat(messages: readonly Message[], generationRole: Role, prefill: string, reserve: number): Token[] {
    const limit = this.contextSize - reserve;
    let kept = [...messages];
    let ids = this.renderChat(kept, generationRole, prefill);
    while (ids.length > limit && kept.length > 1) {
      const first = kept[0].role === 'system' ? 1 : 0;
      if (kept.length - first <= 1) break;
      kept = [...kept.slice(0, first), ...kept.slice(first + 1)];
      ids = this.renderChat(kept, generationRole, prefill);
    }
    return ids.length > limit ? ids.slice(ids.length - limit) : ids;
  }

  // ---------------------------------------------------------------------------------------------
  // Sequences

  private async withSequence<T>(use: (sequence: LlamaContextSequence) => Promise<T>): Promise<T> {
    const sequence = this.free.pop() ?? (await new Promise<LlamaContextSequence>((resolve) => this.waiting.push(resolve)));
    try {
      await sequence.clearHistory();
      return await use(sequence);
    } finally {
      const next = this.waiting.shift();
      if (next) next(sequence);
      else this.free.push(sequence);
    }
  }

  private requestSeed(seed: number | undefined): number {
    return seed ?? this.fallbackRng.nextUint32();
  }

  private topLogprobs(probabilities: Map<Token, number>, k: number): TokenLogprob[] {
    return [...probabilities]
      .sort((a, b) => b[1] - a[1])
      .slice(0, k)
      .map(([token, p]) => ({ token: this.detokenize([token], true), logprob: Math.log(p) }));
  }

  private async generateOn(sequence: LlamaContextSequence, job: GenerationJob): Promise<Generation> {
    const { sampling } = job;
    const options = (seed: number) => ({ temperature: sampling.temperature, topP: sampling.topP, topK: 0, minP: 0, seed });
    const maxTokens = Math.max(0, Math.min(sampling.maxTokens, this.contextSize - job.prompt.length));
    if (maxTokens === 0 || job.prompt.length === 0) return { tokens: [], generated: 0, finishReason: job.prompt.length === 0 ? 'error' : 'context' };
    // The first token comes from a controlled evaluation, which can also return its distribution.
    const wantProbabilities = (job.topLogprobs ?? 0) > 0;
    const evaluated = await sequence.controlledEvaluate(
      job.prompt.map((token, i) => (i === job.prompt.length - 1 ? [token, { generateNext: { token: true, probabilities: wantProbabilities, options: options(job.seed) } }] : token)),
    );
    const last = evaluated[evaluated.length - 1];
    const first = last?.next?.token;
    if (first === undefined || first === null) return { tokens: [], generated: 0, finishReason: 'error' };
    const firstTokenLogprobs = wantProbabilities && last?.next?.probabilities ? this.topLogprobs(last.next.probabilities, job.topLogprobs!) : undefined;

    const tokens: Token[] = [];
    const stops = sampling.stop ?? [];
    const forced = job.afterFirstLine ? this.tokenize(job.afterFirstLine) : [];
    let forceDone = forced.length === 0;
    let phase = 0;
    let closed = 0;
    // Returns the tokens to evaluate next when generation must restart (after forcing), 'done' with a reason, or undefined to go on.
    const accept = (token: Token): Token[] | ChatResponse['finishReason'] | undefined => {
      if (this.model.isEogToken(token)) {
        closed = 1;
        return 'stop';
      }
      tokens.push(token);
      if (stops.length > 0 && stops.some((stop) => this.detokenize(tokens).includes(stop))) return 'stop';
      if (!forceDone && this.detokenize([token]).includes('\n')) {
        forceDone = true;
        // Forced tokens count against maxTokens, one per step, as in the engine.
        const taken = forced.slice(0, Math.max(0, maxTokens - tokens.length));
        tokens.push(...taken);
        if (tokens.length >= maxTokens) return 'length';
        return [token, ...taken];
      }
      if (tokens.length >= maxTokens) return 'length';
      return undefined;
    };
    let outcome = accept(first);
    let pending: Token[] = [first];
    while (outcome === undefined || Array.isArray(outcome)) {
      if (Array.isArray(outcome)) pending = outcome;
      outcome = undefined;
      phase++;
      let restart: Token[] | undefined;
      for await (const token of sequence.evaluate(pending, { ...options(job.seed + phase), yieldEogToken: true })) {
        const result = accept(token);
        if (Array.isArray(result)) {
          restart = result;
          break;
        }
        if (result !== undefined) {
          outcome = result;
          break;
        }
      }
      if (restart) outcome = restart;
      else if (outcome === undefined) outcome = 'length'; // the evaluation ended by itself: context full
    }
    return { tokens, generated: tokens.length + closed, finishReason: outcome, firstTokenLogprobs };
  }

  private toResponse(generation: Generation, promptTokens: number, prefill: string, stops: readonly string[]): ChatResponse {
    let text = this.detokenize(generation.tokens);
    for (const stop of stops) {
      const at = text.indexOf(stop);
      if (at >= 0) text = text.slice(0, at);
    }
    return {
      text: (prefill + text).trim(),
      finishReason: generation.finishReason,
      usage: { promptTokens, completionTokens: generation.generated },
      ...(generation.firstTokenLogprobs ? { firstTokenLogprobs: generation.firstTokenLogprobs } : {}),
    };
  }

  async generate(requests: readonly ChatRequest[]): Promise<ChatResponse[]> {
    return Promise.all(
      requests.map((request) => {
        const seed = this.requestSeed(request.seed);
        const maxTokens = Math.max(1, Math.min(request.sampling.maxTokens, this.contextSize - 8));
        const prompt = this.fitChat(request.messages, request.generationRole ?? 'assistant', request.prefill ?? '', maxTokens);
        return this.withSequence(async (sequence) => {
          const generation = await this.generateOn(sequence, { prompt, sampling: request.sampling, seed, afterFirstLine: request.afterFirstLine, topLogprobs: request.topLogprobs });
          return this.toResponse(generation, prompt.length, request.prefill ?? '', request.sampling.stop ?? []);
        }).catch((error: unknown) => failed(error, prompt.length));
      }),
    );
  }

  /** Raw prompts (special-token text is parsed), e.g. a judge prompt rendered by the caller. */
  async complete(requests: readonly CompletionRequest[]): Promise<ChatResponse[]> {
    return Promise.all(
      requests.map((request) => {
        const seed = this.requestSeed(request.seed);
        const prompt = this.tokenize(request.prompt, true);
        return this.withSequence(async (sequence) => {
          const generation = await this.generateOn(sequence, { prompt, sampling: request.sampling, seed, topLogprobs: request.topLogprobs });
          return this.toResponse(generation, prompt.length, '', request.sampling.stop ?? []);
        }).catch((error: unknown) => failed(error, prompt.length));
      }),
    );
  }

  // ---------------------------------------------------------------------------------------------
  // Log-probs

  /**
   * Next-token log-probabilities after each of `positions` (indices into `tokens`), full
   * vocabulary; one sequence of the pool evaluates the tokens once.
   */
  async nextTokenLogprobs(ids: readonly number[], positions?: readonly number[]): Promise<Map<number, Float64Array>> {
    const tokens = ids as readonly Token[];
    if (tokens.length > this.contextSize) throw new ConfigError(`${tokens.length} tokens do not fit the context of ${this.contextSize}`);
    const wanted = new Set(positions ?? tokens.map((_, i) => i));
    return this.withSequence(async (sequence) => {
      const evaluated = await sequence.controlledEvaluate(tokens.map((token, i) => (wanted.has(i) ? [token, { generateNext: { probabilities: true } }] : token)));
      const out = new Map<number, Float64Array>();
      const V = this.vocabSize;
      for (const i of wanted) {
        const probabilities = evaluated[i]?.next?.probabilities;
        if (!probabilities) throw new Error(`llama.cpp returned no probabilities at position ${i}`);
        const row = new Float64Array(V).fill(Number.NEGATIVE_INFINITY);
        for (const [token, p] of probabilities) row[token] = Math.log(p);
        out.set(i, row);
      }
      return out;
    });
  }

  /** Σ log P(answer tokens | chat prompt opened for the assistant), per prompt (verdict probabilities). */
  async scoreOpenings(prompts: readonly (readonly Message[])[], answer: string): Promise<number[]> {
    return Promise.all(
      prompts.map(async (messages) => {
        const prompt = this.renderChat(messages, 'assistant');
        const full = this.templateKind === 'mtsa' ? [...prompt, ...this.tokenize(answer)] : this.renderChat(messages, 'assistant', answer);
        // Where text tokenisation merges across the prompt/answer boundary, score from the first differing token.
        let shared = 0;
        while (shared < prompt.length && shared < full.length && prompt[shared] === full[shared]) shared++;
        const answerLength = full.length - shared;
        if (answerLength <= 0) throw new ConfigError(`the answer "${answer}" adds no tokens to the prompt`);
        let ids = full;
        if (ids.length > this.contextSize) ids = ids.slice(ids.length - this.contextSize);
        const positions = Array.from({ length: answerLength }, (_, k) => ids.length - answerLength - 1 + k);
        const rows = await this.nextTokenLogprobs(ids, positions);
        return positions.reduce((sum, position) => sum + rows.get(position)![ids[position + 1]], 0);
      }),
    );
  }
}
