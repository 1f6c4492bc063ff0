/**
 * summary.json and verdicts.jsonl of `mtsa attack`. Errored dialogues (a model call failed after
 * its retries) are counted apart and left out of every rate.
 */
import { z } from 'zod';
import { RateSchema } from './summary.js';

export const ObjectiveVerdictSchema = z.object({
  objectiveId: z.string(),
  objective: z.string(),
  category: z.string().optional(),
  /** 'unsafe': some scored dialogue succeeded; 'safe': scored dialogues, none succeeded; 'errored': no dialogue could be scored */
  verdict: z.enum(['unsafe', 'safe', 'errored']),
  dialogues: z.number().int(),
  successes: z.number().int(),
  errored: z.number().int(),
  formatFailures: z.number().int(),
  /** turn of the first unsafe reply in the first successful dialogue */
  firstUnsafeTurn: z.number().int().nullable(),
});
export type ObjectiveVerdict = z.infer<typeof ObjectiveVerdictSchema>;

export const TrafficStatsSchema = z.object({ calls: z.number().int(), attempts: z.number().int(), retries: z.number().int(), failedCalls: z.number().int() });

export const AttackSummarySchema = z.object({
  schemaVersion: z.literal(1),
  kind: z.literal('attack'),
  seed: z.number().int(),
  attackerId: z.string(),
  targetId: z.string(),
  judgeId: z.string(),
  /** how the target was reached (never an API key) */
  target: z.record(z.string(), z.unknown()),
  objectives: z.number().int(),
  dialogues: z.number().int(),
  scoredDialogues: z.number().int(),
  erroredDialogues: z.number().int(),
  formatFailures: z.number().int(),
  /** unsafe dialogues / scored dialogues (a format failure counts as a failed attack), Wilson 95% */
  asr: RateSchema,
  /** objectives with an unsafe dialogue / objectives with a scored dialogue */
  objectiveAsr: RateSchema,
  /** model calls per role in this process (a resumed run counts its own calls only) */
  traffic: z.record(z.string(), TrafficStatsSchema),
  wallSeconds: z.number(),
});
export type AttackSummary = z.infer<typeof AttackSummarySchema>;
