/**
 * `mtsa run`: builds or reuses the arena, runs Stage 1 and the Stage 2 iterations, evaluates every
 * red team against every target, and writes the run directory (config, JSONL records,
 * checkpoints, summary.json, report.html). Every step is resumable (storage/run-store.ts).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../core/atomic-write.js';
import { acquireLock, removeStaleTemporaries, type DirectoryLock } from '../core/dir-lock.js';
import { ConfigError } from '../core/errors.js';
import type { TrainablePolicy } from '../core/models.js';
import type { Rate } from '../core/stats.js';
import { TrajectorySchema } from '../core/trajectory.js';
import { buildArena, fromCache, startArenaInWorkers, type BuildEvent } from '../arena/build.js';
import type { ArenaModelRole } from '../arena/config.js';
import { loadHelpfulness, loadPolicy, oracleLabel } from '../arena/agents.js';
import type { ModelRole } from '../config/model-spec.js';
import { buildModel, need } from './build-models.js';
import { openRunPolicy, type RunPolicy } from './policies.js';
import { parallelEvaluation } from './evaluation-runner.js';
import { arenaSuite } from '../arena/suite.js';
import { objectiveRef } from '../attacks/run-conversation.js';
import { loadStage1Dialogues } from '../data/loaders/dialogues.js';
import { loadObjectives } from '../data/loaders/objectives.js';
import { fileSuite, loadFileSuiteSources } from '../eval/file-suite.js';
import { checkRunLimits, describeWork, estimateWork } from '../config/limits.js';
import { parseRunConfig, RunConfigSchema, type RunConfig } from '../config/run-config.js';
import { ThinkBeforeAttackSchema } from '../data/schemas.js';
import { kernels, kernelThreads, setKernelThreads } from '../engine/kernels/index.js';
import { type CellFigures, evaluate, evaluationJobs, scriptedPanel, type EvaluationJobOptions, type EvaluationResult } from '../eval/evaluate.js';
import { attackerAgent, runMtsa, type IterationSummary, type MtsaEvent } from '../mtsa/pipeline.js';
import { buildReport } from '../report/build-report.js';
import { readRecords } from '../storage/jsonl.js';
import { FileStepStore, RUN_FILES } from '../storage/run-store.js';
import type { Summary } from '../data/summary.js';
import { runWarnings } from './health.js';

export type RunEvent = ({ source: 'arena' } & BuildEvent) | ({ source: 'mtsa' } & MtsaEvent) | { source: 'eval'; type: 'phase-progress'; phase: string; done: number; total: number };

export interface RunJobOptions {
  config: RunConfig;
  outDir: string;
  cacheDir: string;
  /** continue the run in outDir (its config.resolved.json is authoritative) */
  resume: boolean;
  /** where the config came from, for error messages (a file path, "--tiny", "defaults") */
  configSource?: string;
  onEvent?: (event: RunEvent) => void;
  log?: (line: string) => void;
  /** the environment, for API keys named by model specs (apiKeyEnv) */
  env?: Readonly<Record<string, string | undefined>>;
}

/** The lock file of a run directory (one process per run). */
export const RUN_LOCK = '.lock';
/** Wall time and process of every attempt at the run (the first run and each --resume). */
export const ATTEMPTS_FILE = 'attempts.json';

const AttemptsSchema = z.object({ attempts: z.array(z.object({ pid: z.number().int(), host: z.string(), startedAt: z.string(), seconds: z.number().nonnegative() })) });
type Attempts = z.infer<typeof AttemptsSchema>;

function readJsonFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`${path}: cannot read ${what} (${(error as Error).message})`, { cause: error });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${path}: ${what} is not valid JSON (${(error as Error).message}); the run directory is damaged: restore the file, or start a new run with --out`, { cause: error });
  }
}

/**
 * Creates a fresh run directory, or reopens one to resume, and takes its lock (held until
 * `lock.release()`): a second process on the same directory is refused with the holder named.
 */
export function prepareRunDirectory(options: Pick<RunJobOptions, 'config' | 'outDir' | 'resume'>): { config: RunConfig; lock: DirectoryLock; removed: string[] } {
  const configPath = join(options.outDir, RUN_FILES.config);
  const what = `run directory ${options.outDir}`;
  if (options.resume) {
    if (!existsSync(configPath)) throw new ConfigError(`${options.outDir}: not a run directory (no ${RUN_FILES.config}); start a run with --out instead of --resume`);
    const lock = acquireLock(join(options.outDir, RUN_LOCK), 'mtsa run --resume', what);
    try {
      const config = parseRunConfig(readJsonFile(configPath, 'the run configuration'), configPath);
      const removed = [options.outDir, join(options.outDir, RUN_FILES.steps), join(options.outDir, RUN_FILES.checkpoints)].flatMap((d) => removeStaleTemporaries(d));
      return { config, lock, removed };
    } catch (error) {
      lock.release();
      throw error;
    }
  }
  mkdirSync(options.outDir, { recursive: true });
  const lock = acquireLock(join(options.outDir, RUN_LOCK), 'mtsa run', what);
  try {
    if (readdirSync(options.outDir).some((name) => name !== RUN_LOCK)) {
      throw new ConfigError(`${options.outDir} already exists and is not empty; continue it with --resume ${options.outDir}, or choose another --out`);
    }
    writeFileAtomic(configPath, `${JSON.stringify(RunConfigSchema.parse(options.config), null, 2)}\n`);
    return { config: options.config, lock, removed: [] };
  } catch (error) {
    lock.release();
    throw error;
  }
}

/** Records this attempt's wall time beside the earlier attempts' (a killed attempt counts up to its last record). */
class AttemptClock {
  private readonly previous: Attempts['attempts'];
  private readonly started = performance.now();
  private readonly startedAt = new Date().toISOString();
  private lastWrite = 0;

  constructor(
    private readonly path: string,
    legacySummary?: string,
  ) {
    if (existsSync(path)) {
      const parsed = AttemptsSchema.safeParse(readJsonFile(path, 'the attempts record'));
      if (!parsed.success) throw new ConfigError(`${path}: not an attempts record (${parsed.error.issues[0].message}); delete it (only the wall time of earlier attempts is lost), then --resume`);
      this.previous = parsed.data.attempts;
    } else {
      // A run directory from before attempts were recorded: its finished summary knows the wall time.
      const seconds = legacySummary && existsSync(legacySummary) ? (JSON.parse(readFileSync(legacySummary, 'utf8')) as { wallSeconds?: unknown }).wallSeconds : undefined;
      this.previous = typeof seconds === 'number' && Number.isFinite(seconds) ? [{ pid: 0, host: 'unknown', startedAt: 'unknown', seconds }] : [];
    }
    this.record();
  }

  get seconds(): number {
    return (performance.now() - this.started) / 1000;
  }

  /** total wall seconds of every attempt, this one included */
  get total(): number {
    return this.previous.reduce((s, a) => s + a.seconds, 0) + this.seconds;
  }

  get count(): number {
    return this.previous.length + 1;
  }

  record(): void {
    this.lastWrite = performance.now();
    const attempts: Attempts = { attempts: [...this.previous, { pid: process.pid, host: hostname(), startedAt: this.startedAt, seconds: Math.round(this.seconds * 10) / 10 }] };
    writeFileAtomic(this.path, `${JSON.stringify(attempts, null, 2)}\n`);
  }

  /** record() at most every few seconds (called on progress events) */
  tick(): void {
    if (performance.now() - this.lastWrite > 3000) this.record();
  }
}

export async function runMtsaJob(options: RunJobOptions): Promise<Summary> {
  // Checked before the directory is created; a resumed run's own config is checked once read.
  if (!options.resume) checkRunLimits(options.config, options.configSource);
  const { config, lock, removed } = prepareRunDirectory(options);
  try {
    return await runLocked(options, config, removed, lock);
  } finally {
    lock.release();
  }
}

async function runLocked(options: RunJobOptions, config: RunConfig, removed: string[], lock: DirectoryLock): Promise<Summary> {
  const clock = new AttemptClock(join(options.outDir, ATTEMPTS_FILE), join(options.outDir, RUN_FILES.summary));
  // Without worker threads the main thread's kernels may use every core; with them, the workers
  // take the other cores. Results are the same bytes either way (native/pool.h).
  const previousThreads = kernelThreads();
  setKernelThreads(config.workers === 0 ? availableParallelism() : 1);
  try {
    return await runAttempt(options, config, removed, lock, clock);
  } catch (error) {
    // A failed attempt's wall time still counts: record it (best effort: the disk may be full).
    try {
      clock.record();
    } catch {
      // the attempts record keeps its last periodic value
    }
    throw error;
  } finally {
    setKernelThreads(previousThreads);
  }
}

async function runAttempt(options: RunJobOptions, config: RunConfig, removed: string[], lock: DirectoryLock, clock: AttemptClock): Promise<Summary> {
  const log = options.log ?? (() => {});
  if (lock.tookOver) log(`took over the lock of process ${lock.tookOver.pid} on ${lock.tookOver.host} (${lock.tookOver.purpose}), which is no longer running`);
  const { outDir } = options;
  if (options.resume) checkRunLimits(config, join(outDir, RUN_FILES.config));
  if (removed.length) log(`removed ${removed.length} temporary file(s) a killed attempt left: ${removed.join(', ')}`);
  // summary.json is written last: while it is absent the run is unfinished (also after a kill now).
  rmSync(join(outDir, RUN_FILES.summary), { force: true });
  log(describeWork(estimateWork(config)));
  const onEvent = (event: RunEvent) => {
    clock.tick();
    options.onEvent?.(event);
  };
  const checkpoint = (name: string) => join(outDir, RUN_FILES.checkpoints, name);

  const arenaOptions = { cacheDir: options.cacheDir, onEvent: (e: BuildEvent) => onEvent({ source: 'arena', ...e }) };
  // With workers, each arena model is handed out as soon as it is saved: Stage 1 needs only the
  // attacker and the embedder, so it runs while the target (the longest job) and the guard train.
  const building = config.workers > 0 ? startArenaInWorkers(config.arena, { ...arenaOptions, workers: config.workers }) : null;
  const arena = building ? building.arena : buildArena(config.arena, arenaOptions);
  const seed = config.seed;
  // Each role from its model spec (config.models); the arena's models by default. The trained
  // policies (attacker, target) use the trainer the config names: the engine or the PyTorch worker.
  const role = (name: ModelRole) => ({ role: name, arena: () => arena, arenaConfig: config.arena, seed, env: options.env ?? {}, source: `config: models.${name}` });
  const trained = async (name: 'attacker' | 'target'): Promise<RunPolicy> => {
    const spec = config.models[name];
    const trainer = config.trainer[name];
    if (spec.kind === 'arena') {
      const dir = arena.checkpoints[name];
      return trainer.kind === 'engine' ? fromCache(arena, name, () => loadPolicy(dir, name, seed)) : openRunPolicy(dir, name, seed, trainer, log);
    }
    if (spec.kind === 'checkpoint' && trainer.kind !== 'engine') return openRunPolicy(spec.path, name, seed, trainer, log);
    return need(
      buildModel(spec, role(name)),
      'policy',
      role(name),
      `the ${name} is trained by mtsa run, so it must run in-process (kind arena or checkpoint); a server can be attacked with mtsa attack`,
    );
  };
  // A role whose model is the arena's waits for that checkpoint; any other is built at once (so a bad spec fails before Stage 1).
  const ready = (arenaRole: ArenaModelRole) => building?.ready(arenaRole) ?? Promise.resolve();
  const builtJudge = () => need(buildModel(config.models.judge, role('judge')), 'judge', role('judge'), 'not a judge');
  const judgeNow = config.models.judge.kind === 'arena' ? null : builtJudge();
  if (config.models.attacker.kind === 'arena') await ready('attacker');
  const attacker = await trained('attacker');
  if (config.models.embedder.kind === 'arena') await ready('embedder');
  const embedder = need(buildModel(config.models.embedder, role('embedder')), 'embedder', role('embedder'), 'not an embedder');
  // The arena's oracle reads the arena's placeholders: with objectives from a file there is no ground truth.
  const oracle = config.data.trainObjectives ? undefined : oracleLabel;
  const saveOnce = async (name: string, policy: TrainablePolicy, metadata: Record<string, unknown>) => {
    if (!existsSync(join(checkpoint(name), 'model.safetensors'))) await policy.save(checkpoint(name), metadata);
  };

  const phaseSeconds: Record<string, number> = {};
  const store = new FileStepStore(outDir);
  if (options.resume) log(`resuming: ${store.completedSteps()} completed steps reused (attempt ${clock.count})`);
  const data = {
    objectives: config.data.trainObjectives ? loadObjectives(config.data.trainObjectives).map(objectiveRef) : arena.world.harmful.filter((o) => o.split === 'train').map(objectiveRef),
    thinkBeforeAttack: config.data.stage1Dialogues
      ? loadStage1Dialogues(config.data.stage1Dialogues, config.mtsa.attacker === 'no-thought' ? 'no-thought' : 'thought')
      : arena.corpora.thinkBeforeAttack.map((r) => ThinkBeforeAttackSchema.parse(r)),
  };
  // Evaluation jobs in worker threads load the saved checkpoints and the arena guard; a judge from
  // another model spec stays in this thread. With two workers or more, each job starts as soon as
  // the checkpoints it reads are saved, on the core the single-threaded iterations leave idle.
  const n = config.mtsa.iterations;
  const files = config.evaluation.files;
  const panel = files ? [] : scriptedPanel(arenaSuite(arena.world, seed));
  const runner =
    config.workers > 0 && config.models.judge.kind === 'arena' && !files
      ? parallelEvaluation(config.workers, {
          kernels: kernels().name,
          seed,
          world: { seed: config.arena.seed, testFraction: config.arena.testFraction },
          mtsa: config.mtsa,
          checkpoints: {
            redTeams: Array.from({ length: n + 1 }, (_, i) => checkpoint(`attacker-R${i}`)),
            targets: Array.from({ length: n + 1 }, (_, i) => checkpoint(`target-T${i}`)),
            guard: arena.checkpoints.guard,
          },
          options: evaluationJobOptions(config, seed),
        })
      : undefined;
  const saved = { attacker: -1, target: -1 };
  const prestart = () => {
    if (!runner || config.workers < 2) return;
    for (const { key, job } of evaluationJobs(n, panel, config.evaluation.matrix))
      if (!store.has(key) && job.target <= saved.target && (job.kind !== 'attack' || job.redTeam <= saved.attacker)) runner.prestart(job);
  };
  // The models Stage 1 does not use, awaited after it: the arena may still be training them.
  let target = config.models.target.kind === 'arena' ? undefined : await trained('target');
  const later = (async () => {
    if (!target) {
      await ready('target');
      target = await trained('target');
    }
    if (!judgeNow) await ready('guard');
    const judge = judgeNow ?? builtJudge();
    await ready('helpfulness');
    const helpfulness = fromCache(arena, 'helpfulness', () => loadHelpfulness(arena));
    await building?.finished;
    await saveOnce('target-T0', target, { role: 'target', iteration: 0, note: 'the base arena target' });
    saved.target = 0;
    prestart();
    return { target, judge, helpfulness, oracle };
  })();
  later.catch(() => {}); // awaited by runMtsa after Stage 1 (and below, before anything closes)
  let iterations: IterationSummary[];
  try {
    iterations = await runMtsa({ attacker, embedder, later }, data, {
      config: config.mtsa,
      seed,
      store,
      onEvent: (e) => {
        if (e.type === 'phase-end' && !e.cached && e.seconds > 0) phaseSeconds[e.phase] = round(e.seconds);
        onEvent({ source: 'mtsa', ...e });
      },
      onModel: async (role, iteration, policy) => {
        await saveOnce(role === 'attacker' ? `attacker-R${iteration}` : `target-T${iteration}`, policy, { role, iteration, variant: variantOf(config) });
        saved[role] = iteration;
        prestart();
      },
    });
  } catch (error) {
    await runner?.close();
    throw error;
  } finally {
    // Trainer workers end here; evaluation samples the saved checkpoints with the engine.
    await later.catch(() => {});
    await Promise.all([attacker.close?.(), target?.close?.()]);
  }
  const { helpfulness, judge } = await later;
  const suite = files ? fileSuite(loadFileSuiteSources(files), { helpfulnessScorer: helpfulness, helpfulThreshold: files.helpfulThreshold }) : arenaSuite(arena.world, seed);

  const evaluationStarted = performance.now();
  let evaluation: EvaluationResult;
  try {
    // Evaluation loads every saved model: R0..Rn and T0..Tn (each load checks that the weights are finite).
    const redTeams = Array.from({ length: n + 1 }, (_, i) => attackerAgent(loadPolicy(checkpoint(`attacker-R${i}`), `R${i}`, seed), config.mtsa, `R${i}`));
    const targets = Array.from({ length: n + 1 }, (_, i) => loadPolicy(checkpoint(`target-T${i}`), `T${i}`, seed));
    evaluation = await evaluate({ redTeams, targets, judge, embedder }, suite, {
      ...evaluationJobOptions(config, seed),
      matrix: config.evaluation.matrix,
      store,
      onCell: (phase, done, total) => onEvent({ source: 'eval', type: 'phase-progress', phase, done, total }),
      ...(runner ? { runner } : {}),
    });
  } finally {
    await runner?.close();
  }
  log(
    `✓ evaluation: ${evaluation.cells.length} attack cells, ${evaluation.ood.length} out-of-domain, ${evaluation.capability.length} capability in ${((performance.now() - evaluationStarted) / 1000).toFixed(0)} s${runner?.counts().early ? ` after the iterations (${runner.counts().early} of ${runner.counts().total} jobs ran during them)` : ''}`,
  );
  phaseSeconds.evaluation = round((performance.now() - evaluationStarted) / 1000);
  const trajectories = readRecords(join(outDir, RUN_FILES.trajectories), TrajectorySchema);
  const warnings = runWarnings(iterations, trajectories);
  for (const warning of warnings) log(`⚠ WARNING: ${warning}`);
  clock.record();
  const summary: Summary = {
    ...summarize(config, evaluation, iterations, suite.oodName, arena.buildSeconds, clock.total),
    attempts: clock.count,
    warnings,
    phaseSeconds: arena.buildSeconds > 1 ? { arena: round(arena.buildSeconds), ...phaseSeconds } : phaseSeconds,
  };
  // Every output is written atomically; summary.json last, so its presence means the run finished.
  writeFileAtomic(join(outDir, RUN_FILES.report), buildReport({ summary, trajectories, configText: JSON.stringify(config, null, 2) }));
  writeFileAtomic(join(outDir, RUN_FILES.summary), `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}

/** One attack cell's figures as summary.json records them (the R×T matrix and the scripted panel alike). */
function cellRecord(c: CellFigures) {
  return { oracle: c.oracleAsr, guard: c.guardAsr, dropped: c.dropped, oracleCompleted: c.oracleAsrCompleted, guardCompleted: c.guardAsrCompleted, dialogues: c.dialogues, completed: c.completed };
}

function round(seconds: number): number {
  return Math.round(seconds * 10) / 10;
}

function evaluationJobOptions(config: RunConfig, seed: number): EvaluationJobOptions {
  return {
    maxTurns: config.evaluation.maxTurns ?? config.mtsa.maxTurns,
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
  // The headline rates are the oracle's where there is one, else the judge's (and summary.groundTruth says which).
  const truth = (c: { oracleAsr: Rate | null; guardAsr: Rate } | undefined): Rate | null => (c ? (evaluation.groundTruth === 'oracle' ? c.oracleAsr : c.guardAsr) : null);
  for (let t = 0; t <= n; t++) {
    const c = cell(n, t);
    if (c?.oracleAsrCompleted) intervals[`asr.targetCompleted.T${t}`] = c.oracleAsrCompleted;
  }
  for (const c of evaluation.scripted) if (c.oracleAsr) intervals[`scripted.${c.attacker}.T${c.target}`] = c.oracleAsr;
  return {
    schemaVersion: 1,
    seed: config.seed,
    variant: variantOf(config),
    groundTruth: evaluation.groundTruth,
    asr: {
      target: byTarget((t) => truth(cell(n, t)), 'asr.target'),
      redteam: byRed((r) => truth(cell(r, 0)), 'asr.redteam'),
    },
    overRefusal: byTarget((t) => evaluation.capability[t]?.overRefusal ?? null, 'overRefusal'),
    helpfulness: byTarget((t) => evaluation.capability[t]?.helpfulness ?? null, 'helpfulness'),
    oodAsr: byTarget((t) => truth(evaluation.ood[t]), 'oodAsr'),
    judgeOracleAgreement: record('judgeOracleAgreement', agreement),
    guard: {
      asr: {
        target: byTarget((t) => cell(n, t)?.guardAsr ?? null, 'guard.asr.target'),
        redteam: byRed((r) => cell(r, 0)?.guardAsr ?? null, 'guard.asr.redteam'),
      },
      oodAsr: byTarget((t) => evaluation.ood[t]?.guardAsr ?? null, 'guard.oodAsr'),
    },
    intervals,
    matrix: evaluation.cells.map((c) => ({ redTeam: c.redTeam, target: c.target, ...cellRecord(c) })),
    scripted: evaluation.scripted.map((c) => ({ attacker: c.attacker, domain: c.domain, target: c.target, ...cellRecord(c) })),
    diversity: evaluation.diversity.map((d) => ({
      redTeam: d.redTeam,
      selfBleu: Number.isFinite(d.selfBleu) ? d.selfBleu : null,
      embeddingSimilarity: Number.isFinite(d.embeddingSimilarity) ? d.embeddingSimilarity : null,
      n: d.n,
    })),
    categories: evaluation.categories,
    iterations: iterations.map((i) => ({ ...i })),
    oodAttacker,
    kernels: kernels().name,
    arenaBuildSeconds,
    wallSeconds,
  };
}
