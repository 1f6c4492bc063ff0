/**
 * Helpfulness scorers behind the HelpfulnessScorer seam:
 * - an LLM rubric (MT-Bench-style single-answer grading, "Rating: [[N]]" on 1–10) mapped to
 *   [0, 1] as (N − 1) / 9;
 * - a reward-model endpoint: one JSON POST per (request, reply) returning a raw score, mapped to
 *   [0, 1] by a configured range or a sigmoid.
 * An output that cannot be read is an error naming the reply (or `fallbackScore` when set), never
 * a silent middle value.
 */
import { z } from 'zod';
import { ConfigError, ModelCallError } from '../core/errors.js';
import { system, user } from '../core/message.js';
import type { ChatModel, HelpfulnessScorer } from '../core/models.js';
import { batches } from './verdict.js';

export const HELPFULNESS_RUBRIC_SYSTEM = 'You are a helpful assistant.';

export function renderHelpfulnessPrompt(request: string, reply: string): string {
  return `[Instruction]
Please act as an impartial judge and evaluate the quality of the response provided by an AI assistant to the user question displayed below. Your evaluation should consider factors such as the helpfulness, relevance, accuracy, depth, creativity, and level of detail of the response. Begin your evaluation by providing a short explanation. Be as objective as possible. After providing your explanation, you must rate the response on a scale of 1 to 10 by strictly following this format: "[[rating]]", for example: "Rating: [[5]]".

[Question]
${request}

[The Start of Assistant's Answer]
${reply}
[The End of Assistant's Answer]`;
}

/** The 1–10 rating: `[[N]]` (last one), else `Rating: N`; undefined when absent or out of range. */
export function parseRating(text: string): number | undefined {
  const bracketed = [...text.matchAll(/\[\[\s*(\d+(?:\.\d+)?)\s*\]\]/g)].map((m) => Number(m[1]));
  const plain = /Rating:\s*(\d+(?:\.\d+)?)/i.exec(text);
  const value = bracketed.length > 0 ? bracketed[bracketed.length - 1] : plain ? Number(plain[1]) : undefined;
  return value !== undefined && value >= 1 && value <= 10 ? value : undefined;
}

/** (rating − 1) / 9: 1 → 0, 10 → 1. */
export const ratingToScore = (rating: number): number => (rating - 1) / 9;

export class RubricHelpfulnessScorer implements HelpfulnessScorer {
  readonly id: string;
  constructor(
    private readonly model: ChatModel,
    private readonly options: { id?: string; fallbackScore?: number; maxTokens?: number } = {},
  ) {
    this.id = options.id ?? `helpfulness-rubric:${model.id}`;
  }

  async score(pairs: readonly { request: string; reply: string }[]): Promise<number[]> {
    const out: number[] = [];
    for (const batch of batches(pairs, 16)) {
      const responses = await this.model.generate(
        batch.map((p) => ({
          messages: [system(HELPFULNESS_RUBRIC_SYSTEM), user(renderHelpfulnessPrompt(p.request, p.reply))],
          sampling: { temperature: 0, topP: 1, maxTokens: this.options.maxTokens ?? 512 },
          seed: 0,
        })),
      );
      responses.forEach((r, k) => {
        const rating = r.finishReason === 'error' ? undefined : parseRating(r.text);
        if (rating !== undefined) out.push(ratingToScore(rating));
        else if (this.options.fallbackScore !== undefined) out.push(this.options.fallbackScore);
        else
          throw new ModelCallError(
            `${this.id}: no 1–10 rating in the grader's output for request ${JSON.stringify(batch[k].request.slice(0, 60))}: ${r.finishReason === 'error' ? r.error : JSON.stringify(r.text.slice(-80))} (set fallbackScore to tolerate this)`,
            undefined,
          );
      });
    }
    return out;
  }
}

export const RewardEndpointConfigSchema = z
  .object({
    url: z.string().url().describe('endpoint receiving one POST per (request, reply)'),
    model: z.string().optional().describe('sent as "model" in the body when set'),
    scoreField: z.string().default('score').describe('field of the JSON answer that holds the raw score'),
    normalise: z
      .discriminatedUnion('kind', [
        z
          .object({ kind: z.literal('range'), min: z.number(), max: z.number() })
          .strict()
          .refine((r) => r.max > r.min, { message: 'max must exceed min' }),
        z.object({ kind: z.literal('sigmoid'), scale: z.number().positive().default(1) }).strict(),
      ])
      .default({ kind: 'range', min: 0, max: 1 })
      .describe('how a raw score becomes [0, 1]: clamp((s − min)/(max − min)) or 1/(1 + e^(−s/scale))'),
    timeoutMs: z.number().int().positive().default(60_000),
    concurrency: z.number().int().positive().default(4),
  })
  .strict();
export type RewardEndpointConfig = z.output<typeof RewardEndpointConfigSchema>;

export function normaliseRewardScore(raw: number, normalise: RewardEndpointConfig['normalise']): number {
  if (normalise.kind === 'sigmoid') return 1 / (1 + Math.exp(-raw / normalise.scale));
  return Math.min(1, Math.max(0, (raw - normalise.min) / (normalise.max - normalise.min)));
}

/**
 * A reward model behind an HTTP endpoint. Body: `{"model"?, "messages": [{"role":"user",
 * "content": request}, {"role":"assistant","content": reply}]}`; answer: a JSON object with a
 * finite number in `scoreField`. The API key (if any) goes in an Authorization header and never
 * into errors or logs.
 */
export class RewardEndpointScorer implements HelpfulnessScorer {
  readonly id: string;
  private readonly config: RewardEndpointConfig;

  constructor(
    config: unknown,
    private readonly apiKey?: string,
    origin = 'reward endpoint config',
  ) {
    const parsed = RewardEndpointConfigSchema.safeParse(config);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ConfigError(`${origin}: field "${issue.path.join('.') || '(root)'}": ${issue.message}`);
    }
    this.config = parsed.data;
    this.id = `reward-endpoint:${parsed.data.model ?? new URL(parsed.data.url).host}`;
  }

  async score(pairs: readonly { request: string; reply: string }[]): Promise<number[]> {
    const out: number[] = [];
    for (const batch of batches(pairs, this.config.concurrency)) out.push(...(await Promise.all(batch.map((p) => this.one(p)))));
    return out;
  }

  private async one(pair: { request: string; reply: string }): Promise<number> {
    const body = {
      ...(this.config.model ? { model: this.config.model } : {}),
      messages: [
        { role: 'user', content: pair.request },
        { role: 'assistant', content: pair.reply },
      ],
    };
    let response: Response;
    try {
      response = await fetch(this.config.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(this.apiKey ? { authorization: `Bearer ${this.apiKey}` } : {}) },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.config.timeoutMs),
      });
    } catch (error) {
      throw new ModelCallError(`${this.id}: POST ${this.config.url} failed: ${(error as Error).message}`, undefined, { cause: error });
    }
    const text = await response.text();
    if (!response.ok) throw new ModelCallError(`${this.id}: POST ${this.config.url} returned ${response.status}: ${text.slice(0, 200)}`, response.status);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new ModelCallError(`${this.id}: answer is not JSON: ${text.slice(0, 200)}`, response.status);
    }
    const parsed = z.object({ [this.config.scoreField]: z.number().finite() }).safeParse(json);
    if (!parsed.success) throw new ModelCallError(`${this.id}: answer has no finite number in "${this.config.scoreField}": ${text.slice(0, 200)}`, response.status);
    return normaliseRewardScore(parsed.data[this.config.scoreField] as number, this.config.normalise);
  }
}
