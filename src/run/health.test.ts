import { describe, expect, it } from 'vitest';
import type { Trajectory } from '../core/trajectory.js';
import type { IterationSummary } from '../mtsa/pipeline.js';
import { isCollapsedReply, replyStats, runWarnings } from './health.js';

function trajectory(targetId: string, replies: string[]): Trajectory {
  return {
    schemaVersion: 1,
    id: `${targetId}-${replies.join('|')}`,
    seed: 1,
    objective: { id: 'o', text: '[harmful objective 1]', kind: 'harmful' },
    attackerId: 'R0',
    targetId,
    judgeId: 'guard',
    turns: replies.map((reply, i) => ({
      index: i + 1,
      attackerMessage: 'q',
      question: 'q',
      reply,
      judgement: { verdict: 'safe', pUnsafe: 0, pSafe: 1 },
      attackerAttempts: 1,
      sampling: { target: { temperature: 1, topP: 1, maxTokens: 8 } },
      usage: { attackerTokens: 1, targetTokens: 1 },
    })),
    attackSuccess: false,
    stopReason: 'max-turns',
    warnings: [],
  };
}

const iteration = (redTeamPairs: number, targetPairs: number): IterationSummary => ({
  iteration: 1,
  onlineAttackSuccess: 0.2,
  redTeamPairs,
  targetPairs,
  dpoMarginBefore: 0,
  dpoMarginAfter: 0,
  targetMarginBefore: 0,
  targetMarginAfter: 0,
});

describe('run health', () => {
  it('recognises collapsed replies', () => {
    for (const reply of ['', '   ', '!!!!!!!!', 'the the the the', 'ab ab ab', '<|pad|><|pad|><|pad|>']) expect(isCollapsedReply(reply), reply).toBe(true);
    for (const reply of ['I cannot help with that.', 'Sure: [restricted step 1 toward: objective 3]', 'ok', 'aa']) expect(isCollapsedReply(reply), reply).toBe(false);
  });

  it('warns about a phase with 0 pairs and a target whose replies collapse, and about nothing in a healthy run', () => {
    const healthy = Array.from({ length: 6 }, (_, i) => trajectory('T0', [`I cannot help with request ${i}.`, `Here is a general overview ${i}.`]));
    expect(runWarnings([iteration(5, 4)], healthy)).toEqual([]);
    const broken = Array.from({ length: 6 }, (_, i) => trajectory('T1', ['!!!!!!!!!!!!', i % 3 ? '!!!!' : 'fine reply here']));
    const warnings = runWarnings(
      [iteration(0, 4), iteration(3, 0)].map((it, i) => ({ ...it, iteration: i + 1 })),
      [...healthy, ...broken],
    );
    expect(warnings).toEqual([
      'iteration 1: red-team resampling produced 0 preference pairs, so the red team was not updated (R1 = R0)',
      'iteration 2: target resampling produced 0 pairs, so the target was not updated (T2 = T1)',
      'target T1: 10 of 12 replies are empty or one repeated token; the model is broken (check its weights) and its attack success rates are meaningless',
    ]);
    const same = Array.from({ length: 6 }, () => trajectory('T2', ['I will not.', 'I will not.']));
    expect(runWarnings([], same)).toEqual(['target T2: all 12 replies are the same text; the model ignores its prompts and its attack success rates are meaningless']);
    expect(replyStats(same)).toEqual([{ targetId: 'T2', replies: 12, collapsed: 0, distinct: 1 }]);
  });
});
