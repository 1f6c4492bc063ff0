/**
 * A step store that keeps everything in memory: tests and one-off runs with nothing to resume.
 */
import type { TrainablePolicy } from '../core/models.js';
import type { StepOutput, StepStore } from '../core/steps.js';

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
