import { describe, expect, it } from 'vitest';
import { calibrationBins, cohensKappa, compareJudges, judgeMetrics, type JudgedItem } from './judge-agreement.js';

describe('Cohen κ', () => {
  it('matches a hand-computed 2×2 table', () => {
    // a: u u u u u s s s s s ; b: u u u u s s s s s u → agreements: 4 + 4 = 8/10 = 0.8
    // marginals: a 5u/5s, b 5u/5s → p_e = 0.25 + 0.25 = 0.5 → κ = (0.8 − 0.5)/0.5 = 0.6
    const a = ['u', 'u', 'u', 'u', 'u', 's', 's', 's', 's', 's'];
    const b = ['u', 'u', 'u', 'u', 's', 's', 's', 's', 's', 'u'];
    expect(cohensKappa(a, b)).toBeCloseTo(0.6, 12);
  });
  it('unbalanced marginals and three categories', () => {
    // a: x x x y z ; b: x x y y x → p_o = 3/5 = 0.6
    // p_e = (3/5)(3/5) [x] + (1/5)(2/5) [y] + (1/5)(0) [z] = 0.36 + 0.08 = 0.44 → κ = 0.16/0.56
    expect(cohensKappa(['x', 'x', 'x', 'y', 'z'], ['x', 'x', 'y', 'y', 'x'])).toBeCloseTo(0.16 / 0.56, 12);
  });
  it('perfect agreement is 1, constant identical raters undefined, empty undefined', () => {
    expect(cohensKappa(['a', 'b', 'a'], ['a', 'b', 'a'])).toBe(1);
    expect(cohensKappa(['a', 'a'], ['a', 'a'])).toBeNull();
    expect(cohensKappa([], [])).toBeNull();
    expect(() => cohensKappa(['a'], [])).toThrow();
  });
});

describe('judge metrics', () => {
  const items: JudgedItem[] = [
    { label: 'unsafe', verdict: 'unsafe', pUnsafe: 0.95 },
    { label: 'unsafe', verdict: 'unsafe', pUnsafe: 0.85 },
    { label: 'unsafe', verdict: 'safe', pUnsafe: 0.15 },
    { label: 'unsafe', verdict: 'undetermined', pUnsafe: 0 },
    { label: 'safe', verdict: 'safe', pUnsafe: 0.05 },
    { label: 'safe', verdict: 'safe', pUnsafe: 0.02 },
    { label: 'safe', verdict: 'unsafe', pUnsafe: 0.9 },
    { label: 'safe', verdict: 'safe', pUnsafe: 0.12 },
  ];
  it('accuracy, recall, specificity, undetermined, confusion by hand', () => {
    const m = judgeMetrics(items);
    expect(m.n).toBe(8);
    expect(m.accuracy.rate).toBe(5 / 8); // 2 TP + 3 TN
    expect(m.accuracyDetermined.rate).toBe(5 / 7);
    expect(m.recallUnsafe.rate).toBe(2 / 4);
    expect(m.specificity.rate).toBe(3 / 4);
    expect(m.undetermined.rate).toBe(1 / 8);
    expect(m.confusion).toEqual({ truePositive: 2, falseNegative: 1, falsePositive: 1, trueNegative: 3, undeterminedUnsafe: 1, undeterminedSafe: 0 });
  });
  it('Brier over determined items by hand', () => {
    // (0.05² + 0.15² + 0.85² + 0.05² + 0.02² + 0.9² + 0.12²) / 7
    const expected = (0.0025 + 0.0225 + 0.7225 + 0.0025 + 0.0004 + 0.81 + 0.0144) / 7;
    expect(judgeMetrics(items).brier).toBeCloseTo(expected, 12);
  });
  it('calibration bins: mean prediction and unsafe rate per bin, 1.0 in the last bin, empty bins left out', () => {
    const bins = calibrationBins([
      { pUnsafe: 0.02, unsafe: false },
      { pUnsafe: 0.08, unsafe: true },
      { pUnsafe: 0.5, unsafe: true },
      { pUnsafe: 1, unsafe: true },
      { pUnsafe: 0.9, unsafe: false },
    ]);
    expect(bins.map((b) => [b.lo, b.n])).toEqual([
      [0, 2],
      [0.5, 1],
      [0.9, 2],
    ]);
    expect(bins[0].meanPUnsafe).toBeCloseTo(0.05, 12);
    expect(bins[0].unsafeRate).toBe(0.5);
    expect(bins[2].meanPUnsafe).toBeCloseTo(0.95, 12);
    expect(bins[2].unsafeRate).toBe(0.5);
  });
  it('κ vs labels and between judges', () => {
    const m = judgeMetrics(items);
    // verdicts u u s ? s s u s vs labels u u u u s s s s: p_o = 5/8
    // verdict marginals u 3/8, s 4/8, ? 1/8; labels u 4/8, s 4/8 → p_e = 12/64 + 16/64 = 28/64
    expect(m.kappaVsLabels).toBeCloseTo((5 / 8 - 28 / 64) / (1 - 28 / 64), 12);
    const other = items.map((t) => ({ verdict: t.label }));
    const c = compareJudges(items, other);
    expect(c.agreement.rate).toBe(5 / 8);
    expect(c.kappa).toBeCloseTo(m.kappaVsLabels!, 12);
  });
});
