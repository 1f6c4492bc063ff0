/**
 * Training loops written against the TrainablePolicy seam only, so they run the same on the
 * engine and on an external trainer: supervised fine-tuning (token-mean NLL of scored messages)
 * and pairwise preference training with any pure pair loss (DPO, the future-reward regression).
 */
import type { ScoredConversation, SequenceLoss, SequenceLossResult, SequenceScore, TrainablePolicy } from '../core/models.js';
import { NumericalError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { learningRate } from '../core/lr-schedule.js';
import type { PairLossResult } from './losses/dpo-loss.js';

export interface TrainSchedule {
  epochs: number;
  /** items (sequences or pairs) per optimiser step */
  batchSize: number;
  lr: number;
  warmupRatio: number;
  maxGradNorm: number;
  seed: number;
}

export type StepMetrics = Record<string, number> & { step: number; lr: number; gradNorm: number };

/**
 * Whatever backend trained the step (the engine or an external worker), a non-finite loss or
 * gradient norm stops training with the model and the step named: carrying on would leave
 * weights that make every later figure meaningless.
 */
export function assertFiniteStep(policy: TrainablePolicy, step: number, total: number, loss: number, gradNorm: number): void {
  if (Number.isFinite(loss) && Number.isFinite(gradNorm)) return;
  throw new NumericalError(
    `model ${policy.id}: optimiser step ${step} of ${total} gave loss ${loss}, gradient norm ${gradNorm}; the weights or the data are not finite (lower the learning rate, or recompute the model this one was loaded from)`,
  );
}

function batchesOf<T>(items: readonly T[], schedule: TrainSchedule): T[][] {
  const rng = new Rng(schedule.seed);
  const batches: T[][] = [];
  for (let epoch = 0; epoch < Math.ceil(schedule.epochs); epoch++) {
    const order = rng.fork(`epoch-${epoch}`).shuffle(items.map((_, i) => i));
    // A fractional last epoch uses a prefix of its shuffled order.
    const count = epoch + 1 > schedule.epochs ? Math.round(order.length * (schedule.epochs - epoch)) : order.length;
    for (let i = 0; i < count; i += schedule.batchSize) batches.push(order.slice(i, Math.min(count, i + schedule.batchSize)).map((k) => items[k]));
  }
  return batches;
}

/**
 * The SFT loss of one batch: mean negative log-likelihood over all scored tokens,
 * L = −Σᵢ log πᵢ / N with N = Σᵢ tokensᵢ, so d L / d log πᵢ = −1/N for every sequence.
 */
export function tokenMeanNll(scores: readonly SequenceScore[]): SequenceLossResult {
  const tokens = scores.reduce((s, x) => s + x.tokens, 0);
  const n = Math.max(1, tokens);
  const loss = -scores.reduce((s, x) => s + x.logProb, 0) / n;
  return { loss, gradients: scores.map(() => -1 / n), metrics: { loss, tokens } };
}

/** Multi-turn SFT: mean negative log-likelihood over all scored tokens of each batch, one forward per step. */
export async function supervisedFineTune(
  policy: TrainablePolicy,
  data: readonly ScoredConversation[],
  schedule: TrainSchedule,
  onStep?: (m: StepMetrics, total: number) => void,
): Promise<StepMetrics[]> {
  const batches = batchesOf(data, schedule);
  const lrs = { peak: schedule.lr, totalSteps: batches.length, warmupRatio: schedule.warmupRatio, minRatio: 0 };
  const history: StepMetrics[] = [];
  await policy.resetOptimizer();
  for (let step = 0; step < batches.length; step++) {
    const lr = learningRate(lrs, step);
    const { result, gradNorm } = await policy.trainStep(batches[step], tokenMeanNll, { lr, maxGradNorm: schedule.maxGradNorm });
    assertFiniteStep(policy, step + 1, batches.length, result.loss, gradNorm);
    const metrics = { step: step + 1, lr, gradNorm, ...result.metrics } as StepMetrics;
    history.push(metrics);
    onStep?.(metrics, batches.length);
  }
  return history;
}

export interface TrainingPair {
  chosen: ScoredConversation;
  rejected: ScoredConversation;
  chosenReward?: number;
  rejectedReward?: number;
}

export type PairLoss = (
  pairs: { policyChosen: number; policyRejected: number; referenceChosen: number; referenceRejected: number; chosenReward: number; rejectedReward: number; chosenTokens: number }[],
) => PairLossResult;

/**
 * The loss of one step of preference pairs as a function of the policy's sequence scores
 * (chosen₀, rejected₀, chosen₁, …): the pair loss with the reference log-probs and rewards bound.
 */
export function pairStepLoss(batch: readonly { pair: TrainingPair; referenceChosen: number; referenceRejected: number }[], loss: PairLoss): SequenceLoss {
  return (scores) => {
    const result = loss(
      batch.map((b, i) => ({
        policyChosen: scores[2 * i].logProb,
        policyRejected: scores[2 * i + 1].logProb,
        referenceChosen: b.referenceChosen,
        referenceRejected: b.referenceRejected,
        chosenReward: b.pair.chosenReward ?? 0,
        rejectedReward: b.pair.rejectedReward ?? 0,
        chosenTokens: scores[2 * i].tokens,
      })),
    );
    return { loss: result.loss, gradients: result.gradients.flatMap((g) => [g.chosen, g.rejected]), metrics: result.metrics };
  };
}

/**
 * Preference training against the frozen reference snapshot: reference log-probs once for the whole
 * pair set, then per step one forward of the policy, the loss, its backward and an optimiser step.
 */
export async function trainOnPairs(
  policy: TrainablePolicy,
  pairs: readonly TrainingPair[],
  loss: PairLoss,
  schedule: TrainSchedule,
  onStep?: (m: StepMetrics, total: number) => void,
): Promise<StepMetrics[]> {
  if (pairs.length === 0) return [];
  const reference = await policy.scoreSequences(
    pairs.flatMap((p) => [p.chosen, p.rejected]),
    { reference: true },
  );
  const indexed = pairs.map((pair, i) => ({ pair, referenceChosen: reference[2 * i].logProb, referenceRejected: reference[2 * i + 1].logProb }));
  const batches = batchesOf(indexed, schedule);
  const lrs = { peak: schedule.lr, totalSteps: batches.length, warmupRatio: schedule.warmupRatio, minRatio: 0 };
  const history: StepMetrics[] = [];
  await policy.resetOptimizer();
  for (let step = 0; step < batches.length; step++) {
    const batch = batches[step];
    const lr = learningRate(lrs, step);
    const sequences = batch.flatMap((b) => [b.pair.chosen, b.pair.rejected]);
    const { result, gradNorm } = await policy.trainStep(sequences, pairStepLoss(batch, loss), { lr, maxGradNorm: schedule.maxGradNorm });
    assertFiniteStep(policy, step + 1, batches.length, result.loss, gradNorm);
    const metrics = { ...result.metrics, step: step + 1, lr, gradNorm } as StepMetrics;
    history.push(metrics);
    onStep?.(metrics, batches.length);
  }
  return history;
}

/** Mean of the chosen-minus-rejected log-ratio margin under the current weights (a diagnostic). */
export async function logRatioMargin(policy: TrainablePolicy, pairs: readonly TrainingPair[]): Promise<number> {
  if (pairs.length === 0) return 0;
  const sequences = pairs.flatMap((p) => [p.chosen, p.rejected]);
  const [current, reference] = [await policy.scoreSequences(sequences), await policy.scoreSequences(sequences, { reference: true })];
  let s = 0;
  for (let i = 0; i < pairs.length; i++) s += current[2 * i].logProb - reference[2 * i].logProb - (current[2 * i + 1].logProb - reference[2 * i + 1].logProb);
  return s / pairs.length;
}
