/**
 * The configuration of `mtsa run`: the arena, the method and the evaluation, each with defaults and
 * descriptions. Files are YAML or JSON; unknown or ill-typed fields are errors naming the field.
 */
import { readFileSync, statSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { FileSuiteConfigSchema } from '../eval/file-suite.js';
import { ConfigError } from '../core/errors.js';
import { ArenaConfigSchema, tinyArenaConfig } from '../arena/config.js';
import { MtsaConfigSchema } from '../mtsa/config.js';
import { ModelsConfigSchema } from './model-spec.js';

export const EvaluationConfigSchema = z
  .object({
    repeats: z.number().int().positive().default(2).describe('dialogues per held-out harmful objective in each attack evaluation'),
    matrix: z.enum(['full', 'diagonal-and-edges']).default('full').describe('R×T cells to evaluate: all, or only R_i vs T0 and R_final vs T_j'),
    oodAttacker: z
      .enum(['crescendo'])
      .default('crescendo')
      .describe('unused since the scripted panel (crescendo in-domain, completion-quiz and authority-override out-of-domain); kept so old configs load'),
    maxTurns: z
      .number()
      .int()
      .min(1)
      .max(10)
      .nullable()
      .default(null)
      .describe("turns per evaluation dialogue; null: mtsa.maxTurns (a single-turn baseline is still evaluated over the main run's turns)"),
    capabilityTemperature: z.number().min(0).default(0).describe('sampling temperature of helpfulness and over-refusal requests (0: greedy)'),
    files: FileSuiteConfigSchema.optional().describe(
      "evaluate on your own files instead of the arena's held-out suite (objectives, over-refusal, helpfulness, multi-turn sets); judged by the judge only, no oracle",
    ),
  })
  .strict();

/** Which trainer runs a policy: the engine in-process, or the PyTorch worker (docs/torch-trainer.md). */
export const TrainerConfigSchema = z
  .object({
    kind: z.enum(['engine', 'torch']).default('engine').describe('engine: the built-in TypeScript engine; torch: the PyTorch worker (python/mtsa_worker.py)'),
    device: z
      .string()
      .regex(/^(cpu|cuda(:\d+)?)$/, 'cpu, cuda or cuda:N')
      .default('cpu')
      .describe('torch: cpu, cuda or cuda:N'),
    dtype: z.enum(['fp32', 'bf16']).default('fp32').describe('torch: parameter dtype'),
    lora: z
      .object({ rank: z.number().int().positive(), alpha: z.number().positive(), targets: z.array(z.string()).optional() })
      .strict()
      .optional()
      .describe('torch: train a LoRA adapter (the reference is the adapter switched off); absent: full fine-tuning'),
    gradientCheckpointing: z.boolean().default(false).describe('torch: recompute activations in the backward to save memory'),
    microBatchTokens: z.number().int().min(0).default(0).describe('torch: most padded tokens per forward (0: one forward per step)'),
    threads: z.number().int().min(0).default(0).describe('torch: CPU threads of each worker (0: half the cores on cpu, since two workers share the machine)'),
    processes: z.number().int().positive().default(1).describe('torch: data-parallel ranks under torchrun (one per GPU); gradients summed across ranks'),
  })
  .strict();

export const RunConfigSchema = z
  .object({
    seed: z.number().int().default(1).describe('seed of everything in the run; the same seed gives the same bytes'),
    arena: ArenaConfigSchema.default(ArenaConfigSchema.parse({})).describe('the synthetic world and its models'),
    mtsa: MtsaConfigSchema.default(MtsaConfigSchema.parse({})).describe('the method'),
    evaluation: EvaluationConfigSchema.default(EvaluationConfigSchema.parse({})).describe('held-out evaluation'),
    data: z
      .object({
        trainObjectives: z
          .string()
          .min(1)
          .optional()
          .describe("harmful objectives the method attacks while training (HarmBench / AdvBench / JailbreakBench CSV, plain CSV or JSONL); default: the arena's train split"),
        stage1Dialogues: z.string().min(1).optional().describe("Stage-1 Think-before-Attack dialogues (JSONL, e.g. from `mtsa stage1-data`); default: the arena's corpus"),
      })
      .strict()
      .default({})
      .describe('data files that replace the arena for training (the whole loop without an arena)'),
    models: ModelsConfigSchema.default(ModelsConfigSchema.parse({})).describe(
      'which model fills each role: {kind: arena} (default), {kind: openai-compatible, baseUrl, model, flavour, apiKeyEnv, traffic}, or {kind: checkpoint, path}; the attacker and target are trained, so they must run in-process (arena or checkpoint)',
    ),
    trainer: z
      .object({ attacker: TrainerConfigSchema.default(TrainerConfigSchema.parse({})), target: TrainerConfigSchema.default(TrainerConfigSchema.parse({})) })
      .strict()
      .default({ attacker: TrainerConfigSchema.parse({}), target: TrainerConfigSchema.parse({}) })
      .describe('the trainer of each trained policy'),
    workers: z
      .number()
      .int()
      .min(0)
      .max(16)
      .default(2)
      .describe('worker threads for independent work: the arena models, the evaluation cells (0: everything in the main thread); results do not depend on it'),
  })
  .strict();

export type RunConfig = z.infer<typeof RunConfigSchema>;
export type TrainerConfig = z.infer<typeof TrainerConfigSchema>;

export function formatIssues(error: z.ZodError, source: string): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.join('.') || '(root)';
      if (issue.code === 'unrecognized_keys')
        return `${source}: unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${[...issue.path, k].join('.')}"`).join(', ')} (check the spelling; \`mtsa config --print\` lists every field)`;
      return `${source}: field "${path}": ${issue.message}`;
    })
    .join('\n');
}

export function parseRunConfig(value: unknown, source = 'config'): RunConfig {
  const parsed = RunConfigSchema.safeParse(value ?? {});
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error, source));
  return parsed.data;
}

/** Config files larger than this are refused before parsing (the YAML parser is quadratic in keys; the full default config is about 3 KiB). */
export const MAX_CONFIG_BYTES = 64 * 1024;

/** Deep merge of plain objects: `over` wins; arrays and scalars are replaced whole. */
function merge(base: unknown, over: unknown): unknown {
  const plain = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!plain(base) || !plain(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = merge(base[k], v);
  return out;
}

/**
 * The config of a file (defaults for what it leaves out), or with `base` (e.g. the tiny config)
 * the file's fields merged over `base`.
 */
export function loadRunConfig(path: string | undefined, base?: RunConfig): RunConfig {
  if (!path) return base ?? parseRunConfig({}, 'defaults');
  let text: string;
  try {
    const size = statSync(path).size;
    if (size > MAX_CONFIG_BYTES)
      throw new ConfigError(`${path}: the config file is ${size} bytes, above the limit of ${MAX_CONFIG_BYTES}; a run config lists a few dozen fields (\`mtsa config --print\`)`);
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`${path}: cannot read the config file (${(error as Error).message})`, { cause: error });
  }
  let value: unknown;
  try {
    value = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new ConfigError(`${path}: not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(error as Error).message}`);
  }
  return parseRunConfig(base ? merge(base, value ?? {}) : value, path);
}

/** A run that finishes in well under a minute: tiny arena, one short iteration (tests, smoke runs). */
export function tinyRunConfig(seed = 1): RunConfig {
  return parseRunConfig(
    {
      seed,
      arena: tinyArenaConfig(seed),
      mtsa: {
        iterations: 1,
        goalsPerIteration: 32,
        maxTurns: 2,
        maxFormatAttempts: 6,
        stage1: { topK: 400, train: { epochs: 5, batchSize: 16, lr: 3e-3 } },
        sampling: { attacker: { maxTokens: 96 }, target: { maxTokens: 48 }, firstReply: { maxTokens: 48 }, rewrite: { maxTokens: 48 } },
        redTeam: { maxGroups: 12, rolloutBudget: 18, diversityReferences: 16, train: { epochs: 2, batchSize: 4, lr: 1e-3 } },
        target: { maxPairs: 12, train: { epochs: 2, batchSize: 4, lr: 1e-3 } },
      },
      evaluation: { repeats: 1 },
    },
    'tiny',
  );
}

/** Every field with its default and description, for `mtsa config --print --describe`. */
export function describeSchema(schema: z.ZodType, prefix = ''): { path: string; description: string }[] {
  const out: { path: string; description: string }[] = [];
  const visit = (s: z.ZodType, path: string) => {
    const description = (s as { description?: string }).description;
    let inner: z.ZodType = s;
    while (inner instanceof z.ZodDefault || inner instanceof z.ZodOptional) inner = (inner as unknown as { unwrap(): z.ZodType }).unwrap();
    if (description && path) out.push({ path, description });
    if (inner instanceof z.ZodObject) for (const [key, child] of Object.entries(inner.shape)) visit(child as z.ZodType, path ? `${path}.${key}` : key);
  };
  visit(schema, prefix);
  return out;
}
