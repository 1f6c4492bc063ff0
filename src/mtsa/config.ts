/**
 * MTSA's hyper-parameters (docs/method.md §10), scaled for the arena's small models where the
 * 7B values do not transfer (learning rates, token budgets); the method's constants (H = 5,
 * regeneration temperatures, thresholds, β = 0.1, η = 50, three iterations) keep their values.
 */
import { z } from 'zod';

/** A sampling block with its defaults (also the attack config's). */
export const sampling = (temperature: number, maxTokens: number) =>
  z
    .object({
      temperature: z.number().min(0).default(temperature),
      topP: z.number().gt(0).max(1).default(0.95),
      maxTokens: z.number().int().positive().default(maxTokens),
    })
    .strict()
    .default({ temperature, topP: 0.95, maxTokens });

const schedule = (defaults: { epochs: number; batchSize: number; lr: number }) =>
  z
    .object({
      epochs: z.number().positive().default(defaults.epochs).describe('passes over the data'),
      batchSize: z.number().int().positive().default(defaults.batchSize).describe('items per optimiser step'),
      lr: z.number().positive().default(defaults.lr).describe('peak learning rate (warm-up 10%, then cosine)'),
    })
    .strict()
    .default(defaults);

export const MtsaConfigSchema = z
  .object({
    maxTurns: z.number().int().min(1).max(10).default(5).describe('turns per dialogue (H)'),
    iterations: z.number().int().min(0).max(10).default(3).describe('Stage 2 iterations (T)'),
    attacker: z.enum(['thought', 'no-thought']).default('thought').describe("ablation: the attacker writes 'Thinking N' before 'Attack question N', or the question alone"),
    reward: z.enum(['future', 'last-turn']).default('future').describe('target reward: summed from the resampled turn to the end (MTSA), or that turn only (MART/HARM-style ablation)'),
    selection: z.enum(['lowsim', 'random']).default('lowsim').describe('Stage 1 data selection: top-k lowest mutual similarity, or random (ablation)'),
    stage1: z
      .object({
        topK: z.number().int().positive().default(960).describe('Think-before-Attack dialogues kept for SFT'),
        train: schedule({ epochs: 2, batchSize: 16, lr: 2e-3 }),
      })
      .strict()
      .default({ topK: 960, train: { epochs: 2, batchSize: 16, lr: 2e-3 } }),
    goalsPerIteration: z.number().int().positive().default(128).describe('training objectives sampled for online dialogues each iteration'),
    attackerPrefill: z
      .boolean()
      .default(true)
      .describe(
        'prefill the markers of each attacker turn ("Thinking N:" at the start, "Attack question N:" after the thought line), so the model never writes a turn number; false: free generation, checked and retried',
      ),
    maxFormatAttempts: z.number().int().min(1).default(4).describe('attacker generations per turn before the dialogue is dropped (reference: 1 + 3 retries)'),
    sampling: z
      .object({
        attacker: sampling(1.0, 96).describe('online attacker turns'),
        target: sampling(1.0, 80).describe('target replies'),
        regenerateTemperatures: z.array(z.number().positive()).min(2).default([0.6, 0.8, 1.0, 1.2]).describe('red-team resampling temperatures'),
        firstReply: sampling(0.7, 64).describe("target's first reply to a regenerated attack"),
        rewrite: sampling(0.8, 80).describe("target's safe rewrite (with the safety hint)"),
      })
      .strict()
      .default({
        attacker: { temperature: 1.0, topP: 0.95, maxTokens: 96 },
        target: { temperature: 1.0, topP: 0.95, maxTokens: 80 },
        regenerateTemperatures: [0.6, 0.8, 1.0, 1.2],
        firstReply: { temperature: 0.7, topP: 0.95, maxTokens: 64 },
        rewrite: { temperature: 0.8, topP: 0.95, maxTokens: 80 },
      }),
    redTeam: z
      .object({
        maxSafeProbability: z.number().min(0).max(1).default(0.3).describe('a turn qualifies for attack regeneration when P(unsafe) ≤ this'),
        source: z.enum(['all', 'successful']).default('all').describe("dialogues that feed red-team resampling: all (the paper's figure, G1) or successful only (reference code)"),
        maxGroups: z.number().int().positive().default(96).describe('red-team groups that yield a pair, per iteration (with requireUnsafeFuture: counted after the filter)'),
        rolloutBudget: z
          .number()
          .int()
          .positive()
          .default(144)
          .describe(
            'most groups rolled out per iteration when requireUnsafeFuture skips groups after their rollouts: skipped groups free their slot for the next candidate until this many were tried',
          ),
        requireUnsafeFuture: z
          .boolean()
          .default(true)
          .describe("skip a group when no candidate's rolled-out future reaches an unsafe verdict: its toxicity z-scores are judge noise (docs/decisions/0003); false is the paper as written"),
        diversityReferences: z.number().int().positive().default(96).describe('references sampled from the Stage-1 set for the diversity terms'),
        beta: z.number().positive().default(0.1).describe('DPO β'),
        rpoAlpha: z.number().min(0).default(0).describe('weight of an NLL term on the chosen attack (RPO / TRL rpo_alpha); 0 is plain DPO as in the paper'),
        train: schedule({ epochs: 2, batchSize: 8, lr: 5e-5 }),
      })
      .strict()
      .default({
        maxSafeProbability: 0.3,
        source: 'all',
        maxGroups: 96,
        rolloutBudget: 144,
        requireUnsafeFuture: true,
        diversityReferences: 96,
        beta: 0.1,
        rpoAlpha: 0,
        train: { epochs: 2, batchSize: 8, lr: 5e-5 },
      }),
    target: z
      .object({
        minUnsafeProbability: z.number().min(0).max(1).default(0.5).describe('a turn qualifies for a safe rewrite when P(unsafe) ≥ this'),
        maxPairs: z.number().int().positive().default(96).describe('target pairs per iteration'),
        eta: z.number().positive().default(50).describe("η of the future-reward loss (the reference code's β = 0.01)"),
        train: schedule({ epochs: 2, batchSize: 8, lr: 5e-4 }),
      })
      .strict()
      .default({ minUnsafeProbability: 0.5, maxPairs: 96, eta: 50, train: { epochs: 2, batchSize: 8, lr: 5e-4 } }),
  })
  .strict();

export type MtsaConfig = z.infer<typeof MtsaConfigSchema>;

export function defaultMtsaConfig(): MtsaConfig {
  return MtsaConfigSchema.parse({});
}
