/**
 * DPO (Rafailov et al. 2023), sigmoid form, as TRL's DPOTrainer computes it:
 *   L = −log σ(β·[(log πθ(y_w) − log πref(y_w)) − (log πθ(y_l) − log πref(y_l))])
 * Pure: takes summed sequence log-probs, returns the mean loss, its gradient with respect to each
 * policy log-prob, and TRL-named metrics. (Reference log-probs are constants.)
 */
import { logSigmoidValue, sigmoidValue } from '../../core/math.js';

export interface PairLogProbs {
  policyChosen: number;
  policyRejected: number;
  referenceChosen: number;
  referenceRejected: number;
}

export interface PairLossResult {
  loss: number;
  /** d(mean loss)/d(policy log-prob) per pair */
  gradients: { chosen: number; rejected: number }[];
  metrics: Record<string, number>;
}

/**
 * The metrics TRL logs for a preference loss, from the implicit rewards β·(log πθ − log πref):
 * `rewards/chosen`, `rewards/rejected`, `rewards/margins`, `rewards/accuracies`, `logps/*`.
 */
export function preferenceMetrics(pairs: readonly PairLogProbs[], beta: number): Record<string, number> {
  const n = pairs.length;
  let chosenReward = 0;
  let rejectedReward = 0;
  let accuracy = 0;
  for (const p of pairs) {
    const chosen = p.policyChosen - p.referenceChosen;
    const rejected = p.policyRejected - p.referenceRejected;
    chosenReward += (beta * chosen) / n;
    rejectedReward += (beta * rejected) / n;
    accuracy += (chosen > rejected ? 1 : 0) / n;
  }
  return {
    'rewards/chosen': chosenReward,
    'rewards/rejected': rejectedReward,
    'rewards/margins': chosenReward - rejectedReward,
    'rewards/accuracies': accuracy,
    'logps/chosen': pairs.reduce((s, p) => s + p.policyChosen, 0) / n,
    'logps/rejected': pairs.reduce((s, p) => s + p.policyRejected, 0) / n,
  };
}

/**
 * `rpoAlpha` > 0 adds α · NLL(chosen) per token (RPO, Pang et al. 2024; TRL's rpo_alpha), which
 * keeps the chosen text likely while the margin grows; `chosenTokens` is then required.
 */
export function dpoLoss(pairs: readonly (PairLogProbs & { chosenTokens?: number })[], beta = 0.1, rpoAlpha = 0): PairLossResult {
  const n = pairs.length;
  if (n === 0) return { loss: 0, gradients: [], metrics: {} };
  let loss = 0;
  let nll = 0;
  const gradients = pairs.map((p) => {
    const chosen = p.policyChosen - p.referenceChosen;
    const rejected = p.policyRejected - p.referenceRejected;
    const margin = beta * (chosen - rejected);
    loss -= logSigmoidValue(margin) / n;
    // d/dm [−log σ(m)] = −σ(−m); dm/dπ_w = β, dm/dπ_l = −β
    const g = (-beta * sigmoidValue(-margin)) / n;
    if (rpoAlpha === 0) return { chosen: g, rejected: -g };
    const tokens = Math.max(1, p.chosenTokens ?? 1);
    nll += -p.policyChosen / tokens / n;
    loss += (rpoAlpha * -p.policyChosen) / tokens / n;
    return { chosen: g - rpoAlpha / tokens / n, rejected: -g };
  });
  return {
    loss,
    gradients,
    metrics: { loss, ...preferenceMetrics(pairs, beta), ...(rpoAlpha > 0 ? { 'nll/chosen': nll } : {}) },
  };
}
