/**
 * MTSA end to end (docs/method.md §1): Stage 1 — select Think-before-Attack dialogues and SFT the
 * attacker; Stage 2 — T iterations of online sampling, red-team resampling and DPO, then target
 * resampling with the updated attacker and the future-reward update. Each update's reference
 * policy is the model entering the iteration. Written against the seams only.
 */
import type { Embedder, HelpfulnessScorer, Judge, TrainablePolicy } from '../core/models.js';
import { Rng, hashString } from '../core/rng.js';
import { scoredTrajectories, type ObjectiveRef, type OracleLabel, type Trajectory } from '../core/trajectory.js';
import { questionMarker, thinkingMarker } from '../attacks/parse-attacker-turn.js';
import { LlmAttacker } from '../attacks/attacker.js';
import { runConversations } from '../attacks/run-conversation.js';
import type { ThinkBeforeAttackDialogue } from '../data/schemas.js';
import { dpoLoss } from '../training/losses/dpo-loss.js';
import { futureRewardLoss } from '../training/losses/future-reward-loss.js';
import { logRatioMargin, trainOnPairs, type TrainSchedule } from '../training/trainers.js';
import type { MtsaConfig } from './config.js';
import { prepareReferences, resampleRedTeam, resampleTarget, redTeamCandidates, selectTargetGroups, toTrainingPair, type DiversityReferences } from './resampling.js';
import { referenceText, runStage1, selectStage1Data } from './stage1.js';
import type { MetricRecord, StepOutput, StepStore } from '../core/steps.js';

export interface MtsaModels {
  /** the red team: the attacker base before Stage 1, then updated in place */
  attacker: TrainablePolicy;
  /** the target, updated in place */
  target: TrainablePolicy;
  judge: Judge;
  helpfulness: HelpfulnessScorer;
  embedder: Embedder;
  oracle?: (reply: string) => OracleLabel;
}

export interface MtsaData {
  /** harmful training objectives (never the evaluation ones) */
  objectives: readonly ObjectiveRef[];
  thinkBeforeAttack: readonly ThinkBeforeAttackDialogue[];
}

export type MtsaEvent =
  | { type: 'phase-start'; phase: string; total?: number }
  | { type: 'phase-progress'; phase: string; done: number; total: number }
  | { type: 'phase-end'; phase: string; detail: string; cached: boolean; seconds: number };

export interface PipelineOptions {
  config: MtsaConfig;
  seed: number;
  store: StepStore;
  onEvent?: (event: MtsaEvent) => void;
  /** called after each model is trained or restored (R0 after Stage 1, Rt and Tt per iteration) */
  onModel?: (role: 'attacker' | 'target', iteration: number, policy: TrainablePolicy) => Promise<void>;
}

function schedule(train: { epochs: number; batchSize: number; lr: number }, seed: number): TrainSchedule {
  return { ...train, warmupRatio: 0.1, maxGradNorm: 1, seed };
}

function metricRecord(step: string, values: Record<string, number>): MetricRecord {
  return { step, values };
}

export function attackerAgent(policy: TrainablePolicy, config: MtsaConfig, id: string): LlmAttacker {
  return new LlmAttacker(policy, { id, mode: config.attacker, maxAttempts: config.maxFormatAttempts, sampling: config.sampling.attacker, prefillMarker: config.attackerPrefill });
}

const phaseStarted = new Map<string, number>();

function tracked<T>(options: PipelineOptions, phase: string, run: () => Promise<T>): Promise<T> {
  phaseStarted.set(phase, performance.now());
  options.onEvent?.({ type: 'phase-start', phase });
  return run();
}

function secondsSince(phase: string): number {
  const t = phaseStarted.get(phase);
  phaseStarted.delete(phase);
  return t === undefined ? 0 : (performance.now() - t) / 1000;
}

/** Stage 1: selection and SFT; returns the texts of the diversity reference set 𝓡. */
export async function stage1(models: Stage1Models, data: MtsaData, options: PipelineOptions): Promise<string[]> {
  const { config, store } = options;
  let computed = false;
  const selection = await store.step('stage1/select', async () => {
    computed = true;
    const selected = await selectStage1Data(data.thinkBeforeAttack, models.embedder, { topK: config.stage1.topK, method: config.selection, seed: options.seed, mode: config.attacker });
    return { selected: selected.map((d) => data.thinkBeforeAttack.indexOf(d)), metrics: [metricRecord('stage1/select', { candidates: data.thinkBeforeAttack.length, selected: selected.length })] };
  });
  options.onEvent?.({
    type: 'phase-end',
    phase: 'stage1/select',
    detail: `${selection.selected.length} of ${data.thinkBeforeAttack.length} dialogues (${config.selection})`,
    cached: !computed,
    seconds: 0,
  });
  const selected = selection.selected.map((i) => data.thinkBeforeAttack[i]);
  computed = false;
  const sft = await store.weights('stage1/attacker', models.attacker, () =>
    tracked(options, 'stage1/sft', async () => {
      computed = true;
      const history = await runStage1(models.attacker, selected, {
        mode: config.attacker,
        maxTurns: config.maxTurns,
        schedule: schedule(config.stage1.train, hashString('stage1', options.seed)),
        onStep: (m, total) => options.onEvent?.({ type: 'phase-progress', phase: 'stage1/sft', done: m.step, total }),
      });
      return { metrics: history.map((m) => metricRecord('stage1/sft', m)) };
    }),
  );
  const losses = sft.metrics?.map((m) => m.values.loss) ?? [];
  options.onEvent?.({
    type: 'phase-end',
    phase: 'stage1/sft',
    detail: losses.length ? `loss ${losses[0].toFixed(3)} → ${losses[losses.length - 1].toFixed(3)}` : 'done',
    cached: !computed,
    seconds: secondsSince('stage1/sft'),
  });
  await options.onModel?.('attacker', 0, models.attacker);
  return selected.map((d) => referenceText(d, config.attacker));
}

/** The objectives of iteration t: a seeded sample of the training objectives. */
export function iterationObjectives(objectives: readonly ObjectiveRef[], count: number, iteration: number, seed: number): ObjectiveRef[] {
  const order = new Rng(seed).fork(`objectives-${iteration}`).shuffle([...objectives]);
  return Array.from({ length: count }, (_, i) => order[i % order.length]);
}

export interface IterationSummary {
  iteration: number;
  onlineAttackSuccess: number;
  redTeamPairs: number;
  targetPairs: number;
  dpoMarginBefore: number;
  dpoMarginAfter: number;
  targetMarginBefore: number;
  targetMarginAfter: number;
}

/**
 * One resumable step of the method: restored from the store when it is there, else computed with
 * start and end events and its time; `policy` makes it a training step whose weights are stored.
 */
async function methodStep<T extends StepOutput>(options: PipelineOptions, phase: string, compute: () => Promise<T>, describe: (output: T) => string, policy?: TrainablePolicy): Promise<T> {
  let computed = false;
  const run = () =>
    tracked(options, phase, () => {
      computed = true;
      return compute();
    });
  const output = policy ? await options.store.weights(phase, policy, run) : await options.store.step(phase, run);
  options.onEvent?.({ type: 'phase-end', phase, detail: describe(output), cached: !computed, seconds: secondsSince(phase) });
  return output;
}

/** One Stage 2 iteration (§4–§7). */
export async function iteration(t: number, models: MtsaModels, data: MtsaData, references: DiversityReferences, options: PipelineOptions): Promise<IterationSummary> {
  const { config, seed } = options;
  const prefix = `iteration-${t}`;
  const progress = (phase: string) => (done: number, total: number) => options.onEvent?.({ type: 'phase-progress', phase, done, total });

  // 1. Online sampling: π^adv_{t−1} against π^tgt_{t−1}, judged every turn.
  const online = await methodStep(
    options,
    `${prefix}/online`,
    async () => {
      const objectives = iterationObjectives(data.objectives, config.goalsPerIteration, t, seed);
      const starts = objectives.map((objective, i) => ({ id: `${prefix}/online/${i}`, seed: hashString(`${prefix}/online/${i}`, seed), objective }));
      const trajectories = await runConversations(starts, {
        attacker: attackerAgent(models.attacker, config, `red-team-R${t - 1}`),
        target: models.target,
        judge: models.judge,
        maxTurns: config.maxTurns,
        targetSampling: config.sampling.target,
        oracle: models.oracle,
        onTurn: (turn) => progress(`${prefix}/online`)(turn, config.maxTurns),
      });
      return { trajectories, metrics: [metricRecord(`${prefix}/online`, onlineMetrics(trajectories))] };
    },
    (out) => {
      const stats = onlineMetrics(out.trajectories!);
      return `${out.trajectories!.length} dialogues, attack success ${(100 * stats['attack/successRate']).toFixed(1)}%, dropped ${stats['attack/dropped']}`;
    },
  );
  const onlineStats = onlineMetrics(online.trajectories!);
  const live = online.trajectories!.filter((x) => x.stopReason === 'max-turns');

  // 2. Red-team resampling and DPO (the red team is updated first).
  const red = await methodStep(
    options,
    `${prefix}/red-team-resampling`,
    async () => {
      const candidates = redTeamCandidates(live, config.redTeam, hashString(`${prefix}/red`, seed));
      const result = await resampleRedTeam(candidates, resamplingModels(models, config, `red-team-R${t - 1}`), references, config, t, hashString(`${prefix}/red`, seed));
      return {
        trajectories: result.rollouts,
        pairs: result.pairs.map((pair) => ({ side: 'red-team' as const, pair })),
        metrics: [metricRecord(`${prefix}/red-team-resampling`, { groups: result.groupsTried, candidates: candidates.length, pairs: result.pairs.length, ...prefixKeys('skipped/', result.skipped) })],
      };
    },
    (out) => `${pairsOf(out, 'red-team', config).length} preference pairs`,
  );
  const redPairs = pairsOf(red, 'red-team', config);
  const dpo = await methodStep(
    options,
    `${prefix}/red-team-dpo`,
    async () => {
      await models.attacker.snapshotReference();
      const before = await logRatioMargin(models.attacker, redPairs);
      const history = await trainOnPairs(
        models.attacker,
        redPairs,
        (pairs) => dpoLoss(pairs, config.redTeam.beta, config.redTeam.rpoAlpha),
        schedule(config.redTeam.train, hashString(`${prefix}/dpo`, seed)),
        (m, total) => progress(`${prefix}/red-team-dpo`)(m.step, total),
      );
      const after = await logRatioMargin(models.attacker, redPairs);
      return {
        metrics: [
          ...history.map((m) => metricRecord(`${prefix}/red-team-dpo`, m)),
          metricRecord(`${prefix}/red-team-dpo/summary`, { marginBefore: before, marginAfter: after, pairs: redPairs.length }),
        ],
      };
    },
    (out) => marginDetail(summaryOf(out.metrics)),
    models.attacker,
  );
  const dpoSummary = summaryOf(dpo.metrics);
  await options.onModel?.('attacker', t, models.attacker);

  // 3. Target resampling with the updated attacker, then the future-reward update.
  const target = await methodStep(
    options,
    `${prefix}/target-resampling`,
    async () => {
      const groups = selectTargetGroups(live, config.target, hashString(`${prefix}/target`, seed));
      const result = await resampleTarget(groups, resamplingModels(models, config, `red-team-R${t}`), config, t, hashString(`${prefix}/target`, seed));
      return {
        trajectories: result.rollouts,
        pairs: result.pairs.map((pair) => ({ side: 'target' as const, pair })),
        metrics: [metricRecord(`${prefix}/target-resampling`, { groups: groups.length, pairs: result.pairs.length, ...prefixKeys('skipped/', result.skipped), ...rewardStats(result.pairs) })],
      };
    },
    (out) => `${pairsOf(out, 'target', config).length} pairs (${config.reward} reward)`,
  );
  const targetPairs = pairsOf(target, 'target', config);
  const update = await methodStep(
    options,
    `${prefix}/target-update`,
    async () => {
      await models.target.snapshotReference();
      const before = await logRatioMargin(models.target, targetPairs);
      const history = await trainOnPairs(
        models.target,
        targetPairs,
        (pairs) => futureRewardLoss(pairs, config.target.eta),
        schedule(config.target.train, hashString(`${prefix}/target-update`, seed)),
        (m, total) => progress(`${prefix}/target-update`)(m.step, total),
      );
      const after = await logRatioMargin(models.target, targetPairs);
      return {
        metrics: [
          ...history.map((m) => metricRecord(`${prefix}/target-update`, m)),
          metricRecord(`${prefix}/target-update/summary`, { marginBefore: before, marginAfter: after, pairs: targetPairs.length }),
        ],
      };
    },
    (out) => marginDetail(summaryOf(out.metrics)),
    models.target,
  );
  const targetSummary = summaryOf(update.metrics);
  await options.onModel?.('target', t, models.target);

  return {
    iteration: t,
    onlineAttackSuccess: onlineStats['attack/successRate'],
    redTeamPairs: redPairs.length,
    targetPairs: targetPairs.length,
    dpoMarginBefore: dpoSummary.marginBefore ?? 0,
    dpoMarginAfter: dpoSummary.marginAfter ?? 0,
    targetMarginBefore: targetSummary.marginBefore ?? 0,
    targetMarginAfter: targetSummary.marginAfter ?? 0,
  };
}

/** The training pairs of one side stored by a resampling step. */
/** How the red team samples turn `turn`: its token budget and the marker it is prefilled with. */
export function attackerGeneratedWith(config: MtsaConfig, turn: number): { maxTokens: number; prefill?: string } {
  if (!config.attackerPrefill) return { maxTokens: config.sampling.attacker.maxTokens };
  return { maxTokens: config.sampling.attacker.maxTokens, prefill: config.attacker === 'no-thought' ? questionMarker(turn) : thinkingMarker(turn) };
}

/** The stored pairs of one side as training pairs, each scored in the context its turn was sampled in. */
function pairsOf(output: StepOutput, side: 'red-team' | 'target', config: MtsaConfig) {
  return (output.pairs as { side: string; pair: Parameters<typeof toTrainingPair>[0] & { source: { turn: number } } }[]).flatMap((p) =>
    p.side !== side ? [] : [toTrainingPair(p.pair, side === 'red-team' ? attackerGeneratedWith(config, p.pair.source.turn) : { maxTokens: config.sampling.target.maxTokens })],
  );
}

function marginDetail(summary: Record<string, number>): string {
  return `log-ratio margin ${summary.marginBefore?.toFixed(2)} → ${summary.marginAfter?.toFixed(2)}`;
}

/** The models Stage 1 uses: the red team it fine-tunes and the embedder of its data selection. */
export type Stage1Models = Pick<MtsaModels, 'attacker' | 'embedder'>;

/**
 * Stage 1 then every iteration. The other models may come as a promise (`later`), awaited only
 * after Stage 1: mtsa run starts Stage 1 while the arena still trains the target and the guard.
 */
export async function runMtsa(models: MtsaModels | (Stage1Models & { later: Promise<Omit<MtsaModels, keyof Stage1Models>> }), data: MtsaData, options: PipelineOptions): Promise<IterationSummary[]> {
  const referenceTexts = await stage1(models, data, options);
  const all: MtsaModels = 'later' in models ? { attacker: models.attacker, embedder: models.embedder, ...(await models.later) } : models;
  const references = await prepareReferences(referenceTexts, all.embedder, options.config.redTeam.diversityReferences, options.seed);
  const summaries: IterationSummary[] = [];
  for (let t = 1; t <= options.config.iterations; t++) summaries.push(await iteration(t, all, data, references, options));
  return summaries;
}

function resamplingModels(models: MtsaModels, config: MtsaConfig, attackerId: string) {
  return {
    attacker: attackerAgent(models.attacker, config, attackerId),
    target: models.target,
    judge: models.judge,
    helpfulness: models.helpfulness,
    embedder: models.embedder,
    oracle: models.oracle,
  };
}

export function onlineMetrics(all: readonly Trajectory[]): Record<string, number> {
  // Errored dialogues (a model call failed) are reported apart and enter no rate.
  const trajectories = scoredTrajectories(all);
  const live = trajectories.filter((t) => t.stopReason === 'max-turns');
  const oracle = trajectories.filter((t) => t.oracleSuccess !== undefined);
  return {
    'attack/successRate': trajectories.length ? trajectories.filter((t) => t.attackSuccess).length / trajectories.length : 0,
    ...(oracle.length ? { 'attack/oracleSuccessRate': oracle.filter((t) => t.oracleSuccess).length / oracle.length } : {}),
    'attack/dropped': trajectories.length - live.length,
    'attack/meanAttempts': mean(live.flatMap((t) => t.turns.map((x) => x.attackerAttempts))),
    ...(all.length > trajectories.length ? { 'attack/errored': all.length - trajectories.length } : {}),
  };
}

function rewardStats(pairs: readonly { chosen_reward: number; rejected_reward: number }[]): Record<string, number> {
  if (pairs.length === 0) return {};
  const gaps = pairs.map((p) => p.chosen_reward - p.rejected_reward);
  return {
    'reward/gapMean': mean(gaps),
    'reward/gapMin': Math.min(...gaps),
    'reward/gapMax': Math.max(...gaps),
    'reward/chosenMean': mean(pairs.map((p) => p.chosen_reward)),
    'reward/rejectedMean': mean(pairs.map((p) => p.rejected_reward)),
  };
}

function prefixKeys(prefix: string, values: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [`${prefix}${k}`, v]));
}

function summaryOf(metrics: readonly MetricRecord[] | undefined): Record<string, number> {
  return metrics?.find((m) => m.step.endsWith('/summary'))?.values ?? {};
}

function mean(values: number[]): number {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0;
}
