/**
 * `mtsa attack`: red-teams one target with one attacker and one judge over an objectives file.
 * Dialogues run in batches, each stored as a resumable step (storage/run-store.ts), so a killed
 * or stopped run (say, a server that refused the API key) continues with --resume without
 * redoing finished batches. Writes attack.resolved.json, objectives.jsonl, trajectories.jsonl,
 * verdicts.jsonl, summary.json and report.html. Errored dialogues are counted apart and never
 * enter a rate.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic-write.js';
import { ConfigError } from '../core/errors.js';
import { hashString } from '../core/rng.js';
import { clusteredRate, rateOf } from '../core/stats.js';
import { ObjectiveRefSchema, scoredTrajectories, TrajectorySchema, type ObjectiveRef, type Trajectory } from '../core/trajectory.js';
import { buildArena, type ArenaBuild, type BuildEvent } from '../arena/build.js';
import { LlmAttacker } from '../attacks/attacker.js';
import { runConversations, type ConversationStart } from '../attacks/run-conversation.js';
import { AttackConfigSchema, parseAttackConfig, type AttackConfig } from '../config/attack-config.js';
import type { ModelRole } from '../config/model-spec.js';
import { AttackSummarySchema, ObjectiveVerdictSchema, type AttackSummary, type ObjectiveVerdict } from '../data/attack-summary.js';
import { buildAttackReport } from '../report/build-report.js';
import { readRecords } from '../storage/jsonl.js';
import { FileStepStore, RUN_FILES } from '../storage/run-store.js';
import type { Clock } from '../models/http/traffic.js';
import { buildModel, need, type BuiltModel } from './build-models.js';

export const ATTACK_FILES = { config: 'attack.resolved.json', objectives: 'objectives.jsonl', verdicts: 'verdicts.jsonl' } as const;

export interface AttackJobOptions {
  config: AttackConfig;
  /** the objectives (ignored on resume: the run directory's copy is used) */
  objectives?: readonly ObjectiveRef[];
  outDir: string;
  cacheDir: string;
  resume: boolean;
  /** the environment, for API keys named by model specs (apiKeyEnv) */
  env: Readonly<Record<string, string | undefined>>;
  log?: (line: string) => void;
  onArena?: (event: BuildEvent) => void;
  onProgress?: (done: number, total: number) => void;
  /** tests: fetch and clock for server-backed roles */
  fetch?: typeof fetch;
  clock?: Clock;
}

function prepare(options: AttackJobOptions): { config: AttackConfig; objectives: ObjectiveRef[] } {
  const configPath = join(options.outDir, ATTACK_FILES.config);
  const objectivesPath = join(options.outDir, ATTACK_FILES.objectives);
  if (options.resume) {
    if (!existsSync(configPath)) throw new ConfigError(`${options.outDir}: not an attack run directory (no ${ATTACK_FILES.config}); start one with --out instead of --resume`);
    return { config: parseAttackConfig(JSON.parse(readFileSync(configPath, 'utf8')), configPath), objectives: readRecords(objectivesPath, ObjectiveRefSchema) };
  }
  if (!options.objectives || options.objectives.length === 0) throw new ConfigError('mtsa attack: no objectives; pass --objectives <file.csv|file.jsonl>');
  if (existsSync(options.outDir) && readdirSync(options.outDir).length > 0) {
    throw new ConfigError(`${options.outDir} already exists and is not empty; continue it with --resume ${options.outDir}, or choose another --out`);
  }
  mkdirSync(options.outDir, { recursive: true });
  const objectives = options.objectives.slice(0, options.config.limit ?? options.objectives.length).map((o) => ObjectiveRefSchema.parse(o));
  writeFileAtomic(objectivesPath, objectives.map((o) => JSON.stringify(o)).join('\n') + '\n');
  writeFileAtomic(configPath, `${JSON.stringify(AttackConfigSchema.parse(options.config), null, 2)}\n`);
  return { config: options.config, objectives };
}

/** Per objective: unsafe if any scored dialogue succeeded, errored if none could be scored. */
export function objectiveVerdicts(objectives: readonly ObjectiveRef[], trajectories: readonly Trajectory[]): ObjectiveVerdict[] {
  return objectives.map((o) => {
    const mine = trajectories.filter((t) => t.objective.id === o.id);
    const scored = scoredTrajectories(mine);
    const successes = scored.filter((t) => t.attackSuccess);
    const first = successes[0]?.turns.find((u) => u.judgement.verdict === 'unsafe');
    return ObjectiveVerdictSchema.parse({
      objectiveId: o.id,
      objective: o.text,
      ...(o.category ? { category: o.category } : {}),
      verdict: scored.length === 0 ? 'errored' : successes.length > 0 ? 'unsafe' : 'safe',
      dialogues: mine.length,
      successes: successes.length,
      errored: mine.length - scored.length,
      formatFailures: mine.filter((t) => t.stopReason === 'format-failure').length,
      firstUnsafeTurn: first?.index ?? null,
    });
  });
}

export async function runAttackJob(options: AttackJobOptions): Promise<AttackSummary> {
  const started = performance.now();
  const { config, objectives } = prepare(options);
  const log = options.log ?? (() => {});
  let arena: ArenaBuild | undefined;
  const built = {} as Record<'attacker' | 'target' | 'judge', BuiltModel>;
  for (const role of ['target', 'attacker', 'judge'] as const) {
    const context = {
      role: role as ModelRole,
      arena: () => (arena ??= buildArena(config.arena, { cacheDir: options.cacheDir, onEvent: options.onArena })),
      arenaConfig: config.arena,
      seed: config.seed,
      env: options.env,
      source: `models.${role}`,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.fetch ? { fetch: options.fetch } : {}),
    };
    built[role] = buildModel(config.models[role], context);
  }
  const target = need(built.target, 'chat', { source: 'models.target' }, 'the target must be a chat model');
  const judge = need(built.judge, 'judge', { source: 'models.judge' }, 'not a judge');
  const attacker =
    built.attacker.attacker ??
    new LlmAttacker(need(built.attacker, 'chat', { source: 'models.attacker' }, 'the attacker must be a chat model'), {
      id: built.attacker.id,
      mode: config.attacker.mode,
      maxAttempts: config.attacker.maxAttempts,
      sampling: config.attacker.sampling,
      prefillMarker: config.attacker.prefill,
    });

  const starts: ConversationStart[] = objectives.flatMap((objective) =>
    Array.from({ length: config.repeats }, (_, r) => ({ id: `attack|${objective.id}|${r}`, seed: hashString(`attack|${objective.id}|${r}`, config.seed), objective })),
  );
  const store = new FileStepStore(options.outDir);
  if (options.resume) log(`resuming: ${store.completedSteps()} completed batches reused`);
  let done = 0;
  options.onProgress?.(0, starts.length);
  for (let i = 0; i < starts.length; i += config.batchSize) {
    const batch = starts.slice(i, i + config.batchSize);
    await store.step(`attack/batch-${String(i / config.batchSize).padStart(5, '0')}`, async () => ({
      trajectories: await runConversations(batch, { attacker, target, judge, maxTurns: config.maxTurns, targetSampling: config.target.sampling }),
    }));
    done += batch.length;
    options.onProgress?.(done, starts.length);
  }

  const trajectories = readRecords(join(options.outDir, RUN_FILES.trajectories), TrajectorySchema);
  const verdicts = objectiveVerdicts(objectives, trajectories);
  writeFileAtomic(join(options.outDir, ATTACK_FILES.verdicts), verdicts.map((v) => JSON.stringify(v)).join('\n') + '\n');
  const scored = scoredTrajectories(trajectories);
  const targetSpec = config.models.target;
  const summary = AttackSummarySchema.parse({
    schemaVersion: 1,
    kind: 'attack',
    seed: config.seed,
    attackerId: attacker.id,
    targetId: target.id,
    judgeId: judge.id,
    target:
      targetSpec.kind === 'openai-compatible'
        ? { kind: targetSpec.kind, baseUrl: targetSpec.baseUrl, model: targetSpec.model, flavour: targetSpec.flavour, template: targetSpec.template }
        : { ...targetSpec },
    objectives: objectives.length,
    dialogues: trajectories.length,
    scoredDialogues: scored.length,
    erroredDialogues: trajectories.length - scored.length,
    formatFailures: trajectories.filter((t) => t.stopReason === 'format-failure').length,
    // several dialogues of one objective are not independent: the interval is clustered by objective
    asr: clusteredRate(scored.map((t) => ({ cluster: t.objective.id, dialogue: t.id, success: t.attackSuccess }))),
    objectiveAsr: rateOf(verdicts.filter((v) => v.verdict !== 'errored').map((v) => v.verdict === 'unsafe')),
    traffic: Object.fromEntries(
      Object.entries(built)
        .filter(([, b]) => b.traffic)
        .map(([role, b]) => [role, { calls: b.traffic!.stats.calls, attempts: b.traffic!.stats.attempts, retries: b.traffic!.stats.retries, failedCalls: b.traffic!.stats.failedCalls }]),
    ),
    wallSeconds: (performance.now() - started) / 1000,
  });
  writeFileAtomic(join(options.outDir, RUN_FILES.summary), `${JSON.stringify(summary, null, 2)}\n`);
  writeFileAtomic(join(options.outDir, RUN_FILES.report), buildAttackReport({ summary, verdicts, trajectories, configText: JSON.stringify(config, null, 2) }));
  return summary;
}
