/**
 * Timed slices of `mtsa run` on a cached default arena, for profiling (node --cpu-prof) and for
 * before/after comparisons by CPU time, which a shared machine disturbs less than wall time.
 *   node dist/bench/slices.js stage1 <cacheDir> <outDir>      Stage-1 SFT; saves R0 to outDir/R0
 *   node dist/bench/slices.js cell <cacheDir> <outDir>        one evaluation cell R0×T0, in this thread
 *   node dist/bench/slices.js cell-reuse <cacheDir> <outDir>  that cell without, with, without and with
 *                                                             prefix reuse: the best of each and whether the trajectories agree
 *   node dist/bench/slices.js eval <cacheDir> <outDir> <workers>  a 2×2 evaluation (R0,R0 × T0,T0)
 *   node dist/bench/slices.js red-team <cacheDir> <outDir>    iteration 1's red-team resampling (R0 vs T0) on
 *                                                             iteration 1's online dialogues (sampled once, kept in outDir)
 * Prints one JSON line: wall and CPU seconds (process.cpuUsage, all threads) of the slice.
 */
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { buildArena } from '../src/arena/build.js';
import { loadEmbedder, loadGuard, loadHelpfulness, loadPolicy, oracleLabel } from '../src/arena/agents.js';
import { arenaSuite } from '../src/arena/suite.js';
import { objectiveRef, runConversations } from '../src/attacks/run-conversation.js';
import { hashString } from '../src/core/rng.js';
import type { Trajectory } from '../src/core/trajectory.js';
import { RunConfigSchema } from '../src/config/run-config.js';
import { ThinkBeforeAttackSchema } from '../src/data/schemas.js';
import { kernels, kernelChoice, useKernels } from '../src/engine/kernels/index.js';
import { evaluate, runEvaluationJob } from '../src/eval/evaluate.js';
import { attackerAgent, iterationObjectives, stage1 } from '../src/mtsa/pipeline.js';
import { prepareReferences, redTeamCandidates, resampleRedTeam } from '../src/mtsa/resampling.js';
import { parallelEvaluation } from '../src/run/evaluation-runner.js';
import { MemoryStepStore } from '../src/storage/memory-step-store.js';

useKernels(kernelChoice(process.env.MTSA_KERNELS));
const [slice, cacheDir, outDir, workersArg] = process.argv.slice(2);
const config = RunConfigSchema.parse({});
const seed = config.seed;

async function main(): Promise<Record<string, unknown>> {
  const arena = buildArena(config.arena, { cacheDir });
  const r0 = join(outDir, 'R0');
  const options = {
    maxTurns: config.mtsa.maxTurns,
    repeats: config.evaluation.repeats,
    targetSampling: config.mtsa.sampling.target,
    capabilitySampling: { temperature: 0, topP: 1, maxTokens: config.mtsa.sampling.target.maxTokens },
    seed,
  };
  if (slice === 'stage1') {
    const attacker = loadPolicy(arena.checkpoints.attacker, 'attacker', seed);
    const models = {
      attacker,
      target: loadPolicy(arena.checkpoints.target, 'target', seed),
      judge: loadGuard(arena),
      helpfulness: loadHelpfulness(arena),
      embedder: loadEmbedder(arena),
      oracle: oracleLabel,
    };
    const data = {
      objectives: arena.world.harmful.filter((o) => o.split === 'train').map(objectiveRef),
      thinkBeforeAttack: arena.corpora.thinkBeforeAttack.map((r) => ThinkBeforeAttackSchema.parse(r)),
    };
    return timed(async () => {
      await stage1(models, data, { config: config.mtsa, seed, store: new MemoryStepStore() });
      await attacker.save(r0, { role: 'attacker', iteration: 0 });
    });
  }
  if (!existsSync(r0)) throw new Error(`${r0} missing: run the stage1 slice first`);
  const suite = arenaSuite(arena.world, seed);
  const redTeams = [0, 1].map((i) => attackerAgent(loadPolicy(r0, `R${i}`, seed), config.mtsa, `R${i}`));
  const targets = [0, 1].map((i) => loadPolicy(arena.checkpoints.target, `T${i}`, seed));
  const judge = loadGuard(arena);
  if (slice === 'cell-reuse') {
    const cell = async (reuse: boolean) => {
      const models = {
        redTeams: [attackerAgent(loadPolicy(r0, 'R0', seed, 64, reuse ? undefined : 0), config.mtsa, 'R0')],
        targets: [loadPolicy(arena.checkpoints.target, 'T0', seed, 64, reuse ? undefined : 0)],
        judge,
      };
      const started = performance.now();
      const out = (await runEvaluationJob({ kind: 'attack', redTeam: 0, target: 0 }, models, suite, options)) as { trajectories: { turns: unknown[] }[] };
      return { seconds: (performance.now() - started) / 1000, json: JSON.stringify(out.trajectories), turns: out.trajectories.reduce((n, t) => n + t.turns.length, 0) };
    };
    // Alternating, best of two each: the machine's other work slows whichever runs then.
    const runs = [await cell(false), await cell(true), await cell(false), await cell(true)];
    const best = (reuse: boolean) => Math.min(...runs.filter((_, i) => i % 2 === (reuse ? 1 : 0)).map((r) => r.seconds));
    return {
      slice,
      kernels: kernels().name,
      no_reuse_s: runs.filter((_, i) => i % 2 === 0).map((r) => Number(r.seconds.toFixed(2))),
      reuse_s: runs.filter((_, i) => i % 2 === 1).map((r) => Number(r.seconds.toFixed(2))),
      speedup: Number((best(false) / best(true)).toFixed(3)),
      turns: runs[0].turns,
      identical_trajectories: runs[0].json === runs[1].json,
      repeatable: runs[0].json === runs[2].json && runs[1].json === runs[3].json,
    };
  }
  if (slice === 'red-team') {
    const attacker = loadPolicy(r0, 'R0', seed);
    const models = {
      attacker: attackerAgent(attacker, config.mtsa, 'red-team-R0'),
      target: targets[0],
      judge,
      helpfulness: loadHelpfulness(arena),
      embedder: loadEmbedder(arena),
      oracle: oracleLabel,
    };
    const onlineFile = join(outDir, 'online-1.json');
    if (!existsSync(onlineFile)) {
      const objectives = iterationObjectives(arena.world.harmful.filter((o) => o.split === 'train').map(objectiveRef), config.mtsa.goalsPerIteration, 1, seed);
      const starts = objectives.map((objective, i) => ({ id: `iteration-1/online/${i}`, seed: hashString(`iteration-1/online/${i}`, seed), objective }));
      const online = await runConversations(starts, { ...models, maxTurns: config.mtsa.maxTurns, targetSampling: config.mtsa.sampling.target });
      writeFileSync(onlineFile, JSON.stringify(online));
    }
    const live = (JSON.parse(readFileSync(onlineFile, 'utf8')) as Trajectory[]).filter((x) => x.stopReason === 'max-turns');
    // The diversity references: any fixed texts do for timing and byte comparisons.
    const references = await prepareReferences(
      live.map((t) => t.turns[0].attackerMessage),
      models.embedder,
      config.mtsa.redTeam.diversityReferences,
      seed,
    );
    const redSeed = hashString('iteration-1/red', seed);
    return timed(async () => {
      const result = await resampleRedTeam(redTeamCandidates(live, config.mtsa.redTeam, redSeed), models, references, config.mtsa, 1, redSeed);
      const json = JSON.stringify(result);
      return { groups: result.groupsTried, pairs: result.pairs.length, turns: result.rollouts.reduce((n, t) => n + t.turns.length, 0), sha256: createHash('sha256').update(json).digest('hex') };
    });
  }
  if (slice === 'cell')
    return timed(async () => ({
      dialogues: ((await runEvaluationJob({ kind: 'attack', redTeam: 0, target: 0 }, { redTeams, targets, judge }, suite, options)) as { trajectories: unknown[] }).trajectories.length,
    }));
  if (slice === 'eval') {
    const workers = Number(workersArg ?? 0);
    const runner =
      workers > 0
        ? parallelEvaluation(workers, {
            kernels: kernels().name,
            seed,
            world: { seed: config.arena.seed, testFraction: config.arena.testFraction },
            mtsa: config.mtsa,
            checkpoints: { redTeams: [r0, r0], targets: [arena.checkpoints.target, arena.checkpoints.target], guard: arena.checkpoints.guard },
            options,
          })
        : undefined;
    return timed(async () => {
      const result = await evaluate({ redTeams, targets, judge, embedder: loadEmbedder(arena) }, suite, {
        ...options,
        matrix: 'full',
        store: new MemoryStepStore(),
        ...(runner ? { runner } : {}),
      }).finally(() => runner?.close());
      return { workers, cells: result.cells.map((c) => c.oracleAsr?.rate), ood: result.ood.map((o) => o.oracleAsr?.rate), capability: result.capability.map((c) => c.helpfulness.rate) };
    });
  }
  throw new Error(`unknown slice ${slice}`);
}

async function timed(run: () => Promise<unknown>): Promise<Record<string, unknown>> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const detail = await run();
  const used = process.cpuUsage(cpu);
  return {
    slice,
    kernels: kernels().name,
    wall_s: Number(((performance.now() - started) / 1000).toFixed(2)),
    cpu_s: Number(((used.user + used.system) / 1e6).toFixed(2)),
    ...(detail && typeof detail === 'object' ? detail : {}),
  };
}

main().then(
  (line) => console.log(JSON.stringify(line)),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
