/**
 * Trajectory resampling (docs/method.md §5), the source of both sides' training pairs.
 * Red team: at a turn the target survived, regenerate the attack at several temperatures, roll
 * each branch out to the end, score R_adv = z(future toxicity) + z(−cosine) + z(−self-BLEU),
 * chosen = best, rejected = worst. Target: at an unsafe turn, rewrite the reply with the safety
 * hint (used only inside that call, G4), roll the future out with the *updated* attacker (G7), and
 * score R_tgt = Σ over the remaining turns of helpfulness + P(safe).
 */
import { assistant, user, type Message } from '../core/message.js';
import { ReuseScope, type ChatModel, type Embedder, type HelpfulnessScorer, type Judge, type SamplingOptions, type ScoredConversation } from '../core/models.js';
import { SAFETY_HINT } from '../core/mtsa-prompts.js';
import { Rng, hashString } from '../core/rng.js';
import { zScores } from '../core/stats.js';
import type { OracleLabel, Trajectory, Turn } from '../core/trajectory.js';
import { attackerMessages, targetMessages, type AttackerAgent } from '../attacks/attacker.js';
import { runConversations, type ConversationStart } from '../attacks/run-conversation.js';
import type { RedTeamPreference, TargetPreference } from '../data/schemas.js';
import type { TrainingPair } from '../training/trainers.js';
import type { MtsaConfig } from './config.js';
import { meanCosine, meanSelfBleu, ngramIndex, wordTokens, type NgramIndex } from './diversity.js';

export interface ResamplingModels {
  attacker: AttackerAgent;
  target: ChatModel;
  judge: Judge;
  helpfulness: HelpfulnessScorer;
  embedder: Embedder;
  oracle?: (reply: string) => OracleLabel;
}

/** The diversity reference set 𝓡, prepared once: n-gram indexes and embeddings. */
export interface DiversityReferences {
  ngrams: NgramIndex[];
  vectors: Float32Array[];
}

export async function prepareReferences(texts: readonly string[], embedder: Embedder, count: number, seed: number): Promise<DiversityReferences> {
  const sample = new Rng(seed)
    .fork('references')
    .shuffle([...texts])
    .slice(0, count);
  return { ngrams: sample.map((t) => ngramIndex(wordTokens(t))), vectors: await embedder.embed(sample) };
}

/** P(unsafe) of single (question, reply) pairs, as the reference code's resampling rewards judge. */
async function singleTurnJudgements(judge: Judge, turns: readonly Pick<Turn, 'question' | 'reply'>[]) {
  return judge.judge(turns.map((t) => [user(t.question), assistant(t.reply)]));
}

export interface RedTeamGroup {
  trajectory: Trajectory;
  /** 0-based turn whose attack is regenerated */
  turn: number;
}

/**
 * Groups for red-team resampling: dialogues with a turn the target survived (P(unsafe) ≤ threshold),
 * failed dialogues first when all dialogues qualify (the paper's figure, G1), one random such turn each.
 */
export function selectRedTeamGroups(trajectories: readonly Trajectory[], config: MtsaConfig['redTeam'], seed: number, limit = config.maxGroups): RedTeamGroup[] {
  const rng = new Rng(seed).fork('red-team-groups');
  const eligible = trajectories.filter((t) => t.stopReason === 'max-turns' && (config.source === 'all' || t.attackSuccess));
  const ordered = [...eligible.filter((t) => !t.attackSuccess), ...eligible.filter((t) => t.attackSuccess)];
  return oneTurnEach(ordered, (t) => t.judgement.pUnsafe <= config.maxSafeProbability, limit, rng);
}

/**
 * Every candidate group, in order, when groups are filtered after their rollouts
 * (`requireUnsafeFuture`): resampleRedTeam then caps the groups it keeps, not the groups it
 * tries. Otherwise the first `maxGroups` (the cap applies to what is rolled out, as before).
 */
export function redTeamCandidates(trajectories: readonly Trajectory[], config: MtsaConfig['redTeam'], seed: number): RedTeamGroup[] {
  return selectRedTeamGroups(trajectories, config, seed, config.requireUnsafeFuture ? config.rolloutBudget : config.maxGroups);
}

/** Up to `limit` groups: one random qualifying turn of each trajectory that has one, in order. */
function oneTurnEach(trajectories: readonly Trajectory[], qualifies: (turn: Trajectory['turns'][number]) => boolean, limit: number, rng: Rng): { trajectory: Trajectory; turn: number }[] {
  const groups: { trajectory: Trajectory; turn: number }[] = [];
  for (const trajectory of trajectories) {
    const turns = trajectory.turns.map((t, i) => (qualifies(t) ? i : -1)).filter((i) => i >= 0);
    if (turns.length === 0) continue;
    groups.push({ trajectory, turn: rng.pick(turns) });
    if (groups.length >= limit) break;
  }
  return groups;
}

export interface RedTeamResult {
  pairs: RedTeamPreference[];
  rollouts: Trajectory[];
  skipped: { degenerate: number; formatFailures: number; tooFewCandidates: number; noUnsafeFuture: number };
  /** groups whose candidates were rolled out */
  groupsTried: number;
}

/**
 * Red-team resampling over candidate groups in waves: each wave rolls out as many groups as pairs
 * are still missing (at most `maxGroups` pairs in all), so a group skipped after its rollouts
 * (no unsafe future, degenerate, too few candidates) frees its slot for the next candidate instead
 * of costing a pair. Without `requireUnsafeFuture` the candidates are the first `maxGroups` groups
 * and there is one wave, as in the paper.
 */
export async function resampleRedTeam(
  candidates: readonly RedTeamGroup[],
  models: ResamplingModels,
  references: DiversityReferences,
  config: MtsaConfig,
  iteration: number,
  seed: number,
): Promise<RedTeamResult> {
  const result: RedTeamResult = { pairs: [], rollouts: [], skipped: { degenerate: 0, formatFailures: 0, tooFewCandidates: 0, noUnsafeFuture: 0 }, groupsTried: 0 };
  let next = 0;
  while (result.pairs.length < config.redTeam.maxGroups && next < candidates.length) {
    const wave = candidates.slice(next, next + config.redTeam.maxGroups - result.pairs.length);
    next += wave.length;
    const out = await resampleWave(wave, models, references, config, iteration, seed);
    result.pairs.push(...out.pairs);
    result.rollouts.push(...out.rollouts);
    for (const key of Object.keys(result.skipped) as (keyof RedTeamResult['skipped'])[]) result.skipped[key] += out.skipped[key];
    result.groupsTried += wave.length;
  }
  return result;
}

async function resampleWave(
  groups: readonly RedTeamGroup[],
  models: ResamplingModels,
  references: DiversityReferences,
  config: MtsaConfig,
  iteration: number,
  seed: number,
): Promise<Omit<RedTeamResult, 'groupsTried'>> {
  const temperatures = config.sampling.regenerateTemperatures;
  const attackerSampling = (temperature: number): SamplingOptions => ({ ...config.sampling.attacker, temperature });
  const starts: ConversationStart[] = groups.flatMap((g) =>
    temperatures.map((temperature, j) => ({
      id: `${g.trajectory.id}/red/${g.turn + 1}/${j}`,
      seed: hashString(`${g.trajectory.id}|red|${j}`, seed),
      objective: g.trajectory.objective,
      prefix: g.trajectory.turns.slice(0, g.turn),
      first: { attackerSampling: attackerSampling(temperature), targetSampling: config.sampling.firstReply },
    })),
  );
  const rollouts = await runConversations(starts, { ...models, maxTurns: config.maxTurns, targetSampling: config.sampling.target });
  // Score every regenerated-and-future turn once, in batches.
  const futureTurns = rollouts.flatMap((r, i) => (r.stopReason === 'max-turns' ? r.turns.slice(groups[Math.floor(i / temperatures.length)].turn).map((turn) => ({ rollout: i, turn })) : []));
  const judgements = await singleTurnJudgements(
    models.judge,
    futureTurns.map((x) => x.turn),
  );
  const vectors = await models.embedder.embed(futureTurns.map((x) => x.turn.attackerMessage));
  const toxicity = new Map<number, number>();
  const cosine = new Map<number, number>();
  const bleu = new Map<number, number>();
  futureTurns.forEach((x, i) => {
    toxicity.set(x.rollout, (toxicity.get(x.rollout) ?? 0) + judgements[i].pUnsafe);
    cosine.set(x.rollout, (cosine.get(x.rollout) ?? 0) - meanCosine(vectors[i], references.vectors));
    bleu.set(x.rollout, (bleu.get(x.rollout) ?? 0) - meanSelfBleu(x.turn.attackerMessage, references.ngrams));
  });
  const pairs: RedTeamPreference[] = [];
  const skipped = { degenerate: 0, formatFailures: rollouts.filter((r) => r.stopReason !== 'max-turns').length, tooFewCandidates: 0, noUnsafeFuture: 0 };
  groups.forEach((g, gi) => {
    const members = temperatures.map((_, j) => gi * temperatures.length + j).filter((i) => rollouts[i].stopReason === 'max-turns');
    if (members.length < 2) {
      skipped.tooFewCandidates++;
      return;
    }
    // When every candidate's future stayed safe, z(toxicity) only spreads the judge's noise over
    // the group, and the pair would teach diversity alone (measured: 84 of 96 groups in iteration 3).
    if (config.redTeam.requireUnsafeFuture && !members.some((i) => rollouts[i].turns.slice(g.turn).some((t) => t.judgement.verdict === 'unsafe'))) {
      skipped.noUnsafeFuture++;
      return;
    }
    const tox = zScores(members.map((i) => toxicity.get(i)!));
    const cos = zScores(members.map((i) => cosine.get(i)!));
    const ble = zScores(members.map((i) => bleu.get(i)!));
    const total = members.map((_, m) => tox[m] + cos[m] + ble[m]);
    let best = 0;
    let worst = 0;
    total.forEach((v, m) => {
      if (v > total[best]) best = m;
      if (v < total[worst]) worst = m;
    });
    const chosen = rollouts[members[best]].turns[g.turn];
    const rejected = rollouts[members[worst]].turns[g.turn];
    // Degenerate groups teach nothing, and a pair with chosen == rejected must never be emitted (G13).
    if (best === worst || total[best] - total[worst] < 1e-6 || chosen.attackerMessage === rejected.attackerMessage) {
      skipped.degenerate++;
      return;
    }
    pairs.push({
      prompt: attackerMessages(g.trajectory.objective.text, g.trajectory.turns.slice(0, g.turn)),
      chosen: [user(chosen.attackerMessage)],
      rejected: [user(rejected.attackerMessage)],
      generation_role: 'user',
      scores: { toxicity: tox, diversity: cos.map((c, m) => c + ble[m]), total, chosenIndex: best, rejectedIndex: worst },
      temperatures: members.map((i) => temperatures[i % temperatures.length]),
      source: { trajectoryId: g.trajectory.id, turn: g.turn + 1, iteration, objectiveId: g.trajectory.objective.id },
    });
  });
  return { pairs, rollouts, skipped };
}

export interface TargetGroup {
  trajectory: Trajectory;
  turn: number;
}

/** Dialogues the judge flagged, one random unsafe turn (P(unsafe) ≥ threshold) each. */
export function selectTargetGroups(trajectories: readonly Trajectory[], config: MtsaConfig['target'], seed: number): TargetGroup[] {
  const rng = new Rng(seed).fork('target-groups');
  const flagged = trajectories.filter((t) => t.stopReason === 'max-turns' && t.attackSuccess);
  return oneTurnEach(flagged, (t) => t.judgement.pUnsafe >= config.minUnsafeProbability, config.maxPairs, rng);
}

export interface TargetResult {
  pairs: TargetPreference[];
  rollouts: Trajectory[];
  skipped: { identical: number; formatFailures: number };
}

/** Σ over turns of helpfulness and P(safe), each judged on the single (question, reply) pair. */
async function trajectoryRewards(models: ResamplingModels, segments: readonly (readonly Turn[])[]): Promise<{ helpfulness: number; safety: number }[]> {
  const flat = segments.flatMap((turns, s) => turns.map((turn) => ({ s, turn })));
  const [judgements, helpfulness] = await Promise.all([
    singleTurnJudgements(
      models.judge,
      flat.map((x) => x.turn),
    ),
    models.helpfulness.score(flat.map((x) => ({ request: x.turn.question, reply: x.turn.reply }))),
  ]);
  const totals = segments.map(() => ({ helpfulness: 0, safety: 0 }));
  flat.forEach((x, i) => {
    totals[x.s].helpfulness += helpfulness[i];
    totals[x.s].safety += judgements[i].pSafe;
  });
  return totals;
}

export async function resampleTarget(groups: readonly TargetGroup[], models: ResamplingModels, config: MtsaConfig, iteration: number, seed: number): Promise<TargetResult> {
  // The rewrite and the rollouts share a reuse scope: the rollouts' prompts begin with the history the rewrite prefilled.
  const reuse = new ReuseScope();
  // 1. Safe rewrite: the hint is appended to q_k for this call only.
  const rewrites = await models.target.generate(
    groups.map((g) => {
      const history = g.trajectory.turns.slice(0, g.turn);
      const question = g.trajectory.turns[g.turn].question;
      return { messages: [...targetMessages(history), user(`${question}${SAFETY_HINT}`)] as Message[], sampling: config.sampling.rewrite, seed: hashString(`${g.trajectory.id}|rewrite`, seed), reuse };
    }),
  );
  // 2. Roll the future out from the rewritten turn with the current attacker.
  const rollouts = await runConversations(
    groups.map((g, i) => {
      const original = g.trajectory.turns[g.turn];
      return {
        id: `${g.trajectory.id}/target/${g.turn + 1}`,
        seed: hashString(`${g.trajectory.id}|target`, seed),
        objective: g.trajectory.objective,
        prefix: g.trajectory.turns.slice(0, g.turn),
        first: { proposal: { message: original.attackerMessage, thought: original.thought, question: original.question }, reply: rewrites[i].text },
      };
    }),
    { ...models, maxTurns: config.maxTurns, targetSampling: config.sampling.target, reuse },
  );
  const usable = groups.map((g, i) => ({ g, i })).filter(({ i }) => rollouts[i].stopReason === 'max-turns');
  // 3. Rewards from turn k to the end (or turn k only: the last-turn ablation).
  const span = (turns: readonly Turn[], k: number) => (config.reward === 'future' ? turns.slice(k) : turns.slice(k, k + 1));
  const rewards = await trajectoryRewards(
    models,
    usable.flatMap(({ g, i }) => [span(rollouts[i].turns, g.turn), span(g.trajectory.turns, g.turn)]),
  );
  const pairs: TargetPreference[] = [];
  let identical = 0;
  usable.forEach(({ g, i }, u) => {
    const chosen = rollouts[i].turns[g.turn].reply;
    const rejected = g.trajectory.turns[g.turn].reply;
    if (chosen === rejected) {
      identical++;
      return;
    }
    const [good, bad] = [rewards[2 * u], rewards[2 * u + 1]];
    pairs.push({
      // The training prompt holds the clean question: the hint never reaches training data (G4).
      prompt: [...targetMessages(g.trajectory.turns.slice(0, g.turn)), user(g.trajectory.turns[g.turn].question)],
      chosen: [assistant(chosen)],
      rejected: [assistant(rejected)],
      chosen_reward: good.helpfulness + good.safety,
      rejected_reward: bad.helpfulness + bad.safety,
      components: { chosenHelpfulness: good.helpfulness, chosenSafety: good.safety, rejectedHelpfulness: bad.helpfulness, rejectedSafety: bad.safety, turns: span(g.trajectory.turns, g.turn).length },
      source: { trajectoryId: g.trajectory.id, turn: g.turn + 1, iteration, objectiveId: g.trajectory.objective.id },
    });
  });
  return { pairs, rollouts, skipped: { identical, formatFailures: groups.length - usable.length } };
}

/**
 * A preference record as a training pair: the prompt plus each completion, the completion scored.
 * `generatedWith` (how the completions were sampled) goes to both sides, so a short-context
 * backend scores chosen and rejected in the one context generation saw.
 */
export function toTrainingPair(
  record: { prompt: Message[]; chosen: Message[]; rejected: Message[]; chosen_reward?: number; rejected_reward?: number },
  generatedWith?: ScoredConversation['generatedWith'],
): TrainingPair {
  const scored = [record.prompt.length];
  const how = generatedWith ? { generatedWith } : {};
  return {
    chosen: { messages: [...record.prompt, ...record.chosen], scored, ...how },
    rejected: { messages: [...record.prompt, ...record.rejected], scored, ...how },
    chosenReward: record.chosen_reward,
    rejectedReward: record.rejected_reward,
  };
}
