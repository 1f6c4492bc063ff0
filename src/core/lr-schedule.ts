/**
 * Learning-rate schedule: linear warm-up, then cosine decay to minRatio·peak (TRL/HF "cosine").
 */
export interface LrSchedule {
  peak: number;
  totalSteps: number;
  /** fraction of totalSteps spent warming up (HF warmup_ratio) */
  warmupRatio: number;
  /** final lr as a fraction of the peak */
  minRatio?: number;
}

/** Learning rate for 0-based `step`. */
export function learningRate(schedule: LrSchedule, step: number): number {
  const { peak, totalSteps, warmupRatio, minRatio = 0 } = schedule;
  const warmup = Math.ceil(totalSteps * warmupRatio);
  if (step < warmup) return (peak * (step + 1)) / warmup;
  const progress = Math.min(1, (step - warmup) / Math.max(1, totalSteps - warmup));
  return peak * (minRatio + (1 - minRatio) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}
