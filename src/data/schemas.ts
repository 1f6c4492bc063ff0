/**
 * On-disk records of preference data, in formats other trainers read:
 * - red team: TRL's conversational preference format ({prompt, chosen, rejected} message lists);
 *   the chosen/rejected message is the attacker's turn, spoken as the *user* (generation_role).
 * - target: the same plus chosen_reward / rejected_reward, the columns the reference code's
 *   multi-turn trainer reads.
 */
import { z } from 'zod';
import { MessageSchema } from '../core/message.js';

const PairSourceSchema = z.object({
  trajectoryId: z.string(),
  /** 1-based turn whose message was resampled */
  turn: z.number().int().positive(),
  iteration: z.number().int().nonnegative(),
  objectiveId: z.string(),
});

export const RedTeamPreferenceSchema = z
  .object({
    prompt: z.array(MessageSchema).min(1),
    chosen: z.array(MessageSchema).length(1),
    rejected: z.array(MessageSchema).length(1),
    generation_role: z.literal('user'),
    /** R_adv of each candidate, its z-scored components, and which won */
    scores: z.object({ toxicity: z.array(z.number()), diversity: z.array(z.number()), total: z.array(z.number()), chosenIndex: z.number().int(), rejectedIndex: z.number().int() }),
    temperatures: z.array(z.number()),
    source: PairSourceSchema,
  })
  .strict();
export type RedTeamPreference = z.infer<typeof RedTeamPreferenceSchema>;

export const TargetPreferenceSchema = z
  .object({
    prompt: z.array(MessageSchema).min(1),
    chosen: z.array(MessageSchema).length(1),
    rejected: z.array(MessageSchema).length(1),
    chosen_reward: z.number(),
    rejected_reward: z.number(),
    /** reward components, summed over the turns from the resampled one to the end */
    components: z.object({ chosenHelpfulness: z.number(), chosenSafety: z.number(), rejectedHelpfulness: z.number(), rejectedSafety: z.number(), turns: z.number().int().positive() }),
    source: PairSourceSchema,
  })
  .strict();
export type TargetPreference = z.infer<typeof TargetPreferenceSchema>;

/** A line of pairs.jsonl: which side it trains and the record itself. */
export const PairRecordSchema = z.discriminatedUnion('side', [
  z.object({ side: z.literal('red-team'), pair: RedTeamPreferenceSchema }),
  z.object({ side: z.literal('target'), pair: TargetPreferenceSchema }),
]);

/**
 * A Think-before-Attack dialogue (docs/method.md §2.5): the goal and the attacker-view messages
 * without the system prompt — attacker turns as `user` in the "Thinking N / Attack question N"
 * format, target replies as `assistant`. The reference code reads `red_conv` in SFT and
 * `red_team_conv` in resampling (G8); either name is accepted.
 */
export const ThinkBeforeAttackSchema = z
  .object({
    target: z.string().min(1),
    red_conv: z.array(MessageSchema).optional(),
    red_team_conv: z.array(MessageSchema).optional(),
    objectiveId: z.string().optional(),
    category: z.string().optional(),
    attack_success: z.boolean().optional(),
  })
  .passthrough()
  .refine((r) => r.red_conv ?? r.red_team_conv, { message: 'needs red_conv (or red_team_conv): the attacker-view messages' })
  .transform((r) => ({ goal: r.target, objectiveId: r.objectiveId ?? r.target, messages: (r.red_conv ?? r.red_team_conv)!, success: r.attack_success }));
export type ThinkBeforeAttackDialogue = z.output<typeof ThinkBeforeAttackSchema>;

export const MetricRecordSchema = z
  .object({
    step: z.string(),
    values: z.record(z.string(), z.number()),
  })
  .strict();
