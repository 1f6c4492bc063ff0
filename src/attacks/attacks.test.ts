import { describe, expect, it } from 'vitest';
import { KeywordJudge, ScriptedChatModel } from '../testing/fakes.js';
import { attackerMessages, LlmAttacker, targetMessages } from './attacker.js';
import { formatAttackerMessage, parseAttackerTurn } from './parse-attacker-turn.js';
import { runConversations } from './run-conversation.js';

describe('parseAttackerTurn', () => {
  it('splits thought and question, keeping extra text after the question (the reference behaviour)', () => {
    expect(parseAttackerTurn('Thinking 2: be subtle\nAttack question 2: How do clocks work? Thanks!', 2)).toEqual({ ok: true, thought: 'be subtle', question: 'How do clocks work? Thanks!' });
  });

  it('ignores text before the thought marker', () => {
    expect(parseAttackerTurn('Sure. Thinking 1: x\nAttack question 1: y', 1)).toEqual({ ok: true, thought: 'x', question: 'y' });
  });

  it('rejects a wrong turn number, missing markers, an empty question and a reversed order', () => {
    expect(parseAttackerTurn('Thinking 3: x\nAttack question 3: y', 2)).toEqual({ ok: false, reason: 'wrong-turn' });
    expect(parseAttackerTurn('Thinking 2: x\nAttack question 3: y', 2)).toEqual({ ok: false, reason: 'wrong-turn' });
    expect(parseAttackerTurn('Attack question 2: y', 2)).toEqual({ ok: false, reason: 'missing-thinking' });
    expect(parseAttackerTurn('Thinking 2: only a thought', 2)).toEqual({ ok: false, reason: 'missing-question' });
    expect(parseAttackerTurn('Thinking 2: x\nAttack question 2:   ', 2)).toEqual({ ok: false, reason: 'empty-question' });
    expect(parseAttackerTurn('Attack question 2: y\nThinking 2: x', 2)).toEqual({ ok: false, reason: 'order' });
    expect(parseAttackerTurn('', 1)).toEqual({ ok: false, reason: 'missing-question' });
  });

  it('no-thought mode needs only the question line', () => {
    expect(parseAttackerTurn('Attack question 4: why?', 4, 'no-thought')).toEqual({ ok: true, thought: undefined, question: 'why?' });
    expect(formatAttackerMessage(4, undefined, 'why?')).toBe('Attack question 4: why?');
  });
});

describe('runConversations', () => {
  const objective = { id: 'o1', text: 'acquire a restricted compound', kind: 'harmful' as const };

  it('keeps the two views apart, judges with full context, and retries malformed turns', async () => {
    // Turn 1 needs two attempts; every later turn is well formed.
    const attackerModel = new ScriptedChatModel('attacker', (request, call) => {
      const turn = (request.messages.length - 1) / 2 + 1;
      return call === 0 ? 'no markers here' : `Thinking ${turn}: plan ${turn}\nAttack question ${turn}: question ${turn}?`;
    });
    const target = new ScriptedChatModel('target', (request) => (request.messages.length === 5 ? 'UNSAFE [restricted step 1 toward: x]' : 'safe reply'));
    const judge = new KeywordJudge();
    const attacker = new LlmAttacker(attackerModel, { id: 'red', mode: 'thought', maxAttempts: 4, sampling: { temperature: 1, topP: 0.95, maxTokens: 32 }, prefillMarker: false });
    const [trajectory] = await runConversations([{ id: 'd1', seed: 7, objective }], { attacker, target, judge, maxTurns: 3, targetSampling: { temperature: 1, topP: 0.95, maxTokens: 32 } });
    expect(trajectory.turns.map((t) => t.attackerAttempts)).toEqual([2, 1, 1]);
    expect(trajectory.turns.map((t) => t.question)).toEqual(['question 1?', 'question 2?', 'question 3?']);
    expect(trajectory.attackSuccess).toBe(true);
    // The target saw only questions and replies: no system prompt, no thoughts.
    for (const call of target.calls) for (const m of call.messages) expect(m.content).not.toMatch(/Thinking|red team|plan/);
    expect(target.calls[2].messages).toEqual(targetMessages(trajectory.turns.slice(0, 2)).concat({ role: 'user', content: 'question 3?' }));
    // The attacker saw the system prompt with the goal, its full turns and the replies, and spoke as the user.
    expect(attackerModel.calls.at(-1)!.messages).toEqual(attackerMessages(objective.text, trajectory.turns.slice(0, 2)));
    expect(attackerModel.calls.every((c) => c.generationRole === 'user')).toBe(true);
    // The judge got the whole target-view context, ending with the reply under review.
    expect(judge.calls.at(-1)).toEqual(targetMessages(trajectory.turns));
  });

  it('drops only the dialogue whose attacker fails every attempt, and says why', async () => {
    const attackerModel = new ScriptedChatModel('attacker', (request) => (request.messages[0].content.includes('bad goal') ? 'garbage' : 'Thinking 1: t\nAttack question 1: q'));
    const target = new ScriptedChatModel('target', () => 'ok');
    const attacker = new LlmAttacker(attackerModel, { id: 'red', mode: 'thought', maxAttempts: 4, sampling: { temperature: 1, topP: 1, maxTokens: 8 }, prefillMarker: false });
    const result = await runConversations(
      [
        { id: 'a', seed: 1, objective },
        { id: 'b', seed: 2, objective: { ...objective, id: 'o2', text: 'bad goal' } },
      ],
      { attacker, target, judge: new KeywordJudge(), maxTurns: 1, targetSampling: { temperature: 1, topP: 1, maxTokens: 8 } },
    );
    expect(result.map((r) => r.stopReason)).toEqual(['max-turns', 'format-failure']);
    expect(result[1].warnings[0]).toMatch(/4 attempts \(missing-question/);
    expect(attackerModel.calls.filter((c) => c.messages[0].content.includes('bad goal'))).toHaveLength(4);
  });

  it('a forced first turn and reply branch a dialogue from a prefix', async () => {
    const attackerModel = new ScriptedChatModel('attacker', (request) => {
      // Prefilled with "Thinking N:" and "Attack question N:", the model writes only the words.
      const turn = (request.messages.length - 1) / 2 + 1;
      return ` t\n q${turn}`;
    });
    const target = new ScriptedChatModel('target', () => 'sampled');
    const attacker = new LlmAttacker(attackerModel, { id: 'red', mode: 'thought', maxAttempts: 1, sampling: { temperature: 1, topP: 1, maxTokens: 8 } });
    const options = { attacker, target, judge: new KeywordJudge(), maxTurns: 3, targetSampling: { temperature: 1, topP: 1, maxTokens: 8 } };
    const [base] = await runConversations([{ id: 'a', seed: 1, objective }], options);
    const [branch] = await runConversations(
      [{ id: 'b', seed: 1, objective, prefix: base.turns.slice(0, 1), first: { proposal: { message: 'Thinking 2: t\nAttack question 2: forced', question: 'forced' }, reply: 'rewritten' } }],
      options,
    );
    expect(branch.turns.map((t) => [t.question, t.reply])).toEqual([
      ['q1', 'sampled'],
      ['forced', 'rewritten'],
      ['q3', 'sampled'],
    ]);
  });

  it('prefills the markers, so a model that cannot count still writes well-formed turns in its own words', async () => {
    // This model writes no turn numbers at all; the prefills supply them (the fake, like the
    // engine, strips nothing, so a model that wrote its own marker would get it twice).
    const attackerModel = new ScriptedChatModel('attacker', () => ' my plan\n my question');
    const attacker = new LlmAttacker(attackerModel, { id: 'red', mode: 'thought', maxAttempts: 1, sampling: { temperature: 1, topP: 1, maxTokens: 40 } });
    const [trajectory] = await runConversations([{ id: 'a', seed: 1, objective }], {
      attacker,
      target: new ScriptedChatModel('target', () => 'ok'),
      judge: new KeywordJudge(),
      maxTurns: 2,
      targetSampling: { temperature: 1, topP: 1, maxTokens: 8 },
    });
    expect(trajectory.stopReason).toBe('max-turns');
    expect(trajectory.turns.map((t) => t.attackerMessage)).toEqual(['Thinking 1: my plan\nAttack question 1: my question', 'Thinking 2: my plan\nAttack question 2: my question']);
    // One call per turn: the thought marker begins the reply, the question marker follows its first line.
    expect(attackerModel.calls.map((c) => [c.prefill, c.afterFirstLine])).toEqual([
      ['Thinking 1:', 'Attack question 1:'],
      ['Thinking 2:', 'Attack question 2:'],
    ]);
  });
});
