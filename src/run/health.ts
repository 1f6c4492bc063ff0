/**
 * Checks that a finished run's figures can be trusted, as loud warnings (log, summary.json,
 * report): a phase that produced no training pairs (the model it should update was not trained),
 * and a target whose replies collapse (one repeated token, or one reply for every prompt): a
 * broken target looks perfectly safe to a judge, so "0% attack success" would be wrong.
 */
import type { Trajectory } from '../core/trajectory.js';
import type { IterationSummary } from '../mtsa/pipeline.js';

/** A reply that is empty or one short unit repeated (e.g. "!!!!!!", "the the the"). */
export function isCollapsedReply(reply: string): boolean {
  const text = reply.replace(/\s+/g, '');
  if (text === '') return true;
  return /^(.{1,12}?)\1{2,}$/su.test(text);
}

export interface CollapseStats {
  targetId: string;
  replies: number;
  collapsed: number;
  distinct: number;
}

/** Per target model: how many replies, how many collapsed, how many distinct. */
export function replyStats(trajectories: readonly Trajectory[]): CollapseStats[] {
  const byTarget = new Map<string, { replies: number; collapsed: number; texts: Set<string> }>();
  for (const trajectory of trajectories) {
    let entry = byTarget.get(trajectory.targetId);
    if (!entry) byTarget.set(trajectory.targetId, (entry = { replies: 0, collapsed: 0, texts: new Set() }));
    for (const turn of trajectory.turns) {
      entry.replies++;
      if (isCollapsedReply(turn.reply)) entry.collapsed++;
      entry.texts.add(turn.reply);
    }
  }
  return [...byTarget].map(([targetId, e]) => ({ targetId, replies: e.replies, collapsed: e.collapsed, distinct: e.texts.size }));
}

/** The warnings of a run; empty when nothing looks wrong. */
export function runWarnings(iterations: readonly IterationSummary[], trajectories: readonly Trajectory[]): string[] {
  const warnings: string[] = [];
  for (const it of iterations) {
    if (it.redTeamPairs === 0) warnings.push(`iteration ${it.iteration}: red-team resampling produced 0 preference pairs, so the red team was not updated (R${it.iteration} = R${it.iteration - 1})`);
    if (it.targetPairs === 0) warnings.push(`iteration ${it.iteration}: target resampling produced 0 pairs, so the target was not updated (T${it.iteration} = T${it.iteration - 1})`);
  }
  for (const s of replyStats(trajectories)) {
    if (s.replies < 10) continue;
    if (s.collapsed >= s.replies / 2)
      warnings.push(
        `target ${s.targetId}: ${s.collapsed} of ${s.replies} replies are empty or one repeated token; the model is broken (check its weights) and its attack success rates are meaningless`,
      );
    else if (s.distinct === 1) warnings.push(`target ${s.targetId}: all ${s.replies} replies are the same text; the model ignores its prompts and its attack success rates are meaningless`);
  }
  return warnings;
}
