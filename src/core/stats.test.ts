import { describe, expect, it } from 'vitest';
import { populationStd, wilson, zScores } from './stats.js';

describe('statistics', () => {
  it('z-scores use the population standard deviation plus 1e-6 (the reference code)', () => {
    // values 1, 2, 3, 6: mean 3, population std sqrt((4 + 1 + 0 + 9) / 4) = sqrt(3.5)
    const s = Math.sqrt(3.5);
    expect(populationStd([1, 2, 3, 6])).toBeCloseTo(s, 12);
    expect(zScores([1, 2, 3, 6])).toEqual([-2, -1, 0, 3].map((d) => d / (s + 1e-6)));
    expect(zScores([5, 5, 5])).toEqual([0, 0, 0]);
  });

  it('Wilson interval matches hand-computed values', () => {
    // 8 of 10: centre (0.8 + 1.92/10)/(1 + 3.8415/10) = 0.7167, half = 1.96·sqrt(0.016 + 0.0096)/1.384
    const r = wilson(8, 10);
    expect(r.rate).toBe(0.8);
    expect(r.low!).toBeCloseTo(0.4902, 4);
    expect(r.high!).toBeCloseTo(0.9433, 4);
    expect(wilson(0, 20).low).toBe(0);
    expect(wilson(0, 0)).toEqual({ rate: null, successes: 0, n: 0, low: null, high: null });
  });
});

import { acrossSeeds, clusteredRate, rateOf, studentT975, type ClusteredObservation } from './stats.js';
import { Rng } from './rng.js';

/**
 * A fake evaluation suite with known cluster structure: k objectives, m dialogues each; an
 * objective is "easy" (success probability high) with probability share, else "hard" (low).
 * The estimand is the expected rate of a fresh objective, share·high + (1 − share)·low, and the
 * intra-objective correlation is share(1 − share)(high − low)² / (μ(1 − μ)).
 */
function fakeSuite(rng: Rng, k: number, sizes: () => number, share: number, high: number, low: number): ClusteredObservation[] {
  const out: ClusteredObservation[] = [];
  for (let c = 0; c < k; c++) {
    const p = rng.next() < share ? high : low;
    const m = sizes();
    for (let j = 0; j < m; j++) out.push({ cluster: `objective-${c}`, success: rng.next() < p, dialogue: `objective-${c}|${j}` });
  }
  return out;
}

function coverage(suites: number, seed: number, make: (rng: Rng) => ClusteredObservation[], truth: number) {
  const rng = new Rng(seed);
  let clustered = 0;
  let naive = 0;
  for (let s = 0; s < suites; s++) {
    const r = clusteredRate(make(rng));
    if (r.low! <= truth && truth <= r.high!) clustered++;
    if (r.naiveLow! <= truth && truth <= r.naiveHigh!) naive++;
  }
  return { clustered: clustered / suites, naive: naive / suites };
}

describe('intervals clustered by objective', () => {
  it('hand-computed design effect: two objectives of two dialogues, perfectly correlated', () => {
    // y = (2, 0), m = (2, 2): p = 0.5, V = 2/1 · (1 + 1) / 16 = 0.25, naive p(1−p)/n = 0.0625 → deff 4 → capped at n = 4
    const r = clusteredRate([
      { cluster: 'a', success: true },
      { cluster: 'a', success: true },
      { cluster: 'b', success: false },
      { cluster: 'b', success: false },
    ]);
    expect(r.rate).toBe(0.5);
    expect(r.designEffect).toBe(4);
    expect(r.nObjectives).toBe(2);
    expect(r.nDialogues).toBe(4);
    // Wilson on n_eff = 1 is wider than Wilson on 4
    expect(r.high! - r.low!).toBeGreaterThan(r.naiveHigh! - r.naiveLow!);
    // independent-looking data: y = (1, 1, 1, 1) of m = 2 each → every cluster at p, deff floored at 1 = Wilson
    const flat = clusteredRate(['a', 'a', 'b', 'b', 'c', 'c', 'd', 'd'].map((cluster, i) => ({ cluster, success: i % 2 === 0 })));
    expect(flat.designEffect).toBe(1);
    expect(flat.low).toBeCloseTo(rateOf([true, false, true, false, true, false, true, false]).low!, 12);
  });

  it('at 0% the interval assumes all-or-nothing objectives (deff = Σm²/n) instead of collapsing', () => {
    const r = clusteredRate(Array.from({ length: 20 }, (_, i) => ({ cluster: `o${i >> 1}`, success: false })));
    expect(r.designEffect).toBe(2);
    expect(r.low).toBe(0);
    // Wilson upper bound on n_eff = 10 (not 20): z²/(n + z²)
    const z2 = 1.959963984540054 ** 2;
    expect(r.high).toBeCloseTo(z2 / (10 + z2), 10);
    expect(clusteredRate([]).rate).toBeNull();
  });

  it('coverage by simulation: ≥ 0.90 of 400 suites (k = 54, m = 2, ICC ≈ 0.65) where Wilson on dialogues under-covers', () => {
    const truth = 0.5 * 0.95 + 0.5 * 0.15;
    const c = coverage(400, 12, (rng) => fakeSuite(rng, 54, () => 2, 0.5, 0.95, 0.15), truth);
    expect(c.clustered).toBeGreaterThanOrEqual(0.9);
    expect(c.naive).toBeLessThan(0.9);
    expect(c.clustered - c.naive).toBeGreaterThan(0.04);
  });

  it('coverage with unequal clusters (1–5 turns per dialogue, ICC ≈ 0.5) and with small k = 20', () => {
    const truth = 0.3 * 0.9 + 0.7 * 0.1;
    const unequal = coverage(400, 13, (rng) => fakeSuite(rng, 54, () => 1 + rng.int(5), 0.3, 0.9, 0.1), truth);
    expect(unequal.clustered).toBeGreaterThanOrEqual(0.9);
    expect(unequal.naive).toBeLessThan(unequal.clustered);
    const small = coverage(400, 14, (rng) => fakeSuite(rng, 20, () => 2, 0.5, 0.95, 0.15), 0.55);
    expect(small.clustered).toBeGreaterThanOrEqual(0.88);
  });

  it('with no cluster structure (ICC = 0) it keeps ~95% and is no wider than needed', () => {
    const c = coverage(400, 15, (rng) => fakeSuite(rng, 54, () => 2, 1, 0.4, 0.4), 0.4);
    expect(c.clustered).toBeGreaterThanOrEqual(0.92);
    expect(c.clustered).toBeLessThanOrEqual(0.99);
  });

  it('across seeds: mean with a Student-t interval (K − 1 df)', () => {
    const s = acrossSeeds([0.2, 0.4, 0.3]);
    expect(s.mean).toBeCloseTo(0.3, 12);
    expect(s.sd).toBeCloseTo(0.1, 12);
    expect(s.high! - s.mean!).toBeCloseTo((4.303 * 0.1) / Math.sqrt(3), 12);
    expect(acrossSeeds([0.5]).low).toBeNull();
    expect(acrossSeeds([null, 0.5, 0.7]).seeds).toBe(2);
    expect(studentT975(2)).toBe(4.303);
    expect(() => studentT975(0)).toThrow(/degrees of freedom/);
  });
});
