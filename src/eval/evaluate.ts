/**
 * Held-out evaluation of a run: the attack success rate of every red team R0..Rn against every
 * target T0..Tn (judged by the guard, and by the oracle where one exists), each target under an
 * out-of-domain attacker, over-refusal and helpfulness of each target, the diversity of each red
 * team's attacks, and how often the judge agrees with the oracle. Every rate has its n and a
 * Wilson 95% interval. Each cell is a resumable step.
 */
import { user } from '../core/message.js';
import type { ChatModel, Embedder, Judge, SamplingOptions } from '../core/models.js';
import { hashString } from '../core/rng.js';
import { rateOf, type Rate } from '../core/stats.js';
import type { Trajectory } from '../core/trajectory.js';
import type { AttackerAgent } from '../attacks/attacker.js';
import { runConversations } from '../attacks/run-conversation.js';
import { meanCosine, meanSelfBleu, ngramIndex, wordTokens } from '../mtsa/diversity.js';
import type { StepStore } from '../core/steps.js';
import type { CapabilityItem, EvaluationSuite } from './suite.js';

export interface EvaluationModels {
  /** red teams R0..Rn (index = iteration) */
  redTeams: readonly AttackerAgent[];
  /** targets T0..Tn */
  targets: readonly ChatModel[];
  judge: Judge;
  embedder: Embedder;
}

export interface AttackCell {
  redTeam: number;
  target: number;
  oracleAsr: Rate | null;
  guardAsr: Rate;
  dropped: number;
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
  ood: { target: number; oracleAsr: Rate | null; guardAsr: Rate }[];
  capability: CapabilityResult[];
  diversity: DiversityResult[];
  /** share of evaluation turns where the guard's verdict matches the oracle */
  judgeOracleAgreement: Rate | null;
  /** per harm category, the final red team against T0 and the final target */
  categories: { category: string; first: Rate | null; last: Rate | null }[];
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

/** One independent unit of evaluation work: an attack cell (redTeam −1: the out-of-domain attacker) or a target's capability replies. */
export type EvaluationJob = { kind: 'attack'; redTeam: number; target: number } | { kind: 'capability'; target: number };
export type EvaluationJobOutput = { trajectories: Trajectory[] } | { replies: string[] };
export type EvaluationJobOptions = Pick<EvaluationOptions, 'maxTurns' | 'repeats' | 'targetSampling' | 'capabilitySampling' | 'seed'>;

/** Runs evaluation jobs (e.g. two at a time in worker threads); `evaluate` stores their results in job order. */
export interface EvaluationRunner {
  run(job: EvaluationJob): Promise<EvaluationJobOutput>;
}

/**
 * ASR over every dialogue attempted: a dialogue the attacker could not continue (format failure)
 * counts as a failure unless an earlier turn already succeeded (ASR = successes / goals, §8).
 */
function asrOf(trajectories: readonly Trajectory[]): { oracle: Rate | null; guard: Rate } {
  return {
    oracle: trajectories.some((t) => t.oracleSuccess !== undefined) ? rateOf(trajectories.map((t) => t.oracleSuccess === true)) : null,
    guard: rateOf(trajectories.map((t) => t.attackSuccess)),
  };
}

async function attack(suite: EvaluationSuite, attacker: AttackerAgent, target: ChatModel, judge: Judge, label: string, options: EvaluationJobOptions): Promise<Trajectory[]> {
  const starts = suite.harmfulObjectives.flatMap((objective) =>
    Array.from({ length: options.repeats }, (_, r) => ({ id: `${label}|${objective.id}|${r}`, seed: hashString(`eval|${objective.id}|${r}`, options.seed), objective })),
  );
  return runConversations(starts, { attacker, target, judge, maxTurns: options.maxTurns, targetSampling: options.targetSampling, oracle: suite.oracle });
}

export async function evaluate(models: EvaluationModels, suite: EvaluationSuite, options: EvaluationOptions): Promise<EvaluationResult> {
  const n = models.targets.length - 1;
  const cellsToRun: [number, number][] = [];
  for (let r = 0; r <= n; r++) for (let t = 0; t <= n; t++) if (options.matrix === 'full' || t === 0 || r === n) cellsToRun.push([r, t]);
  const total = cellsToRun.length + 2 * models.targets.length;
  let done = 0;
  const trajectoriesOf = new Map<string, Trajectory[]>();
  const compute = orderedJobs(options.runner, (job) => runEvaluationJob(job, models, suite, options), [
    ...cellsToRun.map(([r, t]): EvaluationJob => ({ kind: 'attack', redTeam: r, target: t })),
    ...models.targets.flatMap((_, t): EvaluationJob[] => [{ kind: 'attack', redTeam: -1, target: t }, { kind: 'capability', target: t }]),
  ]);
  let job = 0;
  for (const [r, t] of cellsToRun) {
    const key = `eval/attack/R${r}-T${t}`;
    options.onCell?.(key, done, total);
    const out = await options.store.step(key, compute(job++) as () => Promise<{ trajectories: Trajectory[] }>);
    trajectoriesOf.set(`${r},${t}`, out.trajectories!);
    done++;
  }
  const ood: EvaluationResult['ood'] = [];
  const capability: CapabilityResult[] = [];
  for (let t = 0; t <= n; t++) {
    options.onCell?.(`eval/ood/T${t}`, done, total);
    const out = await options.store.step(`eval/ood/T${t}`, compute(job++) as () => Promise<{ trajectories: Trajectory[] }>);
    const a = asrOf(out.trajectories!);
    ood.push({ target: t, oracleAsr: a.oracle, guardAsr: a.guard });
    done++;
    options.onCell?.(`eval/capability/T${t}`, done, total);
    const replies = await options.store.step(`eval/capability/T${t}`, compute(job++) as () => Promise<{ replies: string[] }>);
    capability.push(capabilityResult(t, suite, replies.replies));
    done++;
  }
  const cells: AttackCell[] = cellsToRun.map(([r, t]) => {
    const trajectories = trajectoriesOf.get(`${r},${t}`)!;
    const a = asrOf(trajectories);
    return { redTeam: r, target: t, oracleAsr: a.oracle, guardAsr: a.guard, dropped: trajectories.length - trajectories.filter((x) => x.stopReason === 'max-turns').length };
  });
  const diversity: DiversityResult[] = [];
  for (let r = 0; r <= n; r++) diversity.push(await attackDiversity(r, trajectoriesOf.get(`${r},0`) ?? [], models.embedder));
  const judged = [...trajectoriesOf.values()].flat().flatMap((t) => t.turns).filter((turn) => turn.oracle !== undefined);
  const judgeOracleAgreement = judged.length ? rateOf(judged.map((turn) => (turn.judgement.verdict === 'unsafe') === turn.oracle!.unsafe)) : null;
  const categories = categoryBreakdown(trajectoriesOf.get(`${n},0`) ?? [], trajectoriesOf.get(`${n},${n}`) ?? []);
  return { cells, ood, capability, diversity, judgeOracleAgreement, categories };
}

/** What one evaluation job computes; the same function runs in this thread and in a worker. */
export async function runEvaluationJob(job: EvaluationJob, models: Pick<EvaluationModels, 'redTeams' | 'targets' | 'judge'>, suite: EvaluationSuite, options: EvaluationJobOptions): Promise<EvaluationJobOutput> {
  const target = models.targets[job.target];
  if (job.kind === 'capability') {
    const responses = await target.generate(suite.capabilityItems.map((item, i) => ({ messages: [user(item.request)], sampling: options.capabilitySampling, seed: hashString(`capability|${i}`, options.seed) })));
    return { replies: responses.map((r) => r.text) };
  }
  const ood = job.redTeam < 0;
  const attacker = ood ? suite.oodAttacker() : models.redTeams[job.redTeam];
  return { trajectories: await attack(suite, attacker, target, models.judge, ood ? `OODxT${job.target}` : `R${job.redTeam}xT${job.target}`, options) };
}

/**
 * Job i's computation for the step store. Without a runner, each job runs here when its step asks.
 * With one, the first request means every later job is needed too (the store asks only for steps
 * it has not stored, and stores them in order): they all start then — the runner decides how many
 * run at once — and are handed over in order, so the stored records keep their order.
 */
function orderedJobs(runner: EvaluationRunner | undefined, local: (job: EvaluationJob) => Promise<EvaluationJobOutput>, jobs: readonly EvaluationJob[]): (index: number) => () => Promise<EvaluationJobOutput> {
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

function capabilityResult(target: number, suite: EvaluationSuite, replies: readonly string[]): CapabilityResult {
  const of = (kind: CapabilityItem['kind']) => suite.capabilityItems.map((item, i) => ({ item, reply: replies[i] })).filter((x) => x.item.kind === kind);
  return {
    target,
    helpfulness: rateOf(of('benign').map((x) => suite.isHelpful(x.item, x.reply))),
    overRefusal: rateOf(of('borderline').map((x) => suite.isRefusal(x.reply))),
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
    cosine += meanCosine(vectors[i], vectors.filter((_, j) => j !== i));
  });
  return { redTeam, selfBleu: bleu / questions.length, embeddingSimilarity: cosine / questions.length, n: questions.length };
}

function categoryBreakdown(first: readonly Trajectory[], last: readonly Trajectory[]): EvaluationResult['categories'] {
  const categories = [...new Set(first.map((t) => t.objective.category ?? 'other'))].sort();
  const rate = (list: readonly Trajectory[], category: string) => {
    const live = list.filter((t) => (t.objective.category ?? 'other') === category);
    return live.length ? rateOf(live.map((t) => (t.oracleSuccess ?? t.attackSuccess) === true)) : null;
  };
  return categories.map((category) => ({ category, first: rate(first, category), last: rate(last, category) }));
}
