/**
 * The method and its comparisons as configurations of the one pipeline, so that a comparison
 * changes exactly what it names and nothing else (same seeds, same arena, same evaluation panel):
 *
 * - mtsa: the method (thought-guided attacker, low-similarity Stage-1 selection, future reward).
 * - last-turn: the target is trained on the resampled turn's reward only (REFUEL without the future).
 * - no-thought: the attacker writes attack questions without thoughts (Stage 1 and Stage 2).
 * - random-selection: Stage-1 data chosen at random instead of by lowest mutual similarity.
 * - mart-style: MART-like iterative red teaming: single-turn attacks in training (maxTurns 1), an
 *   attacker without thoughts trained on randomly selected seed data, the target trained on the
 *   (last-)turn reward. Evaluated over the main run's turns.
 * - harm-style: HARM-like multi-turn red teaming: multi-turn attacks without thoughts, random seed
 *   data, the target trained on the last-turn reward.
 *
 * The two baselines are "-style": the paper's MART and HARM differ from this pipeline in more
 * ways (their own red-team training and data); what is kept here is what the paper's comparison
 * is about — single- vs multi-turn attacks, no thoughts, and no future reward.
 */
import type { MtsaConfig } from './config.js';

export const VARIANTS = ['mtsa', 'last-turn', 'no-thought', 'random-selection', 'mart-style', 'harm-style'] as const;
export type VariantName = (typeof VARIANTS)[number];

/** The method's configuration for a variant of `base`; `evaluationTurns` keeps the panel's turns fixed. */
export function variantConfig(base: MtsaConfig, variant: VariantName): { mtsa: MtsaConfig; evaluationTurns: number } {
  const evaluationTurns = base.maxTurns;
  switch (variant) {
    case 'mtsa':
      return { mtsa: base, evaluationTurns };
    case 'last-turn':
      return { mtsa: { ...base, reward: 'last-turn' }, evaluationTurns };
    case 'no-thought':
      return { mtsa: { ...base, attacker: 'no-thought' }, evaluationTurns };
    case 'random-selection':
      return { mtsa: { ...base, selection: 'random' }, evaluationTurns };
    case 'mart-style':
      return { mtsa: { ...base, maxTurns: 1, attacker: 'no-thought', selection: 'random', reward: 'last-turn' }, evaluationTurns };
    case 'harm-style':
      return { mtsa: { ...base, attacker: 'no-thought', selection: 'random', reward: 'last-turn' }, evaluationTurns };
  }
}
