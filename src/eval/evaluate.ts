/**
 * Held-out evaluation of a run: the attack success rate of every red team R0..Rn against every
 * target T0..Tn (judged by the guard, and by the oracle where one exists), each target under an
 * out-of-domain attacker, over-refusal and helpfulness of each target, the diversity of each red
 * team's attacks, and how often the judge agrees with the oracle. Every rate has its n and a
 * Wilson 95% interval. Each cell is a resumable step.
 */
import { user } from '../core/message.js';
import type { ChatModel, Embedder, Judge, SamplingOptions } from '../core/models.js';
import { ConfigError } from '../core/errors.js';
import { hashString } from '../core/rng.js';
import { rateOf, type Rate } from '../core/stats.js';
import { scoredTrajectories, type Trajectory } from '../core/trajectory.js';
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
}

/**
 * ASR over every dialogue attempted but the errored (a failed model call scores nothing): a
 * dialogue the attacker could not continue (format failure)
 * counts as a failure unless an earlier turn already succeeded (ASR = successes / goals, §8).
 */
function asrOf(all: readonly Trajectory[]): { oracle: Rate | null; guard: Rate } {
  const trajectories = scoredTrajectories(all);
  return {
    oracle: trajectories.some((t) => t.oracleSuccess !== undefined) ? rateOf(trajectories.map((t) => t.oracleSuccess === true)) : null,
    guard: rateOf(trajectories.map((t) => t.attackSuccess)),
  };
}

async function attack(suite: EvaluationSuite, attacker: AttackerAgent, target: ChatModel, judge: Judge, label: string, options: EvaluationOptions, ood = false): Promise<Trajectory[]> {
  const objectives = ood ? (suite.oodObjectives ?? suite.harmfulObjectives) : suite.harmfulObjectives;
  const starts = objectives.flatMap((objective) =>
    Array.from({ length: options.repeats }, (_, r) => ({ id: `${label}|${objective.id}|${r}`, seed: hashString(`eval|${objective.id}|${r}`, options.seed), objective })),
  );
  const maxTurns = ood ? (suite.oodMaxTurns ?? options.maxTurns) : options.maxTurns;
  return runConversations(starts, { attacker, target, judge, maxTurns, targetSampling: options.targetSampling, oracle: suite.oracle });
}

export async function evaluate(models: EvaluationModels, suite: EvaluationSuite, options: EvaluationOptions): Promise<EvaluationResult> {
  const n = models.targets.length - 1;
  const cellsToRun: [number, number][] = [];
  for (let r = 0; r <= n; r++) for (let t = 0; t <= n; t++) if (options.matrix === 'full' || t === 0 || r === n) cellsToRun.push([r, t]);
  const total = cellsToRun.length + 2 * models.targets.length;
  let done = 0;
  const trajectoriesOf = new Map<string, Trajectory[]>();
  for (const [r, t] of cellsToRun) {
    const key = `eval/attack/R${r}-T${t}`;
    options.onCell?.(key, done, total);
    const out = await options.store.step(key, async () => ({ trajectories: await attack(suite, models.redTeams[r], models.targets[t], models.judge, `R${r}xT${t}`, options) }));
    trajectoriesOf.set(`${r},${t}`, out.trajectories!);
    done++;
  }
  const ood: EvaluationResult['ood'] = [];
  const capability: CapabilityResult[] = [];
  for (let t = 0; t <= n; t++) {
    options.onCell?.(`eval/ood/T${t}`, done, total);
    const out = await options.store.step(`eval/ood/T${t}`, async () => ({ trajectories: await attack(suite, suite.oodAttacker(), models.targets[t], models.judge, `OODxT${t}`, options, true) }));
    const a = asrOf(out.trajectories!);
    ood.push({ target: t, oracleAsr: a.oracle, guardAsr: a.guard });
    done++;
    options.onCell?.(`eval/capability/T${t}`, done, total);
    const replies = await options.store.step(`eval/capability/T${t}`, async () => {
      const responses = await models.targets[t].generate(suite.capabilityItems.map((item, i) => ({ messages: [user(item.request)], sampling: options.capabilitySampling, seed: hashString(`capability|${i}`, options.seed) })));
      return { replies: responses.map((r) => r.text) };
    });
    capability.push(await capabilityResult(t, suite, replies.replies));
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
  return { cells, ood, capability, diversity, judgeOracleAgreement, categories, groundTruth: suite.groundTruth ?? (suite.oracle ? 'oracle' : 'judge-only (no oracle)') };
}

async function capabilityResult(target: number, suite: EvaluationSuite, replies: readonly string[]): Promise<CapabilityResult> {
  let helpful: boolean[];
  let refusal: boolean[];
  if (suite.assessCapability) ({ helpful, refusal } = await suite.assessCapability(suite.capabilityItems, replies));
  else if (suite.isHelpful && suite.isRefusal) {
    helpful = suite.capabilityItems.map((item, i) => suite.isHelpful!(item, replies[i]));
    refusal = replies.map((reply) => suite.isRefusal!(reply));
  } else throw new ConfigError('evaluation suite has neither assessCapability nor isHelpful and isRefusal: give it one way to judge capability replies');
  const of = (kind: CapabilityItem['kind'], flags: boolean[]) => suite.capabilityItems.map((item, i) => ({ item, flag: flags[i] })).filter((x) => x.item.kind === kind).map((x) => x.flag);
  return { target, helpfulness: rateOf(of('benign', helpful)), overRefusal: rateOf(of('borderline', refusal)) };
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
    const live = scoredTrajectories(list).filter((t) => (t.objective.category ?? 'other') === category);
    return live.length ? rateOf(live.map((t) => (t.oracleSuccess ?? t.attackSuccess) === true)) : null;
  };
  return categories.map((category) => ({ category, first: rate(first, category), last: rate(last, category) }));
}
