/**
 * The configuration of `mtsa attack`: one target, one attacker, one judge over an objectives
 * file. Model specs per role as in `mtsa run` (config/model-spec.ts); the attacker and judge
 * default to the arena's models, so one server (the target) is enough.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../core/errors.js';
import { ArenaConfigSchema } from '../arena/config.js';
import { sampling } from '../mtsa/config.js';
import { ModelsConfigSchema } from './model-spec.js';
import { formatIssues } from './run-config.js';

export const AttackConfigSchema = z
  .object({
    seed: z.number().int().default(1).describe('seed of every dialogue (and of the arena models when they are used)'),
    maxTurns: z.number().int().min(1).max(10).default(5).describe('turns per dialogue (H)'),
    repeats: z.number().int().positive().default(1).describe('dialogues per objective'),
    limit: z.number().int().positive().optional().describe('attack only the first N objectives of the file'),
    batchSize: z.number().int().positive().default(32).describe('dialogues run together and stored as one resumable step; keep it at least the target concurrency'),
    attacker: z
      .object({
        mode: z.enum(['thought', 'no-thought']).default('thought').describe("'Thinking N' before 'Attack question N', or the question alone"),
        prefill: z.boolean().default(true).describe('prefill the turn markers where the backend can (docs/real-models.md)'),
        maxAttempts: z.number().int().min(1).default(4).describe('attacker generations per turn before the dialogue is dropped as a format failure'),
        sampling: sampling(1.0, 96),
      })
      .strict()
      .default({ mode: 'thought', prefill: true, maxAttempts: 4, sampling: { temperature: 1.0, topP: 0.95, maxTokens: 96 } }),
    target: z
      .object({ sampling: sampling(1.0, 256) })
      .strict()
      .default({ sampling: { temperature: 1.0, topP: 0.95, maxTokens: 256 } }),
    arena: ArenaConfigSchema.default(ArenaConfigSchema.parse({})).describe('the arena whose models fill roles of kind "arena"'),
    models: ModelsConfigSchema.default(ModelsConfigSchema.parse({})).describe('attacker, target, judge: {kind: arena} | {kind: openai-compatible, ...} | {kind: checkpoint, path}'),
  })
  .strict();
export type AttackConfig = z.infer<typeof AttackConfigSchema>;

export function parseAttackConfig(value: unknown, source = 'config'): AttackConfig {
  const parsed = AttackConfigSchema.safeParse(value ?? {});
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error, source));
  return parsed.data;
}

/** Reads a YAML/JSON file as a plain object (validated later, after command-line flags are merged). */
export function readConfigFile(path: string): Record<string, unknown> {
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
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(`${path}: expected a mapping of fields at the top level`);
  return value as Record<string, unknown>;
}
