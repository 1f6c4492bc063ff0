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
import { z } from 'zod';
import { ConfigError, MtsaError, NumericalError } from '../core/errors.js';
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

/** A step file: its key, its completion order (used to rebuild the JSONL files in order) and its output. */
const StoredStepSchema = z
  .object({
    key: z.string(),
    index: z.number().int().nonnegative(),
    output: z.looseObject({ trajectories: z.array(z.unknown()).optional(), pairs: z.array(z.unknown()).optional(), metrics: z.array(z.unknown()).optional() }),
  })
  .strict();

interface StoredStep {
  key: string;
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

  /** Reads a step file through its schema; a bad one names the file and how to recompute the step. */
  private load(path: string): StoredStep {
    const remedy = `delete it${existsSync(path.replace(/\.json$/, '.weights')) ? ` and ${path.replace(/\.json$/, '.weights')}` : ''} to recompute that step, then --resume`;
    let value: unknown;
    try {
      value = JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      throw new ConfigError(`${path}: unreadable step record (${(error as Error).message}); ${remedy}`, { cause: error });
    }
    const parsed = StoredStepSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ConfigError(`${path}: not a step record (field "${issue.path.join('.') || '(root)'}": ${issue.message}); ${remedy}`);
    }
    return parsed.data as StoredStep;
  }

  private completed(): StoredStep[] {
    const steps: StoredStep[] = [];
    for (const name of readdirSync(join(this.dir, RUN_FILES.steps))) {
      if (!name.endsWith('.json')) continue;
      steps.push(this.load(join(this.dir, RUN_FILES.steps, name)));
    }
    steps.sort((a, b) => a.index - b.index);
    for (let i = 1; i < steps.length; i++) {
      if (steps[i].index === steps[i - 1].index)
        throw new ConfigError(
          `${join(this.dir, RUN_FILES.steps)}: steps "${steps[i - 1].key}" and "${steps[i].key}" share index ${steps[i].index} (two processes wrote this run); delete one of them to recompute it, then --resume`,
        );
    }
    return steps;
  }

  /** Rewrites the JSONL files from the completed steps (drops anything a crash left half-done). */
  private rebuildRecords(): void {
    const steps = this.completed();
    this.next = steps.length ? steps[steps.length - 1].index + 1 : 0;
    const write = (file: string, lines: unknown[]) => writeFileAtomic(join(this.dir, file), lines.map((l) => JSON.stringify(l)).join('\n') + (lines.length ? '\n' : ''));
    // Through the same schemas as appends, so a rebuilt file is byte-identical to an appended one.
    const outputs = steps.map((s) => this.normalize(s.output));
    write(
      RUN_FILES.trajectories,
      outputs.flatMap((o) => o.trajectories ?? []),
    );
    write(
      RUN_FILES.pairs,
      outputs.flatMap((o) => o.pairs ?? []),
    );
    write(
      RUN_FILES.metrics,
      outputs.flatMap((o) => o.metrics ?? []),
    );
  }

  /** steps already completed in this directory */
  completedSteps(): number {
    return this.next;
  }

  has(key: string): boolean {
    return existsSync(this.stepPath(key));
  }

  private read<T>(key: string): T {
    return this.load(this.stepPath(key)).output as T;
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
      try {
        await policy.restore(this.weightsPath(key));
      } catch (error) {
        if (!(error instanceof MtsaError)) throw error;
        const Type = error instanceof NumericalError ? NumericalError : ConfigError;
        throw new Type(
          `step "${key}" of model ${policy.id}: its stored weights are unusable: ${error.message}. Delete ${this.stepPath(key)} and ${this.weightsPath(key)} to recompute that step, then --resume`,
          { cause: error },
        );
      }
      return this.read<T>(key);
    }
    let trained: T;
    try {
      trained = await train();
    } catch (error) {
      if (error instanceof NumericalError) throw new NumericalError(`step "${key}": ${error.message}`, { cause: error });
      throw error;
    }
    const output = this.normalize(trained);
    await policy.save(this.weightsPath(key), { step: key });
    this.commit(key, output);
    return output;
  }
}
