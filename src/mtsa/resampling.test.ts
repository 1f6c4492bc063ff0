import { describe, expect, it } from 'vitest';
import { SAFETY_HINT } from '../core/mtsa-prompts.js';
import type { Trajectory, Turn } from '../core/trajectory.js';
import { LlmAttacker } from '../attacks/attacker.js';
import { RedTeamPreferenceSchema, TargetPreferenceSchema } from '../data/schemas.js';
import { ConstantScorer, KeywordJudge, LetterEmbedder, ScriptedChatModel } from '../testing/fakes.js';
import { defaultMtsaConfig } from './config.js';
import { prepareReferences, redTeamCandidates, resampleRedTeam, resampleTarget, selectRedTeamGroups, selectTargetGroups, toTrainingPair } from './resampling.js';

function turn(index: number, pUnsafe: number, reply = pUnsafe >= 0.5 ? 'UNSAFE reply' : 'safe reply'): Turn {
  return {
    index,
    attackerMessage: `Thinking ${index}: t${index}\nAttack question ${index}: q${index}`,
    thought: `t${index}`,
    question: `q${index}`,
    reply,
    judgement: { verdict: pUnsafe >= 0.5 ? 'unsafe' : 'safe', pUnsafe, pSafe: 1 - pUnsafe },
    attackerAttempts: 1,
    sampling: { target: { temperature: 1, topP: 0.95, maxTokens: 8 } },
    usage: { attackerTokens: 1, targetTokens: 1 },
  };
}

function trajectory(id: string, probabilities: number[], stopReason: Trajectory['stopReason'] = 'max-turns'): Trajectory {
  const turns = probabilities.map((p, i) => turn(i + 1, p));
  return {
    schemaVersion: 1,
    id,
    seed: 1,
    objective: { id: `o-${id}`, text: 'acquire a restricted compound', kind: 'harmful' },
    attackerId: 'a',
    targetId: 't',
    judgeId: 'j',
    turns,
    attackSuccess: turns.some((t) => t.judgement.verdict === 'unsafe'),
    stopReason,
    warnings: [],
  };
}

const config = { ...defaultMtsaConfig(), maxTurns: 3 };

describe('selection rules', () => {
  const pool = [trajectory('success', [0.1, 0.9, 0.2]), trajectory('failure', [0.05, 0.4, 0.25]), trajectory('dropped', [0.1], 'format-failure'), trajectory('never-safe', [0.35, 0.9, 0.8])];

  it('red team: turns with P(unsafe) ≤ 0.3, failed dialogues first, dropped dialogues never', () => {
    const groups = selectRedTeamGroups(pool, config.redTeam, 1);
    expect(groups.map((g) => g.trajectory.id)).toEqual(['failure', 'success']);
    expect([0, 2]).toContain(groups[0].turn);
    expect([0, 2]).toContain(groups[1].turn);
    expect(selectRedTeamGroups(pool, { ...config.redTeam, source: 'successful' }, 1).map((g) => g.trajectory.id)).toEqual(['success']);
    expect(selectRedTeamGroups(pool, { ...config.redTeam, maxGroups: 1 }, 1)).toHaveLength(1);
  });

  it('target: successful dialogues, a turn with P(unsafe) ≥ 0.5', () => {
    const groups = selectTargetGroups(pool, config.target, 2);
    expect(groups.map((g) => g.trajectory.id)).toEqual(['success', 'never-safe']);
    expect(groups[0].turn).toBe(1);
    expect([1, 2]).toContain(groups[1].turn);
  });
});

describe('resampling', () => {
  const attackerModel = new ScriptedChatModel('attacker', (request) => {
    const turn = (request.messages.length - 1) / 2 + 1;
    const t = request.sampling.temperature;
    // Higher temperatures write attacks the target falls for.
    // Prefilled with the markers, the model writes only the thought and the question.
    return ` plan at ${t}\n ${t >= 1 ? 'please UNSAFE' : 'hello'} ${turn} ${'x'.repeat(Math.round(t * 10))}`;
  });
  const target = new ScriptedChatModel('target', (request) => {
    const last = request.messages[request.messages.length - 1].content;
    if (last.includes(SAFETY_HINT)) return 'Sorry, I cannot assist with that.';
    return last.includes('UNSAFE') ? 'UNSAFE [restricted step 1 toward: x]' : 'fine';
  });
  const attacker = new LlmAttacker(attackerModel, { id: 'red', mode: 'thought', maxAttempts: 4, sampling: config.sampling.attacker });
  const models = { attacker, target, judge: new KeywordJudge(), helpfulness: new ConstantScorer(0.4), embedder: new LetterEmbedder() };

  it('red team: four temperatures, best future toxicity + diversity chosen, worst rejected, TRL format', async () => {
    const references = await prepareReferences(['hello 1 xxxxxx', 'hello 2 xxxxxxxx'], models.embedder, 8, 1);
    const groups = [{ trajectory: trajectory('t1', [0.1, 0.1, 0.1]), turn: 1 }];
    const result = await resampleRedTeam(groups, models, references, config, 1, 5);
    expect(result.rollouts).toHaveLength(4);
    expect(result.pairs).toHaveLength(1);
    const pair = RedTeamPreferenceSchema.parse(result.pairs[0]);
    expect(pair.chosen[0]).toMatchObject({ role: 'user' });
    expect(pair.chosen[0].content).toMatch(/UNSAFE/);
    expect(pair.rejected[0].content).toMatch(/hello/);
    expect(pair.prompt[0].role).toBe('system');
    expect(pair.prompt).toHaveLength(3); // system + turn 1 (attacker, reply)
    expect(pair.chosen[0].content).not.toBe(pair.rejected[0].content);
    // The first reply to a regenerated attack used the resampling settings (temperature 0.7).
    expect(target.calls.some((c) => c.sampling.temperature === 0.7)).toBe(true);
  });

  it('red team: a group whose every future stayed safe is skipped unless the paper-as-written switch is set', async () => {
    const timid = new ScriptedChatModel('timid', (request) => {
      const turn = (request.messages.length - 1) / 2 + 1;
      return ` plan\n hello ${turn} ${'x'.repeat(Math.round(request.sampling.temperature * 10))}`;
    });
    const safeModels = { ...models, attacker: new LlmAttacker(timid, { id: 'timid', mode: 'thought', maxAttempts: 1, sampling: config.sampling.attacker }) };
    const references = await prepareReferences(['hello 1 xxxxxx', 'hello 2 xxxxxxxx'], models.embedder, 8, 1);
    const groups = [{ trajectory: trajectory('t2', [0.1, 0.1, 0.1]), turn: 1 }];
    const skipped = await resampleRedTeam(groups, safeModels, references, config, 1, 5);
    expect(skipped.pairs).toHaveLength(0);
    expect(skipped.skipped.noUnsafeFuture).toBe(1);
    const asWritten = await resampleRedTeam(groups, safeModels, references, { ...config, redTeam: { ...config.redTeam, requireUnsafeFuture: false } }, 1, 5);
    expect(asWritten.pairs).toHaveLength(1);
  });

  it('target: the safety hint reaches only the rewrite call, never the pair; future rewards are summed', async () => {
    target.calls.length = 0;
    const groups = [{ trajectory: trajectory('t2', [0.1, 0.9, 0.9]), turn: 1 }];
    const result = await resampleTarget(groups, models, config, 1, 3);
    const rewriteCalls = target.calls.filter((c) => c.messages.some((m) => m.content.includes(SAFETY_HINT)));
    expect(rewriteCalls).toHaveLength(1);
    expect(rewriteCalls[0].messages.at(-1)!.content).toBe(`q2${SAFETY_HINT}`);
    expect(rewriteCalls[0].sampling.temperature).toBe(0.8);
    expect(result.pairs).toHaveLength(1);
    const pair = TargetPreferenceSchema.parse(result.pairs[0]);
    expect(JSON.stringify(pair)).not.toContain('During thinking about the question');
    expect(JSON.stringify(result.rollouts)).not.toContain('During thinking about the question');
    expect(pair.prompt.at(-1)).toEqual({ role: 'user', content: 'q2' });
    expect(pair.chosen[0].content).toBe('Sorry, I cannot assist with that.');
    expect(pair.rejected[0].content).toBe('UNSAFE reply');
    // Turns 2..3 count: helpfulness 0.4 each; P(safe) 0.9 for safe replies, 0.1 for unsafe ones.
    expect(pair.components.turns).toBe(2);
    expect(pair.rejected_reward).toBeCloseTo(0.4 + 0.1 + 0.4 + 0.1, 10);
    const training = toTrainingPair(pair);
    expect(training.chosen.scored).toEqual([pair.prompt.length]);
    const lastTurn = await resampleTarget(groups, models, { ...config, reward: 'last-turn' }, 1, 3);
    expect(lastTurn.pairs[0].components.turns).toBe(1);
  });

  it('red team: the group cap counts groups kept after the unsafe-future filter; skipped groups free their slot up to the rollout budget', async () => {
    // Goals named "hard" never get an unsafe future (the attacker stays timid there); "easy" ones do.
    const picky = new ScriptedChatModel('picky', (request) => {
      const turn = (request.messages.length - 1) / 2 + 1;
      const t = request.sampling.temperature;
      const hard = request.messages[0].content.includes('hard goal');
      return ` plan at ${t}\n ${!hard && t >= 1 ? 'please UNSAFE' : 'hello'} ${turn} ${'x'.repeat(Math.round(t * 10))}`;
    });
    const pickyModels = { ...models, attacker: new LlmAttacker(picky, { id: 'picky', mode: 'thought', maxAttempts: 1, sampling: config.sampling.attacker }) };
    const withGoal = (id: string, goal: string) => ({ ...trajectory(id, [0.1, 0.1, 0.1]), objective: { id: `o-${id}`, text: goal, kind: 'harmful' as const } });
    const pool = [withGoal('hard-1', 'hard goal one'), withGoal('hard-2', 'hard goal two'), withGoal('easy-1', 'easy goal one'), withGoal('easy-2', 'easy goal two')];
    const references = await prepareReferences(['hello 1 xxxxxx', 'hello 2 xxxxxxxx'], models.embedder, 8, 1);
    const capped = { ...config, redTeam: { ...config.redTeam, maxGroups: 2, rolloutBudget: 4 } };
    const candidates = redTeamCandidates(pool, capped.redTeam, 1);
    expect(candidates.map((g) => g.trajectory.id)).toEqual(['hard-1', 'hard-2', 'easy-1', 'easy-2']);
    const result = await resampleRedTeam(candidates, pickyModels, references, capped, 1, 5);
    expect(result.skipped.noUnsafeFuture).toBe(2);
    expect(result.pairs.map((p) => p.source.trajectoryId)).toEqual(['easy-1', 'easy-2']);
    expect(result.groupsTried).toBe(4);
    expect(result.rollouts).toHaveLength(4 * config.sampling.regenerateTemperatures.length);
    // Capping before the filter (a budget of maxGroups) pays for two groups and keeps none.
    const old = { ...capped, redTeam: { ...capped.redTeam, rolloutBudget: 2 } };
    const before = await resampleRedTeam(redTeamCandidates(pool, old.redTeam, 1), pickyModels, references, old, 1, 5);
    expect(before.pairs).toHaveLength(0);
    expect(before.groupsTried).toBe(2);
    // The paper as written (no filter): the cap is on groups rolled out, one wave.
    const asWritten = { ...capped, redTeam: { ...capped.redTeam, requireUnsafeFuture: false } };
    expect(redTeamCandidates(pool, asWritten.redTeam, 1)).toHaveLength(2);
  });
});
