/**
 * The run directory and its step store. A step's result is written atomically to
 * steps/<key>.json before its records are appended to trajectories.jsonl / pairs.jsonl /
 * metrics.jsonl; trained weights are saved (atomically) before their step is marked done. On
 * resume the JSONL files are rebuilt from the completed steps, so a kill at any moment loses no
 * completed work and duplicates no record.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic-write.js';
import { ConfigError } from '../core/errors.js';
import type { TrainablePolicy } from '../core/models.js';
import { TrajectorySchema } from '../core/trajectory.js';
import { MetricRecordSchema, PairRecordSchema } from '../data/schemas.js';
import type { StepOutput, StepStore } from '../core/steps.js';
import { appendRecords } from './jsonl.js';

export const RUN_FILES = {
  config: 'config.resolved.json',
  trajectories: 'trajectories.jsonl',
  pairs: 'pairs.jsonl',
  metrics: 'metrics.jsonl',
  summary: 'summary.json',
  report: 'report.html',
  steps: 'steps',
  checkpoints: 'checkpoints',
} as const;

interface StoredStep {
  key: string;
  /** completion order, used to rebuild the JSONL files in order */
  index: number;
  output: StepOutput & Record<string, unknown>;
}

function fileName(key: string): string {
  return key.replace(/[^A-Za-z0-9._-]+/g, '__');
}

export class FileStepStore implements StepStore {
  private next = 0;

  constructor(readonly dir: string) {
    mkdirSync(join(dir, RUN_FILES.steps), { recursive: true });
    this.rebuildRecords();
  }

  private stepPath(key: string): string {
    return join(this.dir, RUN_FILES.steps, `${fileName(key)}.json`);
  }

  weightsPath(key: string): string {
    return join(this.dir, RUN_FILES.steps, `${fileName(key)}.weights`);
  }

  private completed(): StoredStep[] {
    const steps: StoredStep[] = [];
    for (const name of readdirSync(join(this.dir, RUN_FILES.steps))) {
      if (!name.endsWith('.json')) continue;
      const path = join(this.dir, RUN_FILES.steps, name);
      try {
        steps.push(JSON.parse(readFileSync(path, 'utf8')) as StoredStep);
      } catch (error) {
        throw new ConfigError(`${path}: unreadable step record (${(error as Error).message}); delete it to recompute that step`);
      }
    }
    return steps.sort((a, b) => a.index - b.index);
  }

  /** Rewrites the JSONL files from the completed steps (drops anything a crash left half-done). */
  private rebuildRecords(): void {
    const steps = this.completed();
    this.next = steps.length ? steps[steps.length - 1].index + 1 : 0;
    const write = (file: string, lines: unknown[]) => writeFileAtomic(join(this.dir, file), lines.map((l) => JSON.stringify(l)).join('\n') + (lines.length ? '\n' : ''));
    // Through the same schemas as appends, so a rebuilt file is byte-identical to an appended one.
    const outputs = steps.map((s) => this.normalize(s.output));
    write(RUN_FILES.trajectories, outputs.flatMap((o) => o.trajectories ?? []));
    write(RUN_FILES.pairs, outputs.flatMap((o) => o.pairs ?? []));
    write(RUN_FILES.metrics, outputs.flatMap((o) => o.metrics ?? []));
  }

  /** steps already completed in this directory */
  completedSteps(): number {
    return this.next;
  }

  has(key: string): boolean {
    return existsSync(this.stepPath(key));
  }

  private read<T>(key: string): T {
    const stored = JSON.parse(readFileSync(this.stepPath(key), 'utf8')) as StoredStep;
    return stored.output as T;
  }

  /**
   * Records pass through their schemas once, here, so that the step file, the JSONL lines and what
   * a resumed run reads back are the same bytes (zod orders keys as the schema declares them).
   */
  private normalize<T extends StepOutput>(output: T): T {
    const normalized = { ...output };
    if (output.trajectories) normalized.trajectories = output.trajectories.map((r) => TrajectorySchema.parse(r));
    if (output.pairs) normalized.pairs = output.pairs.map((r) => PairRecordSchema.parse(r));
    if (output.metrics) normalized.metrics = output.metrics.map((r) => MetricRecordSchema.parse(r));
    return normalized;
  }

  private commit(key: string, output: StepOutput): void {
    const stored: StoredStep = { key, index: this.next++, output: output as StoredStep['output'] };
    writeFileAtomic(this.stepPath(key), JSON.stringify(stored));
    appendRecords(join(this.dir, RUN_FILES.trajectories), TrajectorySchema, output.trajectories ?? []);
    appendRecords(join(this.dir, RUN_FILES.pairs), PairRecordSchema, output.pairs ?? []);
    appendRecords(join(this.dir, RUN_FILES.metrics), MetricRecordSchema, output.metrics ?? []);
  }

  async step<T extends StepOutput>(key: string, compute: () => Promise<T>): Promise<T> {
    if (this.has(key)) return this.read<T>(key);
    const output = this.normalize(await compute());
    this.commit(key, output);
    return output;
  }

  async weights<T extends StepOutput>(key: string, policy: TrainablePolicy, train: () => Promise<T>): Promise<T> {
    if (this.has(key)) {
      await policy.restore(this.weightsPath(key));
      return this.read<T>(key);
    }
    const output = this.normalize(await train());
    await policy.save(this.weightsPath(key), { step: key });
    this.commit(key, output);
    return output;
  }
}
