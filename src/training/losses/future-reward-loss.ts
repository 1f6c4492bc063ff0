/**
 * MTSA's target loss (docs/method.md §7.1), REFUEL-style: regress the policy's log-ratio gap
 * between the chosen and rejected reply on the gap of their future rewards,
 *   L = ( (1/η)·[(log πθ(y_c) − log πref(y_c)) − (log πθ(y_r) − log πref(y_r))] − (R_c − R_r) )²
 * with R = Σ over the turns from this one to the end of (helpfulness + P(safe)). The reference
 * code's β = 0.01 form, (Δ − (R_c − R_r)/(2β))², is this loss times η² with η = 1/(2β) = 50.
 */
import { preferenceMetrics, type PairLogProbs, type PairLossResult } from './dpo-loss.js';

export interface RewardedPair extends PairLogProbs {
  chosenReward: number;
  rejectedReward: number;
}

export function futureRewardLoss(pairs: readonly RewardedPair[], eta = 50): PairLossResult {
  const n = pairs.length;
  if (n === 0) return { loss: 0, gradients: [], metrics: {} };
  let loss = 0;
  let rewardGap = 0;
  const beta = 1 / (2 * eta); // for TRL-style reward metrics, as the reference trainer logs them
  const gradients = pairs.map((p) => {
    const chosen = p.policyChosen - p.referenceChosen;
    const rejected = p.policyRejected - p.referenceRejected;
    const gap = p.chosenReward - p.rejectedReward;
    const residual = (chosen - rejected) / eta - gap;
    loss += (residual * residual) / n;
    rewardGap += gap / n;
    const g = (2 * residual) / eta / n;
    return { chosen: g, rejected: -g };
  });
  return {
    loss,
    gradients,
    metrics: { loss, ...preferenceMetrics(pairs, beta), 'future/rewardGap': rewardGap },
  };
}
