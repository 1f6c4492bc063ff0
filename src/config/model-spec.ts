/**
 * Which model fills each role, as a zod discriminated union on `kind`:
 * - `arena`: the arena's own model for that role (the default);
 * - `openai-compatible`: a model behind an OpenAI-compatible server (vLLM, llama.cpp, Ollama,
 *   `transformers serve`, OpenAI, …) with its traffic limits;
 * - `checkpoint`: a local Hugging Face checkpoint directory run in-process by our engine;
 * - `llama-cpp`: a GGUF file run in-process by llama.cpp (chat, or a verdict-probability judge).
 * Adding a kind is one schema entry here and one factory entry in src/run/build-models.ts.
 * The judge role of a model kind may name a judge `format` (JUDGE_FORMATS): the prompt format and
 * verdict reader put on that model (src/run/judge-formats.ts maps each one to a Judge).
 */
import { z } from 'zod';
import { LlamaCppModelSpecSchema } from '../models/llamacpp/spec.js';
import { FLAVOURS, JUDGE_FORMATS, LOGPROB_ONLY_FORMATS, type JudgeFormat } from '../core/backends.js';

export const TrafficConfigSchema = z
  .object({
    concurrency: z.number().int().positive().default(8).describe('requests in flight at once'),
    requestsPerMinute: z.number().int().nonnegative().default(0).describe('requests started per minute (0: unlimited)'),
    tokensPerMinute: z.number().int().nonnegative().default(0).describe('prompt + completion tokens per minute (0: unlimited)'),
    timeoutMs: z.number().int().positive().default(120_000).describe('one attempt is abandoned (and retried) after this long'),
    maxRetries: z.number().int().min(0).max(20).default(4).describe('retries after the first attempt (429, 408, 409, 5xx, timeouts, malformed bodies)'),
    initialBackoffMs: z.number().nonnegative().default(500).describe('backoff before the first retry, doubled each retry, with jitter; a Retry-After under 60 s is used instead'),
    maxBackoffMs: z.number().nonnegative().default(30_000).describe('longest backoff'),
    maxConsecutiveFailures: z.number().int().positive().default(16).describe('failed calls in a row (after retries) that stop the run'),
  })
  .strict();

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The judge format fields a model kind that can judge carries (the judge role only: checked in ModelsConfigSchema). */
const judgeFormatFields = {
  format: z
    .enum(JUDGE_FORMATS)
    .optional()
    .describe(
      "judge role: the judge format put on this model (prompt: a generic one-word judge; arena-guard: the arena guard's format; llama-guard-3/-4, -text without log-probs; harmbench; strongreject; rubric). Absent: the kind's default judge (docs/judges-and-data.md)",
    ),
  rubric: z.string().min(1).optional().describe('format rubric: the rubric judge config (JSON) file'),
};

export const ArenaModelSpecSchema = z.object({ kind: z.literal('arena') }).strict();

export const OpenAiCompatibleSpecSchema = z
  .object({
    kind: z.literal('openai-compatible'),
    baseUrl: z
      .string()
      .regex(/^https?:\/\/\S+$/, 'must be an http(s) URL such as http://127.0.0.1:8000/v1')
      .describe('the server base URL, ending in /v1'),
    model: z.string().min(1).describe('the model name the server knows (GET <baseUrl>/models)'),
    flavour: z.enum(FLAVOURS).default('generic').describe('the server software: decides prefill and sampling fields (docs/real-models.md)'),
    apiKeyEnv: z.string().regex(ENV_NAME, 'must be the NAME of an environment variable (the key itself never goes in a config)').optional().describe('environment variable that holds the API key'),
    template: z
      .enum(['server', 'ours'])
      .default('server')
      .describe("'server': chat completions with the server's chat template; 'ours': completions over a prompt rendered with mtsa's template (checkpoints made by mtsa)"),
    topLogprobs: z.number().int().min(0).max(20).default(0).describe('judge role: first-token top log-probs to ask for (0: read the answer word)'),
    traffic: TrafficConfigSchema.default(TrafficConfigSchema.parse({})).describe('concurrency, rate limits, timeouts, retries'),
    ...judgeFormatFields,
  })
  .strict();

export const CheckpointSpecSchema = z
  .object({
    kind: z.literal('checkpoint'),
    path: z.string().min(1).describe('a Hugging Face checkpoint directory written by mtsa (config.json, model.safetensors, tokenizer.json)'),
    ...judgeFormatFields,
  })
  .strict();

const LlamaCppSpecSchema = LlamaCppModelSpecSchema.extend(judgeFormatFields);

export const ModelSpecSchema = z.discriminatedUnion('kind', [ArenaModelSpecSchema, OpenAiCompatibleSpecSchema, CheckpointSpecSchema, LlamaCppSpecSchema]);
export type ModelSpec = z.infer<typeof ModelSpecSchema>;
export type ModelKind = ModelSpec['kind'];

const arena = { kind: 'arena' as const };

export const ModelsConfigSchema = z
  .object({
    attacker: ModelSpecSchema.default(arena).describe('the red team'),
    target: ModelSpecSchema.default(arena).describe('the model under attack'),
    judge: ModelSpecSchema.default(arena).describe('scores every target reply'),
    embedder: ModelSpecSchema.default(arena).describe('embeds attack questions for the diversity metrics'),
  })
  .strict()
  .superRefine((models, ctx) => {
    for (const role of ['attacker', 'target', 'embedder'] as const) {
      const spec = models[role];
      for (const field of ['format', 'rubric'] as const) {
        if (spec.kind !== 'arena' && spec[field] !== undefined)
          ctx.addIssue({ code: 'custom', path: [role, field], message: `a judge format belongs to models.judge only; remove ${field} from models.${role}` });
      }
    }
    for (const issue of judgeFormatIssues(models.judge)) ctx.addIssue({ code: 'custom', path: ['judge', issue.field], message: issue.message });
  });
export type ModelsConfig = z.infer<typeof ModelsConfigSchema>;
export type ModelRole = keyof ModelsConfig;

/** What is wrong with a judge spec's format fields (empty when nothing): rubric without its config, a format the backend cannot serve. */
export function judgeFormatIssues(spec: ModelSpec): { field: 'format' | 'rubric'; message: string }[] {
  if (spec.kind === 'arena') return [];
  const format: JudgeFormat | undefined = spec.format;
  if (format === 'rubric' && spec.rubric === undefined) return [{ field: 'rubric', message: 'format rubric needs rubric: <config.json> (the prompt and parser; docs/judges-and-data.md)' }];
  if (format !== 'rubric' && spec.rubric !== undefined)
    return [{ field: 'rubric', message: `rubric is read by format rubric only (format is ${format ?? 'absent'}); remove it or set format: rubric` }];
  if (spec.kind === 'openai-compatible' && spec.flavour === 'transformers' && format !== undefined && (LOGPROB_ONLY_FORMATS as readonly string[]).includes(format))
    return [{ field: 'format', message: `transformers serve returns no log-probs, and ${format} reads its verdict from them only; use ${format}-text (the generated verdict)` }];
  return [];
}
