/**
 * summary.json: the headline figures of a run. Rates are oracle-judged where an oracle exists
 * (`asr`, `oodAsr`, …); the learned guard's figures sit beside them under `guard`. Every rate
 * also appears with its n and Wilson 95% interval under `intervals`.
 */
import { z } from 'zod';

export const RateSchema = z.object({
  rate: z.number().nullable(),
  successes: z.number().int(),
  n: z.number().int(),
  low: z.number().nullable(),
  high: z.number().nullable(),
});
export type RateRecord = z.infer<typeof RateSchema>;

const byModel = z.record(z.string(), z.number().nullable());

export const SummarySchema = z.object({
  schemaVersion: z.literal(1),
  seed: z.number().int(),
  /** the ablation switches this run used */
  variant: z.object({ reward: z.string(), attacker: z.string(), selection: z.string() }),
  asr: z.object({
    /** the final red team R_n against each target T0..Tn */
    target: byModel,
    /** each red team R0..Rn against the base target T0 */
    redteam: byModel,
  }),
  overRefusal: byModel,
  helpfulness: byModel,
  oodAsr: byModel,
  judgeOracleAgreement: z.number().nullable(),
  guard: z.object({ asr: z.object({ target: byModel, redteam: byModel }), oodAsr: byModel }),
  intervals: z.record(z.string(), RateSchema),
  matrix: z.array(z.object({ redTeam: z.number().int(), target: z.number().int(), oracle: RateSchema.nullable(), guard: RateSchema, dropped: z.number().int() })),
  diversity: z.array(z.object({ redTeam: z.number().int(), selfBleu: z.number().nullable(), embeddingSimilarity: z.number().nullable(), n: z.number().int() })),
  categories: z.array(z.object({ category: z.string(), first: RateSchema.nullable(), last: RateSchema.nullable() })),
  iterations: z.array(z.record(z.string(), z.number())),
  oodAttacker: z.string(),
  kernels: z.string(),
  arenaBuildSeconds: z.number(),
  wallSeconds: z.number(),
  /** seconds of each phase computed in this process (arena, stage1/sft, iteration-t/…, evaluation); a phase restored on resume is absent */
  phaseSeconds: z.record(z.string(), z.number()).optional(),
});
export type Summary = z.infer<typeof SummarySchema>;
