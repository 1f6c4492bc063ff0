/**
 * Small statistics used by rewards and evaluation: z-scores, Wilson intervals, means, intervals
 * clustered by objective (design-effect Wilson, docs/decisions/0012-clustered-intervals.md) and
 * across-seed intervals (Student t).
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
  /** units counted (dialogues, capability items or judged turns) */
  n: number;
  /** 95% interval: Wilson on n, or (clusteredRate) Wilson on the design-effect-corrected n */
  low: number | null;
  high: number | null;
  /** independent clusters (objectives) behind the n units; present on clustered rates */
  nObjectives?: number;
  /** dialogues behind the n units (= n for dialogue rates); present on clustered rates */
  nDialogues?: number;
  /** variance of the clustered estimate over the variance if all n units were independent (≥ 1) */
  designEffect?: number | null;
  /** the Wilson interval that treats all n units as independent, for comparison */
  naiveLow?: number | null;
  naiveHigh?: number | null;
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

/** One counted unit: a success or not, and the cluster (objective) it belongs to. */
export interface ClusteredObservation {
  cluster: string;
  success: boolean;
  /** the dialogue the unit comes from, when units are turns (defaults to one dialogue per unit) */
  dialogue?: string;
}

/**
 * A rate whose units come in clusters that are not independent (two dialogues per objective, two
 * phrasings per capability objective, turns within dialogues): Wilson's interval on the
 * effective sample size n / deff (Korn & Graubard 1998), where deff is the linearised variance of
 * the ratio estimator over k clusters, k/(k−1) · Σ(yᵢ − p̂·mᵢ)² / n², divided by p̂(1 − p̂)/n.
 * deff is never below 1 (no narrower than independent units); at p̂ = 0 or 1 the clusters show no
 * spread, so the worst case — every cluster all-or-nothing, deff = Σmᵢ²/n — is used. Pure and
 * deterministic: no resampling, the same bytes every time.
 */
export function clusteredRate(observations: readonly ClusteredObservation[], z = 1.959963984540054): Rate {
  const n = observations.length;
  const sizes = new Map<string, { m: number; y: number }>();
  const dialogues = new Set<string>();
  observations.forEach((o, i) => {
    const c = sizes.get(o.cluster) ?? { m: 0, y: 0 };
    c.m++;
    if (o.success) c.y++;
    sizes.set(o.cluster, c);
    dialogues.add(o.dialogue ?? `#${i}`);
  });
  const successes = observations.filter((o) => o.success).length;
  const naive = wilson(successes, n, z);
  const k = sizes.size;
  const base = { nObjectives: k, nDialogues: dialogues.size, naiveLow: naive.low, naiveHigh: naive.high };
  if (n === 0) return { ...naive, ...base, designEffect: null };
  const p = successes / n;
  let deff: number;
  if (p === 0 || p === 1 || k < 2) {
    deff = [...sizes.values()].reduce((a, c) => a + c.m * c.m, 0) / n;
  } else {
    let sum = 0;
    for (const c of sizes.values()) sum += (c.y - p * c.m) ** 2;
    const variance = ((k / (k - 1)) * sum) / (n * n);
    deff = variance / ((p * (1 - p)) / n);
  }
  deff = Math.min(n, Math.max(1, deff));
  const interval = wilsonEffective(p, n / deff, z);
  return { rate: p, successes, n, low: interval.low, high: interval.high, ...base, designEffect: deff };
}

/** Wilson's interval for proportion p on a (possibly fractional) effective sample size. */
function wilsonEffective(p: number, nEff: number, z: number): { low: number; high: number } {
  const z2 = z * z;
  const centre = (p + z2 / (2 * nEff)) / (1 + z2 / nEff);
  const half = (z * Math.sqrt((p * (1 - p)) / nEff + z2 / (4 * nEff * nEff))) / (1 + z2 / nEff);
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

/** Student t 0.975 quantiles for 1..30 degrees of freedom (standard table values). */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045,
  2.042,
];

export function studentT975(df: number): number {
  if (!Number.isInteger(df) || df < 1) throw new Error(`studentT975: degrees of freedom must be a positive integer, got ${df}`);
  return df <= 30 ? T975[df - 1] : 1.959963984540054 + 2.4 / df;
}

export interface SeedSpread {
  mean: number | null;
  /** 95% interval of the mean over seeds (Student t with K − 1 df); null with fewer than 2 seeds */
  low: number | null;
  high: number | null;
  /** sample standard deviation over seeds */
  sd: number | null;
  values: (number | null)[];
  seeds: number;
}

/** Mean of a headline over K seeds with its Student-t 95% interval (seeds are the independent unit). */
export function acrossSeeds(values: readonly (number | null)[]): SeedSpread {
  const xs = values.filter((v): v is number => v !== null && Number.isFinite(v));
  const k = xs.length;
  if (k === 0) return { mean: null, low: null, high: null, sd: null, values: [...values], seeds: 0 };
  const m = mean(xs);
  if (k < 2) return { mean: m, low: null, high: null, sd: null, values: [...values], seeds: 1 };
  const sd = Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (k - 1));
  const half = (studentT975(k - 1) * sd) / Math.sqrt(k);
  return { mean: m, low: m - half, high: m + half, sd, values: [...values], seeds: k };
}
