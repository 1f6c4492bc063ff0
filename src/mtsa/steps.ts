/**
 * Steps make a long run resumable: each named step either returns its stored result or computes
 * and stores it; each trained policy is either restored from its stored weights or trained and
 * saved. The algorithm only names its steps; a store decides where results live (memory in tests,
 * the run directory in `mtsa run`). Records a step produces travel in its result.
 */
import type { TrainablePolicy } from '../core/models.js';
import type { Trajectory } from '../core/trajectory.js';
import type { PairRecord } from '../data/schemas.js';

export interface MetricRecord {
  step: string;
  values: Record<string, number>;
}

export interface StepOutput {
  trajectories?: Trajectory[];
  pairs?: PairRecord[];
  metrics?: MetricRecord[];
}

export interface StepStore {
  step<T extends StepOutput>(key: string, compute: () => Promise<T>): Promise<T>;
  /** `train` runs only when no weights are stored under key; they are saved right after */
  weights<T extends StepOutput>(key: string, policy: TrainablePolicy, train: () => Promise<T>): Promise<T>;
}

/** Keeps everything in memory (tests, one-off runs). */
export class MemoryStepStore implements StepStore {
  readonly results = new Map<string, StepOutput>();
  readonly log: string[] = [];

  async step<T extends StepOutput>(key: string, compute: () => Promise<T>): Promise<T> {
    if (this.results.has(key)) return this.results.get(key) as T;
    const value = await compute();
    this.results.set(key, value);
    this.log.push(key);
    return value;
  }

  async weights<T extends StepOutput>(key: string, _policy: TrainablePolicy, train: () => Promise<T>): Promise<T> {
    return this.step(key, train);
  }
}
