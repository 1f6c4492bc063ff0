/**
 * Small statistics used by rewards and evaluation: z-scores, Wilson intervals, means.
 */

export function mean(values: readonly number[]): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

/** Population standard deviation (numpy's default, as the reference code uses). */
export function populationStd(values: readonly number[]): number {
  const m = mean(values);
  return Math.sqrt(mean(values.map((v) => (v - m) * (v - m))));
}

/** z(x)ⱼ = (xⱼ − μ) / (σ + 1e-6) over the group (docs/method.md §5.1). */
export function zScores(values: readonly number[]): number[] {
  const m = mean(values);
  const s = populationStd(values);
  return values.map((v) => (v - m) / (s + 1e-6));
}

export interface Rate {
  /** successes / n, or null when n = 0 */
  rate: number | null;
  successes: number;
  n: number;
  /** Wilson score 95% interval */
  low: number | null;
  high: number | null;
}

/** Wilson score interval for a binomial proportion (z = 1.96 for 95%). */
export function wilson(successes: number, n: number, z = 1.959963984540054): Rate {
  if (n === 0) return { rate: null, successes, n, low: null, high: null };
  const p = successes / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
  return { rate: p, successes, n, low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

export function rateOf(flags: readonly boolean[]): Rate {
  return wilson(flags.filter(Boolean).length, flags.length);
}
