/**
 * Steps make a long run resumable: each named step either returns its stored result or computes
 * and stores it; each trained policy is either restored from its stored weights or trained and
 * saved. The algorithm only names its steps; a store decides where results live (memory in tests,
 * the run directory in `mtsa run`). Records a step produces travel in its result.
 */
import type { TrainablePolicy } from './models.js';
import type { Trajectory } from './trajectory.js';

export interface MetricRecord {
  step: string;
  values: Record<string, number>;
}

export interface StepOutput {
  trajectories?: Trajectory[];
  /** preference records (data/schemas.ts PairRecord), validated when stored */
  pairs?: unknown[];
  metrics?: MetricRecord[];
  /** anything else the step returns (selections, replies): stored with it, not in the JSONL files */
  [extra: string]: unknown;
}

export interface StepStore {
  step<T extends StepOutput>(key: string, compute: () => Promise<T>): Promise<T>;
  /** `train` runs only when no weights are stored under key; they are saved right after */
  weights<T extends StepOutput>(key: string, policy: TrainablePolicy, train: () => Promise<T>): Promise<T>;
}
