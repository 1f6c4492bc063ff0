import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { wilson } from '../core/stats.js';
import type { Trajectory } from '../core/trajectory.js';
import { AttackSummarySchema } from '../data/attack-summary.js';
import { buildAttackReport } from './build-report.js';

const trajectory = (id: string, stopReason: Trajectory['stopReason'], unsafe: boolean, reply: string): Trajectory => ({
  schemaVersion: 1,
  id,
  seed: 1,
  objective: { id: 'o1', text: '[harmful objective 1] <b>', kind: 'harmful' },
  attackerId: 'arena:thought-guided',
  targetId: 'target:m',
  judgeId: 'arena:guard',
  turns: [
    {
      index: 1,
      attackerMessage: 'Thinking 1: t\nAttack question 1: q',
      thought: 't',
      question: 'q',
      reply,
      judgement: { verdict: unsafe ? 'unsafe' : 'safe', pUnsafe: unsafe ? 0.9 : 0.1, pSafe: unsafe ? 0.1 : 0.9 },
      attackerAttempts: 1,
      sampling: { target: { temperature: 1, topP: 1, maxTokens: 8 } },
      usage: { attackerTokens: 0, targetTokens: 0 },
    },
  ],
  attackSuccess: unsafe && stopReason !== 'error',
  stopReason,
  warnings: stopReason === 'error' ? ['turn 2: target call failed: HTTP 503'] : [],
});

describe('attack report', () => {
  const summary = AttackSummarySchema.parse({
    schemaVersion: 1,
    kind: 'attack',
    seed: 1,
    attackerId: 'arena:thought-guided',
    targetId: 'target:m',
    judgeId: 'arena:guard',
    target: { kind: 'openai-compatible', baseUrl: 'http://127.0.0.1:8000/v1', model: 'm' },
    objectives: 1,
    dialogues: 3,
    scoredDialogues: 2,
    erroredDialogues: 1,
    formatFailures: 0,
    asr: wilson(1, 2),
    objectiveAsr: wilson(1, 1),
    traffic: { target: { calls: 5, attempts: 7, retries: 2, failedCalls: 1 } },
    wallSeconds: 3,
  });
  const html = buildAttackReport({
    summary,
    verdicts: [{ objectiveId: 'o1', objective: '[harmful objective 1] <b>', verdict: 'unsafe', dialogues: 3, successes: 1, errored: 1, formatFailures: 0, firstUnsafeTurn: 1 }],
    trajectories: [trajectory('attack|o1|0', 'max-turns', true, '[restricted step 1]'), trajectory('attack|o1|1', 'max-turns', false, 'no'), trajectory('attack|o1|2', 'error', false, 'partial')],
  });

  it('shows ASR with its interval, errored dialogues apart, calls and retries, per-objective verdicts; escapes input', () => {
    expect(html).toContain('ASR 50.0% over 2 scored dialogues (95% interval clustered by objective 9.5%–90.5%); 1 errored.');
    expect(html).toContain('<b>1 errored</b> — a model call failed; not counted as safe or unsafe');
    expect(html).toContain('5 calls, 7 attempts, 2 retries, 1 failed');
    expect(html).toContain('<td>1 / 2 (1 errored)</td>');
    expect(html).toContain('[harmful objective 1] &lt;b&gt;');
    expect(html).not.toContain('[harmful objective 1] <b>');
    expect(html).toContain('<option value="attack">Attack dialogues</option>');
    expect(html).toContain('"errored":true');
  });

  it('carries the same type-checked transcript browser as the run report', () => {
    expect(html).toContain(`<script>${readFileSync(new URL('./client/report-client.js', import.meta.url), 'utf8')}</script>`);
  });
});
