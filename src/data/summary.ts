/**
 * summary.json: the headline figures of a run. Rates are oracle-judged where an oracle exists
 * (`asr`, `oodAsr`, …); the learned guard's figures sit beside them under `guard`. Every rate
 * also appears under `intervals` with its n, its numbers of objectives and dialogues, and a 95%
 * interval clustered by objective (design-effect Wilson, docs/decisions/0012-clustered-intervals.md;
 * `naiveLow`/`naiveHigh` are the Wilson interval that treats every unit as independent).
 * `oodAsr` pools the out-of-domain scripted attackers; `scripted` has every scripted attacker's
 * cell, in-domain (its strategy is in some training corpus) and out-of-domain apart.
 */
import { z } from 'zod';

export const RateSchema = z.object({
  rate: z.number().nullable(),
  successes: z.number().int(),
  n: z.number().int(),
  low: z.number().nullable(),
  high: z.number().nullable(),
  /** clusters (objectives) behind the figure; absent in summaries written before clustered intervals */
  nObjectives: z.number().int().optional(),
  nDialogues: z.number().int().optional(),
  designEffect: z.number().nullable().optional(),
  naiveLow: z.number().nullable().optional(),
  naiveHigh: z.number().nullable().optional(),
});
export type RateRecord = z.infer<typeof RateSchema>;

const byModel = z.record(z.string(), z.number().nullable());

/** Counts and ASR over completed dialogues beside a cell's ASR over all dialogues. */
const cellCounts = {
  oracleCompleted: RateSchema.nullable().optional(),
  guardCompleted: RateSchema.optional(),
  dialogues: z.number().int().optional(),
  completed: z.number().int().optional(),
};

export const ScriptedCellSchema = z.object({
  attacker: z.string(),
  domain: z.enum(['in-domain', 'out-of-domain']),
  target: z.number().int(),
  oracle: RateSchema.nullable(),
  guard: RateSchema,
  dropped: z.number().int(),
  ...cellCounts,
});

export const SummarySchema = z.object({
  schemaVersion: z.literal(1),
  seed: z.number().int(),
  /** the ablation switches this run used */
  variant: z.object({ reward: z.string(), attacker: z.string(), selection: z.string() }),
  /** what decided attack success in the headline rates: the arena's oracle, or the judge alone (files without ground truth) */
  groundTruth: z.enum(['oracle', 'judge-only (no oracle)']).optional(),
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
  matrix: z.array(z.object({ redTeam: z.number().int(), target: z.number().int(), oracle: RateSchema.nullable(), guard: RateSchema, dropped: z.number().int(), ...cellCounts })),
  /** every scripted attacker against every target */
  scripted: z.array(ScriptedCellSchema).optional(),
  diversity: z.array(z.object({ redTeam: z.number().int(), selfBleu: z.number().nullable(), embeddingSimilarity: z.number().nullable(), n: z.number().int() })),
  categories: z.array(z.object({ category: z.string(), first: RateSchema.nullable(), last: RateSchema.nullable() })),
  iterations: z.array(z.record(z.string(), z.number())),
  oodAttacker: z.string(),
  kernels: z.string(),
  arenaBuildSeconds: z.number(),
  /** wall time of all attempts together (a resumed run sums the attempts) */
  wallSeconds: z.number(),
  /** processes that worked on the run (1 + the number of resumes) */
  attempts: z.number().int().positive().optional(),
  /** what makes the figures doubtful (0 pairs in a phase, a collapsed target); empty when nothing */
  warnings: z.array(z.string()).optional(),
  /** seconds of each phase computed in this process (arena, stage1/sft, iteration-t/…, evaluation); a phase restored on resume is absent */
  phaseSeconds: z.record(z.string(), z.number()).optional(),
});
export type Summary = z.infer<typeof SummarySchema>;
