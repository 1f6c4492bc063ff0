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
