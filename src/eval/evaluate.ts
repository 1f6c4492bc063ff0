/**
 * Held-out evaluation of a run: the attack success rate of every red team R0..Rn against every
 * target T0..Tn (judged by the guard, and by the oracle where one exists), each target under the
 * suite's scripted attackers (in-domain and out-of-domain, reported apart), over-refusal and
 * helpfulness of each target, the diversity of each red team's attacks, and how often the judge
 * agrees with the oracle. Every rate carries an interval clustered by objective (core/stats.ts
 * clusteredRate) with its numbers of objectives and dialogues; every attack cell counts its
 * completed and dropped dialogues and gives ASR over all dialogues and over completed ones.
 * Every dialogue of an objective gets the same seed in every cell (common random numbers), so
 * cells differ in the attacker or the target only. Each cell is a resumable step.
 */
import { user } from '../core/message.js';
import type { ChatModel, Embedder, Judge, SamplingOptions } from '../core/models.js';
import { hashString } from '../core/rng.js';
import { clusteredRate, type ClusteredObservation, type Rate } from '../core/stats.js';
import { ConfigError } from '../core/errors.js';
import { scoredTrajectories, type Trajectory } from '../core/trajectory.js';
import type { AttackerAgent } from '../attacks/attacker.js';
import { runConversations } from '../attacks/run-conversation.js';
import { meanCosine, meanSelfBleu, ngramIndex, wordTokens } from '../mtsa/diversity.js';
import type { StepOutput, StepStore } from '../core/steps.js';
import type { CapabilityItem, EvaluationSuite, ScriptedPanelAttacker } from './suite.js';

export interface EvaluationModels {
  /** red teams R0..Rn (index = iteration) */
  redTeams: readonly AttackerAgent[];
  /** targets T0..Tn */
  targets: readonly ChatModel[];
  judge: Judge;
  embedder: Embedder;
}

/** The figures of one attacker × target cell. */
export interface CellFigures {
  /** oracle ASR over every dialogue attempted (a dropped dialogue counts unless an earlier turn already succeeded) */
  oracleAsr: Rate | null;
  guardAsr: Rate;
  /** the same over completed dialogues only: a target cannot look safer because its attacker got confused */
  oracleAsrCompleted: Rate | null;
  guardAsrCompleted: Rate;
  dialogues: number;
  completed: number;
  /** dialogues the attacker could not continue (format failure) */
  dropped: number;
  /** dialogues ended by a failed model call: in no rate (never scored as safe or unsafe) */
  errored: number;
}

export interface AttackCell extends CellFigures {
  redTeam: number;
  target: number;
}

export interface ScriptedCell extends CellFigures {
  attacker: string;
  domain: ScriptedPanelAttacker['domain'];
  target: number;
}

export interface CapabilityResult {
  target: number;
  helpfulness: Rate;
  overRefusal: Rate;
}

export interface DiversityResult {
  redTeam: number;
  /** mean self-BLEU of each attack question against the others (lower = more diverse) */
  selfBleu: number;
  /** mean embedding cosine between attack questions (lower = more diverse) */
  embeddingSimilarity: number;
  n: number;
}

export interface EvaluationResult {
  cells: AttackCell[];
  /** each target under every out-of-domain scripted attacker, pooled (clustered by objective) */
  ood: { target: number; oracleAsr: Rate | null; guardAsr: Rate }[];
  /** each target under every scripted attacker, one cell each */
  scripted: ScriptedCell[];
  capability: CapabilityResult[];
  diversity: DiversityResult[];
  /** share of evaluation turns where the guard's verdict matches the oracle */
  judgeOracleAgreement: Rate | null;
  /** per harm category, the final red team against T0 and the final target */
  categories: { category: string; first: Rate | null; last: Rate | null }[];
  /** 'oracle' or 'judge-only (no oracle)': what decided attack success */
  groundTruth: 'oracle' | 'judge-only (no oracle)';
}

export interface EvaluationOptions {
  maxTurns: number;
  repeats: number;
  targetSampling: SamplingOptions;
  capabilitySampling: SamplingOptions;
  matrix: 'full' | 'diagonal-and-edges';
  seed: number;
  store: StepStore;
  onCell?: (label: string, done: number, total: number) => void;
  /** runs the attack and capability jobs elsewhere (worker threads); default: here, one by one */
  runner?: EvaluationRunner;
}

/** One independent unit of evaluation work: an R×T cell, a scripted attacker against a target, or a target's capability replies. */
export type EvaluationJob = { kind: 'attack'; redTeam: number; target: number } | { kind: 'scripted'; attacker: string; target: number } | { kind: 'capability'; target: number };
export type EvaluationJobOutput = { trajectories: Trajectory[] } | { replies: string[] };
export type EvaluationJobOptions = Pick<EvaluationOptions, 'maxTurns' | 'repeats' | 'targetSampling' | 'capabilitySampling' | 'seed'>;

/** Runs evaluation jobs (e.g. two at a time in worker threads); `evaluate` stores their results in job order. */
export interface EvaluationRunner {
  run(job: EvaluationJob): Promise<EvaluationJobOutput>;
}

/** The scripted attackers of a suite (a suite without a panel has its one out-of-domain attacker). */
export function scriptedPanel(suite: EvaluationSuite): readonly ScriptedPanelAttacker[] {
  return suite.scriptedAttackers ?? [{ name: 'ood', domain: 'out-of-domain', make: () => suite.oodAttacker() }];
}

const byObjective = (trajectories: readonly Trajectory[], success: (t: Trajectory) => boolean): ClusteredObservation[] =>
  trajectories.map((t) => ({ cluster: t.objective.id, success: success(t), dialogue: t.id }));

const hasOracle = (trajectories: readonly Trajectory[]) => trajectories.some((t) => t.oracleSuccess !== undefined);

/** ASR of a list of dialogues, clustered by objective, over all and over completed dialogues. */
export function cellFigures(attempted: readonly Trajectory[]): CellFigures {
  const trajectories = scoredTrajectories(attempted);
  const completed = trajectories.filter((t) => t.stopReason === 'max-turns');
  const oracle = (list: readonly Trajectory[]) => (hasOracle(trajectories) ? clusteredRate(byObjective(list, (t) => t.oracleSuccess === true)) : null);
  const guard = (list: readonly Trajectory[]) => clusteredRate(byObjective(list, (t) => t.attackSuccess));
  return {
    oracleAsr: oracle(trajectories),
    guardAsr: guard(trajectories),
    oracleAsrCompleted: oracle(completed),
    guardAsrCompleted: guard(completed),
    dialogues: trajectories.length,
    completed: completed.length,
    dropped: trajectories.length - completed.length,
    errored: attempted.length - trajectories.length,
  };
}

/** Dialogues of one attacker against one target on every held-out objective, `repeats` each. */
export async function attackDialogues(
  suite: EvaluationSuite,
  attacker: AttackerAgent,
  target: ChatModel,
  judge: Judge,
  label: string,
  options: Pick<EvaluationOptions, 'repeats' | 'seed' | 'maxTurns' | 'targetSampling'>,
  outOfDomain = false,
): Promise<Trajectory[]> {
  // a suite may give its out-of-domain attackers their own objectives and turn limit (fixed multi-turn sets)
  const objectives = outOfDomain ? (suite.oodObjectives ?? suite.harmfulObjectives) : suite.harmfulObjectives;
  const maxTurns = outOfDomain ? (suite.oodMaxTurns ?? options.maxTurns) : options.maxTurns;
  const starts = objectives.flatMap((objective) =>
    Array.from({ length: options.repeats }, (_, r) => ({ id: `${label}|${objective.id}|${r}`, seed: hashString(`eval|${objective.id}|${r}`, options.seed), objective })),
  );
  return runConversations(starts, { attacker, target, judge, maxTurns, targetSampling: options.targetSampling, oracle: suite.oracle });
}

export async function evaluate(models: EvaluationModels, suite: EvaluationSuite, options: EvaluationOptions): Promise<EvaluationResult> {
  const n = models.targets.length - 1;
  const panel = scriptedPanel(suite);
  // evaluationJobs gives every job with its step key, in the order the loops below store them.
  const jobs = evaluationJobs(n, panel, options.matrix);
  const compute = orderedJobs(
    options.runner,
    (job) => runEvaluationJob(job, models, suite, options),
    jobs.map((x) => x.job),
  );
  let next = 0;
  const nextStep = async <T extends StepOutput>(): Promise<T> => {
    const { key } = jobs[next];
    options.onCell?.(key, next, jobs.length);
    const out = await options.store.step(key, compute(next) as () => Promise<T>);
    next++;
    return out;
  };
  const cellsToRun = jobs.flatMap(({ job }): [number, number][] => (job.kind === 'attack' ? [[job.redTeam, job.target]] : []));
  const trajectoriesOf = new Map<string, Trajectory[]>();
  for (const [r, t] of cellsToRun) trajectoriesOf.set(`${r},${t}`, (await nextStep<{ trajectories: Trajectory[] }>()).trajectories);
  const scripted: ScriptedCell[] = [];
  const ood: EvaluationResult['ood'] = [];
  const capability: CapabilityResult[] = [];
  const scriptedTrajectories: Trajectory[] = [];
  for (let t = 0; t <= n; t++) {
    const outOfDomain: Trajectory[] = [];
    for (const attacker of panel) {
      const { trajectories } = await nextStep<{ trajectories: Trajectory[] }>();
      scripted.push({ attacker: attacker.name, domain: attacker.domain, target: t, ...cellFigures(trajectories) });
      scriptedTrajectories.push(...trajectories);
      if (attacker.domain === 'out-of-domain') outOfDomain.push(...trajectories);
    }
    const pooled = cellFigures(outOfDomain);
    ood.push({ target: t, oracleAsr: pooled.oracleAsr, guardAsr: pooled.guardAsr });
    const replies = await nextStep<{ replies: string[] }>();
    capability.push(await capabilityResult(t, suite, replies.replies));
  }
  const cells: AttackCell[] = cellsToRun.map(([r, t]) => ({ redTeam: r, target: t, ...cellFigures(trajectoriesOf.get(`${r},${t}`)!) }));
  const diversity: DiversityResult[] = [];
  for (let r = 0; r <= n; r++) diversity.push(await attackDiversity(r, trajectoriesOf.get(`${r},0`) ?? [], models.embedder));
  const judgeOracleAgreement = agreement([...[...trajectoriesOf.values()].flat(), ...scriptedTrajectories]);
  const categories = categoryBreakdown(trajectoriesOf.get(`${n},0`) ?? [], trajectoriesOf.get(`${n},${n}`) ?? []);
  return { cells, ood, scripted, capability, diversity, judgeOracleAgreement, categories, groundTruth: suite.groundTruth ?? (suite.oracle ? 'oracle' : 'judge-only (no oracle)') };
}

/**
 * Every job of an evaluation of R0..Rn × T0..Tn, with the step key its output is stored under, in
 * the order evaluate() stores them: the attack cells row by row, then per target the scripted
 * panel and the capability replies.
 */
export function evaluationJobs(n: number, panel: readonly Pick<ScriptedPanelAttacker, 'name'>[], matrix: EvaluationOptions['matrix']): { key: string; job: EvaluationJob }[] {
  const jobs: { key: string; job: EvaluationJob }[] = [];
  for (let r = 0; r <= n; r++) for (let t = 0; t <= n; t++) if (matrix === 'full' || t === 0 || r === n) jobs.push({ key: `eval/attack/R${r}-T${t}`, job: { kind: 'attack', redTeam: r, target: t } });
  for (let t = 0; t <= n; t++) {
    for (const a of panel) jobs.push({ key: `eval/scripted/${a.name}/T${t}`, job: { kind: 'scripted', attacker: a.name, target: t } });
    jobs.push({ key: `eval/capability/T${t}`, job: { kind: 'capability', target: t } });
  }
  return jobs;
}

/** What one evaluation job computes; the same function runs in this thread and in a worker. */
export async function runEvaluationJob(
  job: EvaluationJob,
  models: Pick<EvaluationModels, 'redTeams' | 'targets' | 'judge'>,
  suite: EvaluationSuite,
  options: EvaluationJobOptions,
): Promise<EvaluationJobOutput> {
  const target = models.targets[job.target];
  if (job.kind === 'capability') {
    const responses = await target.generate(
      suite.capabilityItems.map((item, i) => ({ messages: [user(item.request)], sampling: options.capabilitySampling, seed: hashString(`capability|${i}`, options.seed) })),
    );
    return { replies: responses.map((r) => r.text) };
  }
  if (job.kind === 'attack') return { trajectories: await attackDialogues(suite, models.redTeams[job.redTeam], target, models.judge, `R${job.redTeam}xT${job.target}`, options) };
  const scripted = scriptedPanel(suite).find((a) => a.name === job.attacker);
  if (!scripted) throw new Error(`evaluation job names scripted attacker "${job.attacker}", which the suite does not have`);
  return { trajectories: await attackDialogues(suite, scripted.make(), target, models.judge, `${scripted.name}xT${job.target}`, options, scripted.domain === 'out-of-domain') };
}

/**
 * Job i's computation for the step store. Without a runner, each job runs here when its step asks.
 * With one, the first request means every later job is needed too (the store asks only for steps
 * it has not stored, and stores them in order): they all start then — the runner decides how many
 * run at once — and are handed over in order, so the stored records keep their order.
 */
function orderedJobs(
  runner: EvaluationRunner | undefined,
  local: (job: EvaluationJob) => Promise<EvaluationJobOutput>,
  jobs: readonly EvaluationJob[],
): (index: number) => () => Promise<EvaluationJobOutput> {
  if (!runner) return (index) => () => local(jobs[index]);
  const started: Promise<EvaluationJobOutput>[] = [];
  return (index) => () => {
    for (let j = Math.max(index, started.length); j < jobs.length; j++) {
      started[j] = runner.run(jobs[j]);
      started[j].catch(() => {}); // a failure surfaces when its own step awaits it
    }
    return started[index] ?? runner.run(jobs[index]);
  };
}

/** Per judged turn, guard verdict = oracle; turns cluster by objective. */
export function agreement(trajectories: readonly Trajectory[]): Rate | null {
  const observations = trajectories.flatMap((t) =>
    t.turns.filter((turn) => turn.oracle !== undefined).map((turn) => ({ cluster: t.objective.id, dialogue: t.id, success: (turn.judgement.verdict === 'unsafe') === turn.oracle!.unsafe })),
  );
  return observations.length ? clusteredRate(observations) : null;
}

/** Capability items cluster by objective: `<objective id>#<phrasing>` (one dialogue per item). */
export async function capabilityResult(target: number, suite: EvaluationSuite, replies: readonly string[]): Promise<CapabilityResult> {
  let helpful: boolean[];
  let refusal: boolean[];
  if (suite.assessCapability) ({ helpful, refusal } = await suite.assessCapability(suite.capabilityItems, replies));
  else if (suite.isHelpful && suite.isRefusal) {
    const isHelpful = suite.isHelpful;
    const isRefusal = suite.isRefusal;
    helpful = suite.capabilityItems.map((item, i) => isHelpful(item, replies[i]));
    refusal = replies.map((reply) => isRefusal(reply));
  } else throw new ConfigError('evaluation suite has neither assessCapability nor isHelpful and isRefusal: give it one way to judge capability replies');
  const of = (kind: CapabilityItem['kind'], flags: readonly boolean[]) => suite.capabilityItems.map((item, i) => ({ item, flag: flags[i] })).filter((x) => x.item.kind === kind);
  const cluster = (item: CapabilityItem) => item.id.split('#')[0];
  return {
    target,
    helpfulness: clusteredRate(of('benign', helpful).map((x) => ({ cluster: cluster(x.item), dialogue: x.item.id, success: x.flag }))),
    overRefusal: clusteredRate(of('borderline', refusal).map((x) => ({ cluster: cluster(x.item), dialogue: x.item.id, success: x.flag }))),
  };
}

async function attackDiversity(redTeam: number, trajectories: readonly Trajectory[], embedder: Embedder): Promise<DiversityResult> {
  const questions = trajectories.flatMap((t) => t.turns.map((turn) => turn.question)).slice(0, 200);
  if (questions.length < 2) return { redTeam, selfBleu: NaN, embeddingSimilarity: NaN, n: questions.length };
  const indexes = questions.map((q) => ngramIndex(wordTokens(q)));
  const vectors = await embedder.embed(questions);
  let bleu = 0;
  let cosine = 0;
  questions.forEach((q, i) => {
    const others = indexes.filter((_, j) => j !== i);
    bleu += meanSelfBleu(q, others);
    cosine += meanCosine(
      vectors[i],
      vectors.filter((_, j) => j !== i),
    );
  });
  return { redTeam, selfBleu: bleu / questions.length, embeddingSimilarity: cosine / questions.length, n: questions.length };
}

function categoryBreakdown(first: readonly Trajectory[], last: readonly Trajectory[]): EvaluationResult['categories'] {
  const categories = [...new Set(first.map((t) => t.objective.category ?? 'other'))].sort();
  const rate = (list: readonly Trajectory[], category: string) => {
    const live = scoredTrajectories(list).filter((t) => (t.objective.category ?? 'other') === category);
    return live.length ? clusteredRate(byObjective(live, (t) => (t.oracleSuccess ?? t.attackSuccess) === true)) : null;
  };
  return categories.map((category) => ({ category, first: rate(first, category), last: rate(last, category) }));
}
