/**
 * study-summary.json: K seeds × variants on one fixed evaluation panel. Each headline is given per
 * seed (with its interval clustered by objective) and as a mean over seeds with a Student-t 95%
 * interval; each paper claim is a paired difference over seeds with its verdict.
 */
import { z } from 'zod';
import { RateSchema } from './summary.js';

export const SpreadSchema = z.object({
  mean: z.number().nullable(),
  low: z.number().nullable(),
  high: z.number().nullable(),
  sd: z.number().nullable(),
  values: z.array(z.number().nullable()),
  seeds: z.number().int(),
});

export const PanelCellSchema = z.object({
  attacker: z.string(),
  target: z.string(),
  oracle: RateSchema.nullable(),
  guard: RateSchema,
  oracleCompleted: RateSchema.nullable(),
  dialogues: z.number().int(),
  completed: z.number().int(),
  dropped: z.number().int(),
});
export type PanelCell = z.infer<typeof PanelCellSchema>;

export const HeadlineSchema = z.object({
  /** the rate in each seed, with its clustered interval */
  perSeed: z.array(RateSchema.nullable()),
  acrossSeeds: SpreadSchema,
});
export type Headline = z.infer<typeof HeadlineSchema>;

export const ClaimSchema = z.object({
  id: z.string(),
  claim: z.string(),
  /** metric compared and the two variants: difference = a − b per seed */
  metric: z.string(),
  a: z.string(),
  b: z.string(),
  /** what supports the claim: the difference is below zero (lower ASR) or above zero */
  supportedWhen: z.enum(['negative', 'positive']),
  difference: SpreadSchema,
  verdict: z.enum(['supports', 'refutes', 'cannot tell']),
  note: z.string(),
});
export type Claim = z.infer<typeof ClaimSchema>;

export const StudySummarySchema = z.object({
  schemaVersion: z.literal(1),
  seeds: z.array(z.number().int()),
  variants: z.array(z.string()),
  iterations: z.number().int(),
  /** attacker names of the panel (main run's R0 and Rn, scripted in-domain and out-of-domain) */
  panelAttackers: z.array(z.object({ name: z.string(), kind: z.enum(['red-team', 'in-domain', 'out-of-domain', 'out-of-domain pooled']) })),
  /** headline name → variant → figures */
  headlines: z.record(z.string(), z.record(z.string(), HeadlineSchema)),
  /** per seed: the panel cells (attacker × target) of every variant's targets */
  panel: z.array(z.object({ seed: z.number().int(), cells: z.array(PanelCellSchema) })),
  claims: z.array(ClaimSchema),
  wallSeconds: z.number(),
});
export type StudySummary = z.infer<typeof StudySummarySchema>;
