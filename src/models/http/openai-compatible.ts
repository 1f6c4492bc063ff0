/**
 * An OpenAI-compatible server (vLLM, llama.cpp server, Ollama, `transformers serve`, OpenAI, or
 * any other) behind the project's seams: ChatModel, CompletionModel and Embedder. Plain `fetch`
 * with zod-checked responses (docs/decisions/0008-http-client.md); every request goes through the
 * role's TrafficController. A call that still fails after the bounded retries becomes a
 * ChatResponse with finishReason 'error' (its dialogue is marked errored); an error no retry can
 * fix stops the run (FatalBackendError).
 *
 * Two ways to talk to a chat model:
 * - template 'server': /v1/chat/completions, the server applies its chat template. The MTSA
 *   attacker speaks as `user`; a chat server only writes `assistant` turns, so a request whose
 *   generation role is `user` is sent with roles flipped (flipRoles) and its reply is read back
 *   as the attacker's (user) message.
 * - template 'ours': /v1/completions over the prompt rendered with the project's chat template
 *   (our own checkpoints): roles, prefills and the attacker's user turn stay exact.
 */
import { z } from 'zod';
import type { Message, Role } from '../../core/message.js';
import type { ChatModel, ChatRequest, ChatResponse, CompletionModel, CompletionRequest, Embedder, SamplingOptions, TokenLogprob } from '../../core/models.js';
import { renderChatText } from '../chat-template.js';
import { FLAVOUR_TRAITS, type Flavour } from './flavours.js';
import { AttemptError, retryAfterMs, type TrafficController } from './traffic.js';

export interface OpenAiCompatibleOptions {
  id: string;
  /** e.g. http://127.0.0.1:8000/v1 */
  baseUrl: string;
  model: string;
  flavour: Flavour;
  /** 'ours': render the project's chat template and call /v1/completions; 'server': /v1/chat/completions */
  template: 'server' | 'ours';
  /** the key itself (read by the caller from the environment); never logged */
  apiKey?: string;
  /** the environment variable's name, for messages */
  apiKeyEnv?: string;
  traffic: TrafficController;
  fetch?: typeof fetch;
}

/** Swaps user and assistant (system stays): the attacker's own turns become the assistant's. */
export function flipRoles(messages: readonly Message[]): Message[] {
  const flip: Record<Role, Role> = { system: 'system', user: 'assistant', assistant: 'user' };
  return messages.map((m) => ({ role: flip[m.role], content: m.content }));
}

const FinishSchema = z.string().nullable().optional();
const ChatCompletionSchema = z.object({
  choices: z.array(
    z.object({
      message: z.object({ content: z.string().nullable().optional() }),
      finish_reason: FinishSchema,
      logprobs: z
        .object({
          content: z
            .array(z.object({ token: z.string(), logprob: z.number(), top_logprobs: z.array(z.object({ token: z.string(), logprob: z.number() })).optional() }))
            .nullable()
            .optional(),
        })
        .nullable()
        .optional(),
    }),
  ),
  usage: z.object({ prompt_tokens: z.number(), completion_tokens: z.number() }).partial().nullable().optional(),
});
const CompletionSchema = z.object({
  choices: z.array(
    z.object({
      text: z.string(),
      finish_reason: FinishSchema,
      logprobs: z
        .object({ top_logprobs: z.array(z.record(z.string(), z.number()).nullable()).nullable().optional() })
        .nullable()
        .optional(),
    }),
  ),
  usage: z.object({ prompt_tokens: z.number(), completion_tokens: z.number() }).partial().nullable().optional(),
});
const EmbeddingSchema = z.object({ data: z.array(z.object({ embedding: z.array(z.number()), index: z.number().optional() })) });

interface Raw {
  text: string;
  finishReason: ChatResponse['finishReason'];
  promptTokens: number;
  completionTokens: number;
  logprobs?: TokenLogprob[];
}

/** a 400 that says the model name is wrong (transformers serve: "Server is pinned to '…'; requested '…'") */
const MODEL_PATTERN = /model.*(not found|does not exist|unknown)|no such model|pinned to/i;
const CONTEXT_PATTERN = /context[_ ]length|context window|maximum context|too long|exceed_context_size|prompt is too long|max_model_len|maximum.*tokens/i;

function errorDetail(body: string): { message: string; code: string } {
  try {
    const json = JSON.parse(body) as Record<string, unknown>;
    const error = json.error;
    if (error && typeof error === 'object') {
      const e = error as Record<string, unknown>;
      return { message: String(e.message ?? JSON.stringify(e)), code: String(e.code ?? e.type ?? '') };
    }
    if (typeof error === 'string') return { message: error, code: String(json.code ?? '') };
    if (json.message !== undefined) return { message: String(json.message), code: String(json.code ?? json.type ?? '') };
    if (json.detail !== undefined) return { message: typeof json.detail === 'string' ? json.detail : JSON.stringify(json.detail), code: '' };
  } catch {
    // not JSON: the body itself
  }
  return { message: body.slice(0, 300), code: '' };
}

export class OpenAiCompatibleModel implements ChatModel, CompletionModel, Embedder {
  readonly id: string;
  private readonly fetchImpl: typeof fetch;
  private readonly baseUrl: string;

  constructor(readonly options: OpenAiCompatibleOptions) {
    this.id = options.id;
    this.fetchImpl = options.fetch ?? fetch;
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
  }

  private get label(): string {
    return `${this.id} (${this.options.model} at ${this.baseUrl})`;
  }

  /** Removes the API key from any text that might reach a log or a file. */
  private redact(text: string): string {
    const key = this.options.apiKey;
    return key && key.length >= 4 ? text.split(key).join('***') : text;
  }

  private classify(status: number, body: string, headers: Headers): AttemptError {
    const { message, code } = errorDetail(body);
    const detail = this.redact(`${this.label}: HTTP ${status}${code ? ` ${code}` : ''}: ${message}`);
    const should = headers.get('x-should-retry');
    if (status === 401 || status === 403) {
      const fix = this.options.apiKeyEnv
        ? `check the key in the environment variable ${this.options.apiKeyEnv}`
        : 'this server needs an API key: name its environment variable with apiKeyEnv (or --api-key-env)';
      return new AttemptError(`${detail}\nauthentication failed: ${fix}`, 'fatal');
    }
    if (/insufficient_quota/i.test(code) || /insufficient_quota|exceeded your current quota/i.test(message)) {
      return new AttemptError(`${detail}\nthe account's quota is used up: retrying cannot help; add credit or use another key`, 'fatal');
    }
    if (status === 404 || ((status === 400 || status === 422) && MODEL_PATTERN.test(message))) {
      return new AttemptError(
        `${detail}\nmodel "${this.options.model}" or endpoint not found: check the model name (GET ${this.baseUrl}/models lists what the server has) and that the base URL ends in /v1`,
        'fatal',
      );
    }
    if (should === 'false') return new AttemptError(detail, 'call');
    if (should === 'true') return new AttemptError(detail, 'retryable', retryAfterMs(headers, Date.now()));
    if ((status === 400 || status === 413 || status === 422) && CONTEXT_PATTERN.test(`${code} ${message}`)) return new AttemptError(detail, 'context');
    if (status === 408 || status === 409 || status === 429 || status >= 500) return new AttemptError(detail, 'retryable', retryAfterMs(headers, Date.now()));
    return new AttemptError(detail, 'call');
  }

  private async post<T>(path: string, body: Record<string, unknown>, schema: z.ZodType<T>, signal: AbortSignal): Promise<T> {
    const url = `${this.baseUrl}${path}`;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    let response: Response;
    let text: string;
    try {
      response = await this.fetchImpl(url, { method: 'POST', headers, body: JSON.stringify(body), signal });
      text = await response.text();
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new AttemptError(this.redact(`${this.label}: request to ${url} failed (${cause?.code ?? cause?.message ?? (error as Error).message})`), 'retryable');
    }
    if (!response.ok) throw this.classify(response.status, text, response.headers);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new AttemptError(this.redact(`${this.label}: malformed JSON from ${url} (${text.length} bytes: ${JSON.stringify(text.slice(0, 80))})`), 'retryable');
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new AttemptError(this.redact(`${this.label}: unexpected response from ${url}: field "${issue.path.join('.')}": ${issue.message}`), 'retryable');
    }
    return parsed.data;
  }

  private sampling(s: SamplingOptions, maxTokens: number, stop: readonly string[], seed: number | undefined): Record<string, unknown> {
    const traits = FLAVOUR_TRAITS[this.options.flavour];
    return {
      temperature: s.temperature,
      top_p: s.topP,
      [this.options.flavour === 'openai' ? 'max_completion_tokens' : 'max_tokens']: maxTokens,
      ...(stop.length ? { stop: [...stop] } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ...(traits.neutralFilters ? { top_k: 0, min_p: 0 } : {}),
    };
  }

  private finish(reason: string | null | undefined): ChatResponse['finishReason'] {
    return reason === 'length' ? 'length' : 'stop';
  }

  /** One chat completion; `prefix` is continued where the flavour can (else ignored: free generation). */
  private async chatCall(
    messages: readonly Message[],
    prefix: string,
    s: SamplingOptions,
    maxTokens: number,
    stop: readonly string[],
    seed: number | undefined,
    topLogprobs: number | undefined,
  ): Promise<Raw> {
    const mode = FLAVOUR_TRAITS[this.options.flavour].chatPrefill;
    const prefilled = prefix && mode !== 'none';
    const body: Record<string, unknown> = {
      model: this.options.model,
      messages: prefilled ? [...messages, { role: 'assistant', content: prefix }] : messages,
      ...this.sampling(s, maxTokens, stop, seed),
      ...(topLogprobs ? { logprobs: true, top_logprobs: topLogprobs } : {}),
      ...(prefilled && mode === 'continue-final-message' ? { continue_final_message: true, add_generation_prompt: false } : {}),
    };
    const estimate = Math.ceil(messages.reduce((n, m) => n + m.content.length, 0) / 4) + maxTokens;
    return this.options.traffic.run(estimate, async (signal) => {
      const json = await this.post('/chat/completions', body, ChatCompletionSchema, signal);
      const choice = json.choices[0];
      if (!choice) throw new AttemptError(`${this.label}: the server returned no choices`, 'retryable');
      const first = choice.logprobs?.content?.[0];
      const raw: Raw = {
        text: (prefilled ? prefix : '') + (choice.message.content ?? ''),
        finishReason: this.finish(choice.finish_reason),
        promptTokens: json.usage?.prompt_tokens ?? 0,
        completionTokens: json.usage?.completion_tokens ?? 0,
        ...(first ? { logprobs: (first.top_logprobs ?? [{ token: first.token, logprob: first.logprob }]).map((t) => ({ token: t.token, logprob: t.logprob })) } : {}),
      };
      return { value: raw, tokens: raw.promptTokens + raw.completionTokens };
    });
  }

  /** One completion of a raw prompt. */
  private async completionCall(prompt: string, s: SamplingOptions, maxTokens: number, stop: readonly string[], seed: number | undefined, topLogprobs: number | undefined): Promise<Raw> {
    const body: Record<string, unknown> = {
      model: this.options.model,
      prompt,
      ...this.sampling(s, maxTokens, stop, seed),
      ...(topLogprobs ? { logprobs: topLogprobs } : {}),
    };
    return this.options.traffic.run(Math.ceil(prompt.length / 4) + maxTokens, async (signal) => {
      const json = await this.post('/completions', body, CompletionSchema, signal);
      const choice = json.choices[0];
      if (!choice) throw new AttemptError(`${this.label}: the server returned no choices`, 'retryable');
      // Our template ends a turn with <|end|>; a server that does not stop on it or keeps it in the text is cut there.
      const end = choice.text.indexOf('<|end|>');
      const top = choice.logprobs?.top_logprobs?.[0];
      const raw: Raw = {
        text: end >= 0 ? choice.text.slice(0, end) : choice.text,
        finishReason: end >= 0 ? 'stop' : this.finish(choice.finish_reason),
        promptTokens: json.usage?.prompt_tokens ?? 0,
        completionTokens: json.usage?.completion_tokens ?? 0,
        ...(top
          ? {
              logprobs: Object.entries(top)
                .map(([token, logprob]) => ({ token, logprob }))
                .sort((a, b) => b.logprob - a.logprob),
            }
          : {}),
      };
      return { value: raw, tokens: raw.promptTokens + raw.completionTokens };
    });
  }

  /** Continues `prefix` (prefill) under this model's template and flavour; returns prefix + continuation where the prefix was honoured. */
  private continueFrom(request: ChatRequest, prefix: string, maxTokens: number, stop: readonly string[], topLogprobs?: number): Promise<Raw> {
    const role = request.generationRole ?? 'assistant';
    if (this.options.template === 'ours') {
      return this.completionCall(renderChatText(request.messages, role) + prefix, request.sampling, maxTokens, stop, request.seed, topLogprobs).then((r) => ({ ...r, text: prefix + r.text }));
    }
    const messages = role === 'user' ? flipRoles(request.messages) : request.messages;
    return this.chatCall(messages, prefix, request.sampling, maxTokens, stop, request.seed, topLogprobs);
  }

  /** Whether `prefill` / `afterFirstLine` can be honoured (natively, or by a second call). */
  get prefillSupport(): 'native' | 'none' {
    return this.options.template === 'ours' || FLAVOUR_TRAITS[this.options.flavour].chatPrefill !== 'none' ? 'native' : 'none';
  }

  private async generateOne(request: ChatRequest): Promise<ChatResponse> {
    const stop = request.sampling.stop ?? [];
    const maxTokens = request.sampling.maxTokens;
    const canPrefill = this.prefillSupport === 'native';
    const prefill = canPrefill ? (request.prefill ?? '') : '';
    try {
      if (!request.afterFirstLine || !canPrefill) {
        const r = await this.continueFrom(request, prefill, maxTokens, stop, request.topLogprobs);
        return this.response(r.text, r.finishReason, r.promptTokens, r.completionTokens, r.logprobs);
      }
      // afterFirstLine, emulated: generate to the first line break, then continue from
      // (first line + line break + afterFirstLine) in a second call.
      const first = await this.continueFrom(request, prefill, maxTokens, [...stop, '\n'], request.topLogprobs);
      const left = maxTokens - first.completionTokens;
      if (first.finishReason !== 'stop' || left <= 0 || first.text.includes('\n')) return this.response(first.text, first.finishReason, first.promptTokens, first.completionTokens, first.logprobs);
      const second = await this.continueFrom(request, `${first.text}\n${request.afterFirstLine}`, left, stop);
      return this.response(second.text, second.finishReason, first.promptTokens + second.promptTokens, first.completionTokens + second.completionTokens, first.logprobs);
    } catch (error) {
      return this.failed(error);
    }
  }

  private response(text: string, finishReason: ChatResponse['finishReason'], promptTokens: number, completionTokens: number, logprobs?: TokenLogprob[]): ChatResponse {
    return { text: text.trim(), finishReason, usage: { promptTokens, completionTokens }, ...(logprobs ? { firstTokenLogprobs: logprobs } : {}) };
  }

  /** A failed call becomes data (finishReason 'error'); a run-stopping error propagates. */
  private failed(error: unknown): ChatResponse {
    if (!(error instanceof AttemptError)) throw error;
    return { text: '', finishReason: 'error', usage: { promptTokens: 0, completionTokens: 0 }, error: error.message };
  }

  generate(requests: readonly ChatRequest[]): Promise<ChatResponse[]> {
    return Promise.all(requests.map((r) => this.generateOne(r)));
  }

  complete(requests: readonly CompletionRequest[]): Promise<ChatResponse[]> {
    return Promise.all(
      requests.map(async (r) => {
        try {
          const raw = await this.completionCall(r.prompt, r.sampling, r.sampling.maxTokens, r.sampling.stop ?? [], r.seed, r.topLogprobs);
          return this.response(raw.text, raw.finishReason, raw.promptTokens, raw.completionTokens, raw.logprobs);
        } catch (error) {
          return this.failed(error);
        }
      }),
    );
  }

  /** Unit vectors from /v1/embeddings. A failed call throws (an embedding has no "errored" value). */
  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    const estimate = Math.ceil(texts.reduce((n, t) => n + t.length, 0) / 4);
    const data = await this.options.traffic.run(estimate, async (signal) => {
      const json = await this.post('/embeddings', { model: this.options.model, input: [...texts] }, EmbeddingSchema, signal);
      if (json.data.length !== texts.length) throw new AttemptError(`${this.label}: ${json.data.length} embeddings for ${texts.length} inputs`, 'retryable');
      return { value: json.data, tokens: estimate };
    });
    const ordered = data.every((d) => d.index !== undefined) ? [...data].sort((a, b) => a.index! - b.index!) : data;
    return ordered.map((d) => {
      const norm = Math.hypot(...d.embedding) || 1;
      return Float32Array.from(d.embedding, (v) => v / norm);
    });
  }
}
