import { describe, expect, it } from 'vitest';
import { dpoLoss, type PairLogProbs } from './dpo-loss.js';
import { futureRewardLoss, type RewardedPair } from './future-reward-loss.js';

/** Central differences of a loss with respect to one policy log-prob. */
function numericGradient<T extends PairLogProbs>(loss: (pairs: T[]) => number, pairs: T[], index: number, key: 'policyChosen' | 'policyRejected'): number {
  const eps = 1e-5;
  const shifted = (delta: number) => pairs.map((p, i) => (i === index ? { ...p, [key]: p[key] + delta } : p));
  return (loss(shifted(eps)) - loss(shifted(-eps))) / (2 * eps);
}

const pairs: RewardedPair[] = [
  { policyChosen: -12.3, policyRejected: -15.1, referenceChosen: -12.9, referenceRejected: -14.0, chosenReward: 3.6, rejectedReward: 1.2 },
  { policyChosen: -30.0, policyRejected: -22.5, referenceChosen: -29.0, referenceRejected: -23.5, chosenReward: 2.0, rejectedReward: 2.4 },
  { policyChosen: -8.0, policyRejected: -9.0, referenceChosen: -8.0, referenceRejected: -9.0, chosenReward: 1.0, rejectedReward: 0.0 },
];

describe('DPO loss', () => {
  it('is ln 2 with zero log-ratios, for any beta, with zero margin', () => {
    for (const beta of [0.01, 0.1, 1]) {
      const r = dpoLoss([{ policyChosen: -5, policyRejected: -7, referenceChosen: -5, referenceRejected: -7 }], beta);
      expect(r.loss).toBeCloseTo(Math.LN2, 12);
      expect(r.metrics['rewards/margins']).toBe(0);
      expect(r.gradients[0]).toEqual({ chosen: -beta / 2, rejected: beta / 2 });
    }
  });

  it('matches a hand computation', () => {
    // Δ_w = 0.6, Δ_l = −1.1, β = 0.1 → m = 0.17, L = log(1 + e^−0.17) = 0.6104...
    const r = dpoLoss([pairs[0]], 0.1);
    expect(r.loss).toBeCloseTo(Math.log(1 + Math.exp(-0.17)), 10);
    expect(r.metrics['rewards/chosen']).toBeCloseTo(0.06, 10);
    expect(r.metrics['rewards/rejected']).toBeCloseTo(-0.11, 10);
    expect(r.metrics['rewards/accuracies']).toBe(1);
  });

  it('gradients match finite differences for every pair', () => {
    const value = (ps: PairLogProbs[]) => dpoLoss(ps, 0.1).loss;
    const r = dpoLoss(pairs, 0.1);
    pairs.forEach((_, i) => {
      expect(r.gradients[i].chosen).toBeCloseTo(numericGradient(value, pairs, i, 'policyChosen'), 8);
      expect(r.gradients[i].rejected).toBeCloseTo(numericGradient(value, pairs, i, 'policyRejected'), 8);
    });
  });

  it('swapping chosen and rejected mirrors the margin; tiny beta gives no NaN', () => {
    const swapped = pairs.map((p) => ({ policyChosen: p.policyRejected, policyRejected: p.policyChosen, referenceChosen: p.referenceRejected, referenceRejected: p.referenceChosen }));
    expect(dpoLoss(swapped).metrics['rewards/margins']).toBeCloseTo(-dpoLoss(pairs).metrics['rewards/margins'], 12);
    expect(Number.isFinite(dpoLoss(pairs, 1e-12).loss)).toBe(true);
  });
});

describe('DPO with an NLL term (RPO)', () => {
  it('adds α·NLL(chosen)/tokens to the loss and to the chosen gradient', () => {
    const pair = { ...pairs[0], chosenTokens: 4 };
    const plain = dpoLoss([pair], 0.1);
    const rpo = dpoLoss([pair], 0.1, 0.5);
    expect(rpo.loss).toBeCloseTo(plain.loss + (0.5 * 12.3) / 4, 10);
    expect(rpo.gradients[0].chosen).toBeCloseTo(plain.gradients[0].chosen - 0.5 / 4, 12);
    expect(rpo.gradients[0].rejected).toBe(plain.gradients[0].rejected);
    const value = (ps: (PairLogProbs & { chosenTokens: number })[]) => dpoLoss(ps, 0.1, 0.5).loss;
    expect(rpo.gradients[0].chosen).toBeCloseTo(numericGradient(value, [pair], 0, 'policyChosen'), 8);
  });
});

describe('future-reward regression loss', () => {
  it('matches hand computations: with η = 1, Δlog-ratio 0.5 and Δreward 1 give 0.25', () => {
    const r = futureRewardLoss([{ policyChosen: 0.5, policyRejected: 0, referenceChosen: 0, referenceRejected: 0, chosenReward: 1, rejectedReward: 0 }], 1);
    expect(r.loss).toBeCloseTo(0.25, 12);
    // d/dπ_c = 2·(0.5 − 1)/η = −1
    expect(r.gradients[0]).toEqual({ chosen: -1, rejected: 1 });
  });

  it('equals the reference code form divided by η² (η = 1/(2β))', () => {
    const beta = 0.01;
    const eta = 1 / (2 * beta);
    const code =
      pairs.reduce((s, p) => {
        const logits = p.policyChosen - p.referenceChosen - (p.policyRejected - p.referenceRejected);
        return s + (logits - (p.chosenReward - p.rejectedReward) / (2 * beta)) ** 2;
      }, 0) / pairs.length;
    expect(futureRewardLoss(pairs, eta).loss).toBeCloseTo(code / eta ** 2, 10);
  });

  it('gradients match finite differences for every pair', () => {
    const value = (ps: RewardedPair[]) => futureRewardLoss(ps, 50).loss;
    const r = futureRewardLoss(pairs, 50);
    pairs.forEach((_, i) => {
      expect(r.gradients[i].chosen).toBeCloseTo(numericGradient(value, pairs, i, 'policyChosen'), 9);
      expect(r.gradients[i].rejected).toBeCloseTo(numericGradient(value, pairs, i, 'policyRejected'), 9);
    });
  });

  it('is zero exactly when the log-ratio gap equals η times the reward gap', () => {
    const r = futureRewardLoss([{ policyChosen: -10 + 100, policyRejected: -10, referenceChosen: -10, referenceRejected: -10, chosenReward: 3, rejectedReward: 1 }], 50);
    expect(r.loss).toBe(0);
  });
});
