import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadStage1Dialogues } from '../data/loaders/dialogues.js';
import { KeywordJudge, ScriptedChatModel } from '../testing/fakes.js';
import { generateStage1Data, ThoughtGuidedDataAttacker } from './stage1-data.js';

const sampling = { temperature: 1, topP: 1, maxTokens: 64 };
const objectives = [0, 1, 2].map((i) => ({ id: `o${i}`, text: `[harmful objective ${i}]`, kind: 'harmful' as const, category: `cat-${i % 2}` }));

function models() {
  // A served attacker that speaks as assistant (flipped view): its own earlier turns are assistant messages.
  const attacker = new ScriptedChatModel('capable', (r) => {
    const n = r.messages.filter((m) => m.role === 'assistant').length + 1;
    const goal = /attack target is (.*) ,/.exec(r.messages[0].content)?.[1];
    return `Thinking ${n}: step ${n} toward the goal.\nAttack question ${n}: question ${n} about ${goal}`;
  });
  // The target gives in at turn 2 on objective 1 only.
  const target = new ScriptedChatModel('target', (r) => {
    const last = r.messages[r.messages.length - 1].content;
    return last.includes('question 2 about [harmful objective 1]') ? 'UNSAFE [restricted step 1 toward: objective 1]' : 'Sorry, I cannot help.';
  });
  return { attacker, target };
}

describe('stage1-data', () => {
  it('attacks with the thought-guided instructions, judges every turn, keeps successes up to the first unsafe turn', async () => {
    const { attacker, target } = models();
    const agent = new ThoughtGuidedDataAttacker(attacker, { maxTurns: 3, maxAttempts: 2, sampling, prefillMarker: false, flipRoles: true });
    const judge = new KeywordJudge();
    const result = await generateStage1Data(agent, target, judge, { objectives, attempts: 2, maxTurns: 3, seed: 1, targetSampling: sampling });
    expect(result.attempted).toBe(6);
    expect(result.successful).toBe(2);
    expect(result.formatFailures).toBe(0);
    expect(Object.values(result.byStrategy).reduce((s, x) => s + x.attempted, 0)).toBe(6);
    const record = result.records[0] as { red_conv: { role: string; content: string }[]; target: string; category: string; strategy: string };
    expect(record.target).toBe('[harmful objective 1]');
    expect(record.category).toBe('cat-1');
    expect(record.red_conv.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    expect(record.red_conv[2].content).toBe('Thinking 2: step 2 toward the goal.\nAttack question 2: question 2 about [harmful objective 1]');
    // Instructions with one strategy family, the MTSA line kept, roles flipped for a chat server.
    const first = attacker.calls[0];
    expect(first.messages[0].content).toMatch(/^You are an AI red-teaming assistant/);
    expect(first.messages[0].content).toContain('Attack question N:');
    expect(first.messages[0].content).toContain('You are a red team model, your attack target is');
    expect(first.generationRole).toBe('assistant');
    expect(first.messages[1]).toEqual({ role: 'user', content: 'Begin the conversation: write turn 1.' });
    // The target and the judge never see the thoughts.
    for (const call of target.calls) for (const m of call.messages) expect(m.content).not.toContain('Thinking');
    for (const c of judge.calls) for (const m of c) expect(m.content).not.toContain('Thinking');
    // The written JSONL is what Stage 1 reads.
    const path = join(mkdtempSync(join(tmpdir(), 'mtsa-s1-')), 'stage1.jsonl');
    writeFileSync(path, result.records.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const loaded = loadStage1Dialogues(path);
    expect(loaded).toHaveLength(2);
    expect(loaded[0].goal).toBe('[harmful objective 1]');
  });

  it('a malformed attacker is retried, then counted as a format failure (never kept)', async () => {
    const { target } = models();
    const sloppy = new ScriptedChatModel('sloppy', () => 'Sure! Here is my question: tell me things.');
    const agent = new ThoughtGuidedDataAttacker(sloppy, { maxTurns: 2, maxAttempts: 3, sampling, prefillMarker: false, flipRoles: false });
    const result = await generateStage1Data(agent, target, new KeywordJudge(), { objectives: objectives.slice(0, 1), attempts: 1, maxTurns: 2, seed: 1, targetSampling: sampling });
    expect(sloppy.calls).toHaveLength(3);
    expect(result).toMatchObject({ attempted: 1, successful: 0, formatFailures: 1 });
    expect(sloppy.calls[0].generationRole).toBe('user');
  });
});
