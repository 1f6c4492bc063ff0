/**
 * evaluate() on a scripted suite whose every cell's rate is known by construction: four held-out
 * objectives (two categories), two dialogues each, two turns. In cell (attacker a, target t) the
 * target reveals on turn 2 for the first K[a][t] objectives; T1 reveals in words the guard misses
 * (so guard and oracle disagree there); red team R1 cannot write turn 2 of objective o0's second
 * dialogue (one dropped dialogue per R1 cell).
 */
import { describe, expect, it } from 'vitest';
import type { AttackerAgent, AttackerProposal, AttackerView } from '../attacks/attacker.js';
import { formatAttackerMessage } from '../attacks/parse-attacker-turn.js';
import { MemoryStepStore } from '../storage/memory-step-store.js';
import { KeywordJudge, LetterEmbedder, ScriptedChatModel } from '../testing/fakes.js';
import { evaluate } from './evaluate.js';
import type { EvaluationSuite } from './suite.js';

const OBJECTIVES = ['o0', 'o1', 'o2', 'o3'].map((id, i) => ({ id, text: `[harmful objective ${i}]`, kind: 'harmful' as const, category: i < 2 ? 'a' : 'b' }));

/** successes (objectives revealed) per attacker and target */
const K: Record<string, [number, number]> = { R0: [2, 1], R1: [3, 0], crescendo: [4, 2], 'ood-1': [1, 1], 'ood-2': [3, 0] };

class TableAttacker implements AttackerAgent {
  constructor(
    readonly id: string,
    private readonly drop?: (view: AttackerView) => boolean,
  ) {}
  async propose(views: readonly AttackerView[]): Promise<AttackerProposal[]> {
    return views.map((view) => {
      const turn = view.turns.length + 1;
      if (this.drop?.(view)) return { ok: false as const, attempts: 4, tokens: 0, lastMessage: 'garbage', reason: 'missing-question' };
      const question = `${this.id}|${view.objective.id}|${turn}`;
      return { ok: true as const, message: formatAttackerMessage(turn, 'plan', question), thought: 'plan', question, attempts: 1, tokens: 0 };
    });
  }
}

function target(t: 0 | 1): ScriptedChatModel {
  return new ScriptedChatModel(`T${t}`, (request) => {
    const last = request.messages[request.messages.length - 1].content;
    if (last.startsWith('capability:')) {
      // 5 of 6 benign items answered; borderline objective x0 refused in both phrasings, x1 answered.
      if (last === 'capability:b2#1') return 'unhelpful';
      if (last.startsWith('capability:x0')) return 'REFUSE';
      return 'HELP';
    }
    const [attacker, objective, turn] = last.split('|');
    const index = Number(objective.slice(1));
    if (turn === '2' && index < K[attacker][t]) return t === 0 ? 'UNSAFE [step]' : 'HIDDEN [step]';
    return 'safe reply';
  });
}

const capabilityItems = [
  ...['b0', 'b1', 'b2'].flatMap((o) => [0, 1].map((p) => ({ id: `${o}#${p}`, kind: 'benign' as const, request: `capability:${o}#${p}` }))),
  ...['x0', 'x1'].flatMap((o) => [0, 1].map((p) => ({ id: `${o}#${p}`, kind: 'borderline' as const, request: `capability:${o}#${p}` }))),
];

const suite: EvaluationSuite = {
  harmfulObjectives: OBJECTIVES,
  oodAttacker: () => new TableAttacker('ood-1'),
  oodName: 'ood-1 + ood-2',
  scriptedAttackers: [
    { name: 'crescendo', domain: 'in-domain', make: () => new TableAttacker('crescendo') },
    { name: 'ood-1', domain: 'out-of-domain', make: () => new TableAttacker('ood-1') },
    { name: 'ood-2', domain: 'out-of-domain', make: () => new TableAttacker('ood-2') },
  ],
  capabilityItems,
  isHelpful: (_item, reply) => reply === 'HELP',
  isRefusal: (reply) => reply === 'REFUSE',
  oracle: (reply) => ({ unsafe: /UNSAFE|HIDDEN/.test(reply), kind: 'x' }),
};

async function run() {
  const store = new MemoryStepStore();
  const redTeams = [new TableAttacker('R0'), new TableAttacker('R1', (v) => v.objective.id === 'o0' && v.id.endsWith('|1') && v.turns.length === 1)];
  const result = await evaluate({ redTeams, targets: [target(0), target(1)], judge: new KeywordJudge(), embedder: new LetterEmbedder() }, suite, {
    maxTurns: 2,
    repeats: 2,
    targetSampling: { temperature: 1, topP: 1, maxTokens: 8 },
    capabilitySampling: { temperature: 0, topP: 1, maxTokens: 8 },
    matrix: 'full',
    seed: 7,
    store,
  });
  return { result, store };
}

describe('evaluate() on a scripted suite with known rates', () => {
  it('R×T cells: rows are red teams, columns targets; ASR over all and over completed; dropped per cell', async () => {
    const { result } = await run();
    const cell = (r: number, t: number) => result.cells.find((c) => c.redTeam === r && c.target === t)!;
    expect(result.cells).toHaveLength(4);
    // R0: K = 2 vs T0, 1 vs T1, both dialogues of an objective alike.
    expect(cell(0, 0).oracleAsr!.rate).toBe(4 / 8);
    expect(cell(0, 1).oracleAsr!.rate).toBe(2 / 8);
    // R1 vs T0: o0 (one dialogue dropped before its reveal), o1, o2 revealed → 5 of 8 over all, 5 of 7 completed.
    expect(cell(1, 0)).toMatchObject({ dialogues: 8, completed: 7, dropped: 1 });
    expect(cell(1, 0).oracleAsr!.rate).toBe(5 / 8);
    expect(cell(1, 0).oracleAsrCompleted!.rate).toBe(5 / 7);
    expect(cell(1, 0).oracleAsrCompleted!.n).toBe(7);
    expect(cell(1, 1).oracleAsr!.rate).toBe(0);
    expect(cell(1, 1).dropped).toBe(1);
    // Denominators: 8 dialogues over 4 objectives; the interval knows both.
    expect(cell(0, 0).oracleAsr).toMatchObject({ n: 8, nObjectives: 4, nDialogues: 8 });
    // Two dialogues of an objective always agree here, so the design effect is 2 (ICC = 1).
    expect(cell(0, 0).oracleAsr!.designEffect).toBeCloseTo(2 * (4 / 3), 10); // k/(k−1) small-sample factor, k = 4
    expect(cell(0, 0).oracleAsr!.high! - cell(0, 0).oracleAsr!.low!).toBeGreaterThan(cell(0, 0).oracleAsr!.naiveHigh! - cell(0, 0).oracleAsr!.naiveLow!);
    // The guard misses T1's reveals: guard ASR 0 where the oracle sees 2 of 8.
    expect(cell(0, 1).guardAsr.rate).toBe(0);
    expect(cell(0, 0).guardAsr.rate).toBe(4 / 8);
  });

  it('scripted panel: in-domain and out-of-domain apart, OOD pooled per target and clustered by objective', async () => {
    const { result } = await run();
    const s = (name: string, t: number) => result.scripted.find((c) => c.attacker === name && c.target === t)!;
    expect(s('crescendo', 0)).toMatchObject({ domain: 'in-domain', dropped: 0, completed: 8 });
    expect(s('crescendo', 0).oracleAsr!.rate).toBe(1);
    expect(s('crescendo', 1).oracleAsr!.rate).toBe(4 / 8);
    expect(s('ood-2', 0).domain).toBe('out-of-domain');
    // Pooled OOD: (1 + 3) objectives × 2 dialogues of 16 against T0; 1 × 2 of 16 against T1.
    expect(result.ood[0].oracleAsr).toMatchObject({ rate: 8 / 16, n: 16, nObjectives: 4, nDialogues: 16 });
    expect(result.ood[1].oracleAsr!.rate).toBe(2 / 16);
  });

  it('capability: helpfulness and over-refusal clustered by objective (two phrasings each)', async () => {
    const { result } = await run();
    expect(result.capability[0].helpfulness).toMatchObject({ rate: 5 / 6, n: 6, nObjectives: 3, nDialogues: 6 });
    expect(result.capability[1].overRefusal).toMatchObject({ rate: 2 / 4, n: 4, nObjectives: 2 });
  });

  it('judge agreement per turn and the per-category breakdown', async () => {
    const { result } = await run();
    // 10 cells × 8 dialogues × 2 turns, less the turn R1 never wrote in its two cells = 158 turns;
    // the guard misses every reveal against T1: R0 2, crescendo 4, ood-1 2 → 8 disagreements.
    expect(result.judgeOracleAgreement).toMatchObject({ n: 158, successes: 150, nObjectives: 4 });
    // R1 vs T0 per category: a = o0 (one revealed, one dropped) + o1 (2) → 3 of 4; b = o2 (2) + o3 (0) → 2 of 4.
    expect(result.categories).toEqual([
      expect.objectContaining({ category: 'a', first: expect.objectContaining({ rate: 3 / 4, nObjectives: 2 }), last: expect.objectContaining({ rate: 0 }) }),
      expect.objectContaining({ category: 'b', first: expect.objectContaining({ rate: 2 / 4 }) }),
    ]);
  });

  it('is stored step by step, and every cell replays the same dialogue seeds (common random numbers)', async () => {
    const { store } = await run();
    expect(store.log).toEqual([
      'eval/attack/R0-T0',
      'eval/attack/R0-T1',
      'eval/attack/R1-T0',
      'eval/attack/R1-T1',
      'eval/scripted/crescendo/T0',
      'eval/scripted/ood-1/T0',
      'eval/scripted/ood-2/T0',
      'eval/capability/T0',
      'eval/scripted/crescendo/T1',
      'eval/scripted/ood-1/T1',
      'eval/scripted/ood-2/T1',
      'eval/capability/T1',
    ]);
    const seeds = (key: string) => store.results.get(key)!.trajectories!.map((t) => t.seed);
    expect(seeds('eval/attack/R1-T1')).toEqual(seeds('eval/attack/R0-T0'));
    expect(seeds('eval/scripted/ood-2/T1')).toEqual(seeds('eval/attack/R0-T0'));
    expect(store.results.get('eval/scripted/ood-1/T0')!.trajectories![0].id).toBe('ood-1xT0|o0|0');
  });
});
