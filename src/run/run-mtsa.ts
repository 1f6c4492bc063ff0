/**
 * `mtsa run`: builds or reuses the arena, runs Stage 1 and the Stage 2 iterations, evaluates every
 * red team against every target, and writes the run directory (config, JSONL records,
 * checkpoints, summary.json, report.html). Every step is resumable (storage/run-store.ts).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic-write.js';
import { ConfigError } from '../core/errors.js';
import type { TrainablePolicy } from '../core/models.js';
import type { Rate } from '../core/stats.js';
import { TrajectorySchema } from '../core/trajectory.js';
import { buildArena, buildArenaInWorkers, type BuildEvent } from '../arena/build.js';
import { loadEmbedder, loadGuard, loadHelpfulness, loadPolicy, oracleLabel } from '../arena/agents.js';
import { arenaSuite } from '../arena/suite.js';
import { objectiveRef } from '../attacks/run-conversation.js';
import { parseRunConfig, RunConfigSchema, type RunConfig } from '../config/run-config.js';
import { ThinkBeforeAttackSchema } from '../data/schemas.js';
import { kernels } from '../engine/kernels/index.js';
import { evaluate, type EvaluationJobOptions, type EvaluationResult } from '../eval/evaluate.js';
import { attackerAgent, runMtsa, type IterationSummary, type MtsaEvent } from '../mtsa/pipeline.js';
import { buildReport } from '../report/build-report.js';
import { parallelEvaluation } from './evaluation-runner.js';
import { readRecords } from '../storage/jsonl.js';
import { FileStepStore, RUN_FILES } from '../storage/run-store.js';
import type { Summary } from '../data/summary.js';

export type RunEvent = ({ source: 'arena' } & BuildEvent) | ({ source: 'mtsa' } & MtsaEvent) | { source: 'eval'; type: 'phase-progress'; phase: string; done: number; total: number };

export interface RunJobOptions {
  config: RunConfig;
  outDir: string;
  cacheDir: string;
  /** continue the run in outDir (its config.resolved.json is authoritative) */
  resume: boolean;
  onEvent?: (event: RunEvent) => void;
  log?: (line: string) => void;
}

/** Creates a fresh run directory, or reopens one to resume. */
export function prepareRunDirectory(options: Pick<RunJobOptions, 'config' | 'outDir' | 'resume'>): RunConfig {
  const configPath = join(options.outDir, RUN_FILES.config);
  if (options.resume) {
    if (!existsSync(configPath)) throw new ConfigError(`${options.outDir}: not a run directory (no ${RUN_FILES.config}); start a run with --out instead of --resume`);
    return parseRunConfig(JSON.parse(readFileSync(configPath, 'utf8')), configPath);
  }
  if (existsSync(options.outDir) && readdirSync(options.outDir).length > 0) {
    throw new ConfigError(`${options.outDir} already exists and is not empty; continue it with --resume ${options.outDir}, or choose another --out`);
  }
  mkdirSync(options.outDir, { recursive: true });
  writeFileAtomic(configPath, `${JSON.stringify(RunConfigSchema.parse(options.config), null, 2)}\n`);
  return options.config;
}

export async function runMtsaJob(options: RunJobOptions): Promise<Summary> {
  const started = performance.now();
  const config = prepareRunDirectory(options);
  const log = options.log ?? (() => {});
  const { outDir } = options;
  const checkpoint = (name: string) => join(outDir, RUN_FILES.checkpoints, name);

  const arenaOptions = { cacheDir: options.cacheDir, onEvent: (e: BuildEvent) => options.onEvent?.({ source: 'arena', ...e }) };
  const arena = config.workers > 0 ? await buildArenaInWorkers(config.arena, { ...arenaOptions, workers: config.workers }) : buildArena(config.arena, arenaOptions);
  const seed = config.seed;
  const attacker = loadPolicy(arena.checkpoints.attacker, 'attacker', seed);
  const target = loadPolicy(arena.checkpoints.target, 'target', seed);
  const models = { attacker, target, judge: loadGuard(arena), helpfulness: loadHelpfulness(arena), embedder: loadEmbedder(arena), oracle: oracleLabel };
  const saveOnce = async (name: string, policy: TrainablePolicy, metadata: Record<string, unknown>) => {
    if (!existsSync(join(checkpoint(name), 'model.safetensors'))) await policy.save(checkpoint(name), metadata);
  };
  await saveOnce('target-T0', target, { role: 'target', iteration: 0, note: 'the base arena target' });

  const phaseSeconds: Record<string, number> = arena.buildSeconds > 1 ? { arena: round(arena.buildSeconds) } : {};
  const store = new FileStepStore(outDir);
  if (options.resume) log(`resuming: ${store.completedSteps()} completed steps reused`);
  const data = {
    objectives: arena.world.harmful.filter((o) => o.split === 'train').map(objectiveRef),
    thinkBeforeAttack: arena.corpora.thinkBeforeAttack.map((r) => ThinkBeforeAttackSchema.parse(r)),
  };
  const iterations: IterationSummary[] = await runMtsa(models, data, {
    config: config.mtsa,
    seed,
    store,
    onEvent: (e) => {
      if (e.type === 'phase-end' && !e.cached && e.seconds > 0) phaseSeconds[e.phase] = round(e.seconds);
      options.onEvent?.({ source: 'mtsa', ...e });
    },
    onModel: (role, iteration, policy) => saveOnce(role === 'attacker' ? `attacker-R${iteration}` : `target-T${iteration}`, policy, { role, iteration, variant: variantOf(config) }),
  });

  // Evaluation loads every saved model: R0..Rn and T0..Tn.
  const n = config.mtsa.iterations;
  const redTeams = Array.from({ length: n + 1 }, (_, i) => attackerAgent(loadPolicy(checkpoint(`attacker-R${i}`), `R${i}`, seed), config.mtsa, `R${i}`));
  const targets = Array.from({ length: n + 1 }, (_, i) => loadPolicy(checkpoint(`target-T${i}`), `T${i}`, seed));
  const suite = arenaSuite(arena.world, seed);
  const evaluationStarted = performance.now();
  const runner =
    config.workers > 0
      ? parallelEvaluation(config.workers, {
          kernels: kernels().name,
          seed,
          world: { seed: config.arena.seed, testFraction: config.arena.testFraction },
          mtsa: config.mtsa,
          checkpoints: { redTeams: redTeams.map((_, i) => checkpoint(`attacker-R${i}`)), targets: targets.map((_, i) => checkpoint(`target-T${i}`)), guard: arena.checkpoints.guard },
          options: evaluationJobOptions(config, seed),
        })
      : undefined;
  const evaluation = await evaluate(
    { redTeams, targets, judge: models.judge, embedder: models.embedder },
    suite,
    {
      ...evaluationJobOptions(config, seed),
      matrix: config.evaluation.matrix,
      store,
      onCell: (phase, done, total) => options.onEvent?.({ source: 'eval', type: 'phase-progress', phase, done, total }),
      ...(runner ? { runner } : {}),
    },
  ).finally(() => runner?.close());
  log(`✓ evaluation: ${evaluation.cells.length} attack cells, ${evaluation.ood.length} out-of-domain, ${evaluation.capability.length} capability in ${((performance.now() - evaluationStarted) / 1000).toFixed(0)} s`);
  phaseSeconds.evaluation = round((performance.now() - evaluationStarted) / 1000);
  const summary = { ...summarize(config, evaluation, iterations, suite.oodName, arena.buildSeconds, (performance.now() - started) / 1000), phaseSeconds };
  writeFileAtomic(join(outDir, RUN_FILES.summary), `${JSON.stringify(summary, null, 2)}\n`);
  const trajectories = readRecords(join(outDir, RUN_FILES.trajectories), TrajectorySchema);
  writeFileSync(join(outDir, RUN_FILES.report), buildReport({ summary, trajectories, configText: JSON.stringify(config, null, 2) }));
  return summary;
}

function round(seconds: number): number {
  return Math.round(seconds * 10) / 10;
}

function evaluationJobOptions(config: RunConfig, seed: number): EvaluationJobOptions {
  return {
    maxTurns: config.mtsa.maxTurns,
    repeats: config.evaluation.repeats,
    targetSampling: config.mtsa.sampling.target,
    capabilitySampling: { temperature: config.evaluation.capabilityTemperature, topP: 1, maxTokens: config.mtsa.sampling.target.maxTokens },
    seed,
  };
}

function variantOf(config: RunConfig): Summary['variant'] {
  return { reward: config.mtsa.reward, attacker: config.mtsa.attacker, selection: config.mtsa.selection };
}

export function summarize(config: RunConfig, evaluation: EvaluationResult, iterations: readonly IterationSummary[], oodAttacker: string, arenaBuildSeconds: number, wallSeconds: number): Summary {
  const n = config.mtsa.iterations;
  const intervals: Summary['intervals'] = {};
  const record = (key: string, rate: Rate | null): number | null => {
    if (!rate) return null;
    intervals[key] = rate;
    return rate.rate;
  };
  const cell = (r: number, t: number) => evaluation.cells.find((c) => c.redTeam === r && c.target === t);
  const byTarget = (pick: (t: number) => Rate | null, key: string) => Object.fromEntries(Array.from({ length: n + 1 }, (_, t) => [`T${t}`, record(`${key}.T${t}`, pick(t))]));
  const byRed = (pick: (r: number) => Rate | null, key: string) => Object.fromEntries(Array.from({ length: n + 1 }, (_, r) => [`R${r}`, record(`${key}.R${r}`, pick(r))]));
  const agreement = evaluation.judgeOracleAgreement;
  return {
    schemaVersion: 1,
    seed: config.seed,
    variant: variantOf(config),
    asr: {
      target: byTarget((t) => cell(n, t)?.oracleAsr ?? null, 'asr.target'),
      redteam: byRed((r) => cell(r, 0)?.oracleAsr ?? null, 'asr.redteam'),
    },
    overRefusal: byTarget((t) => evaluation.capability[t]?.overRefusal ?? null, 'overRefusal'),
    helpfulness: byTarget((t) => evaluation.capability[t]?.helpfulness ?? null, 'helpfulness'),
    oodAsr: byTarget((t) => evaluation.ood[t]?.oracleAsr ?? null, 'oodAsr'),
    judgeOracleAgreement: record('judgeOracleAgreement', agreement),
    guard: {
      asr: {
        target: byTarget((t) => cell(n, t)?.guardAsr ?? null, 'guard.asr.target'),
        redteam: byRed((r) => cell(r, 0)?.guardAsr ?? null, 'guard.asr.redteam'),
      },
      oodAsr: byTarget((t) => evaluation.ood[t]?.guardAsr ?? null, 'guard.oodAsr'),
    },
    intervals,
    matrix: evaluation.cells.map((c) => ({ redTeam: c.redTeam, target: c.target, oracle: c.oracleAsr, guard: c.guardAsr, dropped: c.dropped })),
    diversity: evaluation.diversity.map((d) => ({ redTeam: d.redTeam, selfBleu: Number.isFinite(d.selfBleu) ? d.selfBleu : null, embeddingSimilarity: Number.isFinite(d.embeddingSimilarity) ? d.embeddingSimilarity : null, n: d.n })),
    categories: evaluation.categories,
    iterations: iterations.map((i) => ({ ...i })),
    oodAttacker,
    kernels: kernels().name,
    arenaBuildSeconds,
    wallSeconds,
  };
}

