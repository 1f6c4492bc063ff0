import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { loadEmbedder, loadGuard, loadPolicy } from '../arena/agents.js';
import { buildArena } from '../arena/build.js';
import { arenaSuite } from '../arena/suite.js';
import { tinyRunConfig } from '../config/run-config.js';
import { kernels } from '../engine/kernels/index.js';
import { evaluate, evaluationJobs, scriptedPanel, type EvaluationJob, type EvaluationRunner } from '../eval/evaluate.js';
import { attackerAgent } from '../mtsa/pipeline.js';
import { MemoryStepStore } from '../storage/memory-step-store.js';
import { parallelEvaluation } from './evaluation-runner.js';

describe('evaluation in worker threads', () => {
  const config = tinyRunConfig(4);
  const seed = 4;
  const arena = buildArena(config.arena, { cacheDir: inject('arenaCache') });
  const suite = arenaSuite(arena.world, seed);
  const models = () => ({
    redTeams: [0, 1].map((i) => attackerAgent(loadPolicy(arena.checkpoints.attacker, `R${i}`, seed), config.mtsa, `R${i}`)),
    targets: [0, 1].map((i) => loadPolicy(arena.checkpoints.target, `T${i}`, seed)),
    judge: loadGuard(arena),
    embedder: loadEmbedder(arena),
  });
  const jobOptions = { maxTurns: 2, repeats: 1, targetSampling: config.mtsa.sampling.target, capabilitySampling: { temperature: 0, topP: 1, maxTokens: 24 }, seed };
  const init = {
    kernels: kernels().name,
    seed,
    world: { seed: config.arena.seed, testFraction: config.arena.testFraction },
    mtsa: config.mtsa,
    checkpoints: { redTeams: [arena.checkpoints.attacker, arena.checkpoints.attacker], targets: [arena.checkpoints.target, arena.checkpoints.target], guard: arena.checkpoints.guard },
    options: jobOptions,
  };

  it('stores the same results, in the same order, as evaluating in this thread; stored steps are not recomputed', async () => {
    const here = new MemoryStepStore();
    const expected = await evaluate(models(), suite, { ...jobOptions, matrix: 'diagonal-and-edges', store: here });

    const pool = parallelEvaluation(2, init);
    const ran: EvaluationJob[] = [];
    const counting: EvaluationRunner = {
      run: (job) => {
        ran.push(job);
        return pool.run(job);
      },
    };
    const there = new MemoryStepStore();
    // a resumed evaluation: the first cell is already stored and must not run again
    await there.step('eval/attack/R0-T0', async () => here.results.get('eval/attack/R0-T0')!);
    const got = await evaluate(models(), suite, { ...jobOptions, matrix: 'diagonal-and-edges', store: there, runner: counting }).finally(() => pool.close());

    expect(got).toEqual(expected);
    expect(there.log).toEqual(here.log);
    // same bytes, not just equal rates (the kernels' rounding never depends on threads)
    expect(JSON.stringify([...there.results.values()])).toBe(JSON.stringify([...here.results.values()]));
    expect(ran).toEqual([
      { kind: 'attack', redTeam: 1, target: 0 },
      { kind: 'attack', redTeam: 1, target: 1 },
      ...[0, 1].flatMap((t): EvaluationJob[] => [...scriptedPanel(suite).map((a): EvaluationJob => ({ kind: 'scripted', attacker: a.name, target: t })), { kind: 'capability', target: t }]),
    ]);
  }, 240_000);

  it('prestarted jobs run before later checkpoints exist, once each, and store the same bytes', async () => {
    const here = new MemoryStepStore();
    const expected = await evaluate(models(), suite, { ...jobOptions, matrix: 'full', store: here });
    // R1 and T1 are saved only after the R0/T0 jobs started, as in mtsa run.
    const dir = mkdtempSync(join(tmpdir(), 'mtsa-prestart-'));
    const later = { redTeams: [arena.checkpoints.attacker, join(dir, 'R1')], targets: [arena.checkpoints.target, join(dir, 'T1')], guard: arena.checkpoints.guard };
    const pool = parallelEvaluation(2, { ...init, checkpoints: later });
    try {
      const plan = evaluationJobs(1, scriptedPanel(suite), 'full');
      const early = plan.filter(({ job }) => job.target === 0 && (job.kind !== 'attack' || job.redTeam === 0));
      for (const { job } of early) pool.prestart(job);
      expect(pool.counts()).toEqual({ early: early.length, total: early.length });
      // the first worker runs them in turn; one that loaded every model at its first job would fail here: R1 and T1 do not exist yet
      await pool.run(early.at(-1)!.job);
      cpSync(arena.checkpoints.attacker, join(dir, 'R1'), { recursive: true });
      cpSync(arena.checkpoints.target, join(dir, 'T1'), { recursive: true });
      const there = new MemoryStepStore();
      const got = await evaluate(models(), suite, { ...jobOptions, matrix: 'full', store: there, runner: pool });
      expect(got).toEqual(expected);
      expect(there.log).toEqual(here.log);
      expect(plan.map((x) => x.key)).toEqual([...here.results.keys()]);
      expect(JSON.stringify([...there.results.values()])).toBe(JSON.stringify([...here.results.values()]));
      // every job ran once: the prestarted ones were not run again when evaluate() asked for them
      expect(pool.counts().total).toBe(plan.length);
      expect(pool.counts().early).toBe(early.length);
    } finally {
      await pool.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);

  it("a job's failure in a worker reaches the step that needs it", async () => {
    const pool = parallelEvaluation(1, { ...init, checkpoints: { ...init.checkpoints, targets: ['/nonexistent/T0', '/nonexistent/T1'] } });
    await expect(evaluate(models(), suite, { ...jobOptions, matrix: 'diagonal-and-edges', store: new MemoryStepStore(), runner: pool }).finally(() => pool.close())).rejects.toThrow(/nonexistent/);
  }, 60_000);
});
