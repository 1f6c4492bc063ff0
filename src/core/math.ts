/**
 * Scalar functions shared by the engine's ops and the pure losses.
 */

export function sigmoidValue(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** log σ(x), stable for large |x|: min(x, 0) − log1p(exp(−|x|)). */
export function logSigmoidValue(x: number): number {
  return Math.min(x, 0) - Math.log1p(Math.exp(-Math.abs(x)));
}
