/**
 * The configuration of `mtsa run`: the arena, the method and the evaluation, each with defaults and
 * descriptions. Files are YAML or JSON; unknown or ill-typed fields are errors naming the field.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../core/errors.js';
import { ArenaConfigSchema, tinyArenaConfig } from '../arena/config.js';
import { MtsaConfigSchema } from '../mtsa/config.js';

export const EvaluationConfigSchema = z
  .object({
    repeats: z.number().int().positive().default(2).describe('dialogues per held-out harmful objective in each attack evaluation'),
    matrix: z.enum(['full', 'diagonal-and-edges']).default('full').describe('R×T cells to evaluate: all, or only R_i vs T0 and R_final vs T_j'),
    oodAttacker: z.enum(['crescendo']).default('crescendo').describe('scripted out-of-domain multi-turn attacker'),
    capabilityTemperature: z.number().min(0).default(0).describe('sampling temperature of helpfulness and over-refusal requests (0: greedy)'),
  })
  .strict();

export const RunConfigSchema = z
  .object({
    seed: z.number().int().default(1).describe('seed of everything in the run; the same seed gives the same bytes'),
    arena: ArenaConfigSchema.default(ArenaConfigSchema.parse({})).describe('the synthetic world and its models'),
    mtsa: MtsaConfigSchema.default(MtsaConfigSchema.parse({})).describe('the method'),
    evaluation: EvaluationConfigSchema.default(EvaluationConfigSchema.parse({})).describe('held-out evaluation'),
    workers: z.number().int().min(0).max(16).default(2).describe('worker threads for independent work: the arena models, the evaluation cells (0: everything in the main thread); results do not depend on it'),
  })
  .strict();

export type RunConfig = z.infer<typeof RunConfigSchema>;
export type EvaluationConfig = z.infer<typeof EvaluationConfigSchema>;

export function formatIssues(error: z.ZodError, source: string): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.join('.') || '(root)';
      if (issue.code === 'unrecognized_keys') return `${source}: unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${[...issue.path, k].join('.')}"`).join(', ')} (check the spelling; \`mtsa config --print\` lists every field)`;
      return `${source}: field "${path}": ${issue.message}`;
    })
    .join('\n');
}

export function parseRunConfig(value: unknown, source = 'config'): RunConfig {
  const parsed = RunConfigSchema.safeParse(value ?? {});
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error, source));
  return parsed.data;
}

export function loadRunConfig(path: string | undefined): RunConfig {
  if (!path) return parseRunConfig({}, 'defaults');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`${path}: cannot read the config file (${(error as Error).message})`);
  }
  let value: unknown;
  try {
    value = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new ConfigError(`${path}: not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(error as Error).message}`);
  }
  return parseRunConfig(value, path);
}

/** A run that finishes in well under a minute: tiny arena, one short iteration (tests, smoke runs). */
export function tinyRunConfig(seed = 1): RunConfig {
  return parseRunConfig({
    seed,
    arena: tinyArenaConfig(seed),
    mtsa: {
      iterations: 1,
      goalsPerIteration: 32,
      maxTurns: 2,
      maxFormatAttempts: 6,
      stage1: { topK: 400, train: { epochs: 5, batchSize: 16, lr: 3e-3 } },
      sampling: { attacker: { maxTokens: 96 }, target: { maxTokens: 48 }, firstReply: { maxTokens: 48 }, rewrite: { maxTokens: 48 } },
      redTeam: { maxGroups: 12, diversityReferences: 16, train: { epochs: 2, batchSize: 4, lr: 1e-3 } },
      target: { maxPairs: 12, train: { epochs: 2, batchSize: 4, lr: 1e-3 } },
    },
    evaluation: { repeats: 1 },
  }, 'tiny');
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
