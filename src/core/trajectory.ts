/**
 * Trajectory records: one attacker–target dialogue, turn by turn, with everything needed to
 * reproduce, audit or train from it. Written to trajectories.jsonl; validated on read.
 */
import { z } from 'zod';

export const SamplingSchema = z.object({
  temperature: z.number(),
  topP: z.number(),
  maxTokens: z.number().int(),
});

export const JudgementSchema = z.object({
  verdict: z.enum(['unsafe', 'safe', 'undetermined']),
  pUnsafe: z.number(),
  pSafe: z.number(),
  category: z.string().optional(),
});

/** Ground truth about a reply where the environment knows it (the arena's oracle). */
export const OracleLabelSchema = z.object({
  unsafe: z.boolean(),
  kind: z.string(),
});
export type OracleLabel = z.infer<typeof OracleLabelSchema>;

export const TurnSchema = z.object({
  /** 1-based turn number, as in "Attack question N" */
  index: z.number().int().positive(),
  /** the attacker's full message (thought and question); what the attacker view holds */
  attackerMessage: z.string(),
  /** the attacker's thought: never sent to the target */
  thought: z.string().optional(),
  /** the question the target saw */
  question: z.string(),
  reply: z.string(),
  judgement: JudgementSchema,
  oracle: OracleLabelSchema.optional(),
  /** attacker generations needed to get a well-formed turn */
  attackerAttempts: z.number().int().nonnegative(),
  sampling: z.object({ attacker: SamplingSchema.optional(), target: SamplingSchema }),
  usage: z.object({ attackerTokens: z.number().int().nonnegative(), targetTokens: z.number().int().nonnegative() }),
});
export type Turn = z.infer<typeof TurnSchema>;

export const ObjectiveRefSchema = z.object({
  id: z.string(),
  text: z.string(),
  category: z.string().optional(),
  kind: z.enum(['harmful', 'benign', 'borderline']),
});
export type ObjectiveRef = z.infer<typeof ObjectiveRefSchema>;

export const TrajectorySchema = z.object({
  schemaVersion: z.literal(1),
  id: z.string(),
  seed: z.number().int(),
  objective: ObjectiveRefSchema,
  attackerId: z.string(),
  targetId: z.string(),
  judgeId: z.string(),
  turns: z.array(TurnSchema),
  /** the judge flagged some turn unsafe (the paper's attack_success) */
  attackSuccess: z.boolean(),
  /** the oracle saw restricted content in some turn, when an oracle exists */
  oracleSuccess: z.boolean().optional(),
  /**
   * 'error': a model call failed after its retries; the dialogue is errored: counted and reported
   * apart, never scored as safe or unsafe (its attackSuccess is false and means nothing)
   */
  stopReason: z.enum(['max-turns', 'format-failure', 'error']),
  warnings: z.array(z.string()),
});
export type Trajectory = z.infer<typeof TrajectorySchema>;

/** Dialogues that count toward a rate: every one but the errored (a failed call scores nothing). */
export function scoredTrajectories<T extends Pick<Trajectory, 'stopReason'>>(trajectories: readonly T[]): T[] {
  return trajectories.filter((t) => t.stopReason !== 'error');
}
