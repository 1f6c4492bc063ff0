import { describe, expect, inject, it } from 'vitest';
import { loadEmbedder, loadGuard, loadHelpfulness, loadPolicy, oracleLabel } from '../arena/agents.js';
import { buildArena } from '../arena/build.js';
import { objectiveRef } from '../attacks/run-conversation.js';
import { tinyRunConfig } from '../config/run-config.js';
import { PairRecordSchema, ThinkBeforeAttackSchema } from '../data/schemas.js';
import { MemoryStepStore } from '../storage/memory-step-store.js';
import { runMtsa } from './pipeline.js';

describe('MTSA end to end on a tiny arena', () => {
  it('runs Stage 1 and one iteration: both policies change and the DPO margin grows', async () => {
    const config = tinyRunConfig(3);
    const arena = buildArena(config.arena, { cacheDir: inject('arenaCache') });
    const attacker = loadPolicy(arena.checkpoints.attacker, 'attacker', 3);
    const target = loadPolicy(arena.checkpoints.target, 'target', 3);
    const models = { attacker, target, judge: loadGuard(arena), helpfulness: loadHelpfulness(arena), embedder: loadEmbedder(arena), oracle: oracleLabel };
    const before = { attacker: await attacker.fingerprint(), target: await target.fingerprint() };
    const data = {
      objectives: arena.world.harmful.filter((o) => o.split === 'train').map(objectiveRef),
      thinkBeforeAttack: arena.corpora.thinkBeforeAttack.map((r) => ThinkBeforeAttackSchema.parse(r)),
    };
    const store = new MemoryStepStore();
    const afterStage1: number[] = [];
    const summaries = await runMtsa(models, data, {
      config: { ...config.mtsa, redTeam: { ...config.mtsa.redTeam, train: { epochs: 3, batchSize: 4, lr: 2e-3 } } },
      seed: 3,
      store,
      onModel: async (role, iteration, policy) => {
        if (role === 'attacker' && iteration === 0) afterStage1.push(await policy.fingerprint());
      },
    });
    expect(summaries).toHaveLength(1);
    const [s] = summaries;
    expect(afterStage1[0]).not.toBe(before.attacker);
    expect(await attacker.fingerprint()).not.toBe(afterStage1[0]);
    expect(await target.fingerprint()).not.toBe(before.target);
    expect(s.redTeamPairs).toBeGreaterThan(0);
    expect(s.targetPairs).toBeGreaterThan(0);
    expect(s.dpoMarginAfter).toBeGreaterThan(s.dpoMarginBefore);
    expect(s.targetMarginAfter).toBeGreaterThan(s.targetMarginBefore);
    expect(store.log).toEqual([
      'stage1/select',
      'stage1/attacker',
      'iteration-1/online',
      'iteration-1/red-team-resampling',
      'iteration-1/red-team-dpo',
      'iteration-1/target-resampling',
      'iteration-1/target-update',
    ]);
    // Exportable preference data validates against the schemas.
    for (const key of ['iteration-1/red-team-resampling', 'iteration-1/target-resampling']) {
      for (const record of store.results.get(key)!.pairs!) PairRecordSchema.parse(record);
    }
    // A time-out, not a timing assertion: alone on 2 cores this takes well under a minute (see the closing note).
  }, 300_000);
});
