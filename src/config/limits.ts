/**
 * Limits of a run configuration that the schema alone does not express: counts with an upper
 * bound (a typo such as `targetDialogues: 1e8` must not start a job of weeks), reply budgets that
 * would silently cut prompts, and an estimate of the work printed before a run starts.
 */
import { ConfigError } from '../core/errors.js';
import type { RunConfig } from './run-config.js';

/** Upper bounds per field, each far above what the arena or the method needs (defaults in parentheses). */
export const COUNT_LIMITS: Record<string, number> = {
  'arena.corpora.targetDialogues': 200_000, // (6000)
  'arena.corpora.benignSingles': 200_000, // (8000)
  'arena.corpora.attackerDialogues': 200_000, // (3000)
  'arena.corpora.thinkBeforeAttackAttempts': 200_000, // (4000)
  'arena.corpora.guardExamples': 200_000, // (6000)
  'arena.corpora.helpfulnessExamples': 200_000, // (4000)
  'arena.corpora.embedderTexts': 200_000, // (4000)
  'arena.vocabSize': 65_536, // (1024)
  'mtsa.goalsPerIteration': 100_000, // (128)
  'mtsa.stage1.topK': 200_000, // (960)
  'mtsa.redTeam.maxGroups': 100_000, // (96)
  'mtsa.redTeam.diversityReferences': 100_000, // (96)
  'mtsa.target.maxPairs': 100_000, // (96)
  'mtsa.maxFormatAttempts': 100, // (4)
  'evaluation.repeats': 1000, // (2)
};

/** Model sizes the CPU engine can train in a run (the arena's defaults are 128 wide, 2 layers, 640 positions). */
export const MODEL_LIMITS = { hiddenSize: 4096, numLayers: 64, intermediateSize: 16_384, maxPositions: 8192, epochs: 1000, batchSize: 4096 } as const;
const EPOCH_LIMIT = 1000;

function at(config: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), config);
}

/** Throws a ConfigError listing every field above its bound, or a reply budget that would cut prompts. */
export function checkRunLimits(config: RunConfig, source = 'config'): void {
  const problems: string[] = [];
  for (const [path, limit] of Object.entries(COUNT_LIMITS)) {
    const value = at(config, path);
    if (typeof value === 'number' && value > limit) problems.push(`field "${path}" is ${value}, above the limit of ${limit}`);
  }
  for (const [role, size] of Object.entries(config.arena.models)) {
    for (const [key, limit] of Object.entries(MODEL_LIMITS)) {
      const value = (size as Record<string, number>)[key];
      if (value > limit) problems.push(`field "arena.models.${role}.${key}" is ${value}, above the limit of ${limit}`);
    }
  }
  for (const [path, schedule] of [
    ['mtsa.stage1.train', config.mtsa.stage1.train],
    ['mtsa.redTeam.train', config.mtsa.redTeam.train],
    ['mtsa.target.train', config.mtsa.target.train],
  ] as const) {
    if (schedule.epochs > EPOCH_LIMIT) problems.push(`field "${path}.epochs" is ${schedule.epochs}, above the limit of ${EPOCH_LIMIT}`);
  }
  // A reply budget must leave room for the prompt: the engine keeps a prompt's last
  // (maxPositions − maxTokens) tokens, so a huge budget would silently cut every prompt.
  const budgets: [string, number, string][] = [
    ['mtsa.sampling.attacker.maxTokens', config.mtsa.sampling.attacker.maxTokens, 'attacker'],
    ['mtsa.sampling.target.maxTokens', config.mtsa.sampling.target.maxTokens, 'target'],
    ['mtsa.sampling.firstReply.maxTokens', config.mtsa.sampling.firstReply.maxTokens, 'target'],
    ['mtsa.sampling.rewrite.maxTokens', config.mtsa.sampling.rewrite.maxTokens, 'target'],
  ];
  for (const [path, maxTokens, role] of budgets) {
    const positions = config.arena.models[role as 'attacker' | 'target'].maxPositions;
    const most = Math.floor(positions / 2);
    if (maxTokens > most)
      problems.push(
        `field "${path}" is ${maxTokens}: it would leave ${Math.max(0, positions - maxTokens)} of the ${role}'s ${positions} positions (arena.models.${role}.maxPositions) for the prompt and silently cut prompts; set it to at most ${most}`,
      );
  }
  if (problems.length) throw new ConfigError(problems.map((p) => `${source}: ${p}`).join('\n'));
}

export interface WorkEstimate {
  /** examples the arena generates for its models' corpora (once; cached afterwards) */
  corpusExamples: number;
  /** dialogues of Stage 2: online sampling and resampling roll-outs */
  trainingDialogues: number;
  /** generated tokens of Stage 2 (upper bound: every reply at its budget) */
  trainingTokens: number;
}

/** A rough, upper-bound estimate of the work a configuration asks for. */
export function estimateWork(config: RunConfig): WorkEstimate {
  const c = config.arena.corpora;
  const m = config.mtsa;
  const corpusExamples = c.targetDialogues + c.benignSingles + c.attackerDialogues + c.thinkBeforeAttackAttempts + c.guardExamples + c.helpfulnessExamples + c.embedderTexts;
  const perIteration = m.goalsPerIteration + m.redTeam.maxGroups * m.sampling.regenerateTemperatures.length + m.target.maxPairs;
  const trainingDialogues = m.iterations * perIteration;
  const turnTokens = m.sampling.attacker.maxTokens + m.sampling.target.maxTokens;
  return { corpusExamples, trainingDialogues, trainingTokens: trainingDialogues * m.maxTurns * turnTokens };
}

export function describeWork(estimate: WorkEstimate): string {
  const n = (x: number) => (x >= 1e6 ? `${(x / 1e6).toFixed(1)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}k` : String(x));
  return `work: ${n(estimate.corpusExamples)} arena corpus examples (built once, cached), ≤ ${n(estimate.trainingDialogues)} training dialogues, ≤ ${n(estimate.trainingTokens)} generated tokens before evaluation`;
}
