/**
 * Evaluation cells in worker threads: the R×T attack cells, the out-of-domain cells and the
 * capability replies are independent, and on a two-core machine two of them side by side take
 * about half the time of one after the other (OpenBLAS's own threads gain little at these sizes).
 *
 * A job may also be started early (`prestart`), as soon as the checkpoints it reads are saved:
 * `mtsa run` starts R0×T0 while the iterations train R1, so the core the single-threaded
 * iterations leave idle runs evaluation cells. Prestarted jobs run `background` at a time (one by
 * default: the main thread keeps its core); once evaluate() asks for its first job, the rest start
 * as usual. A job's output does not depend on when or where it ran (the same runEvaluationJob on
 * the same saved checkpoints, one OpenBLAS thread), so the stored bytes are the same.
 */
import { WorkerPool } from '../core/worker-pool.js';
import type { EvaluationJob, EvaluationJobOutput, EvaluationRunner } from '../eval/evaluate.js';
import type { EvaluationWorkerInit } from './evaluation-worker.js';

export interface ParallelEvaluation extends EvaluationRunner {
  /** Queues a job to run before evaluate() asks for it; run(job) then returns its result. */
  prestart(job: EvaluationJob): void;
  /** jobs sent to the workers: all of them, and those sent before evaluate() asked for any */
  counts(): { early: number; total: number };
  close(): Promise<void>;
}

export function parallelEvaluation(workers: number, init: EvaluationWorkerInit, background = 1): ParallelEvaluation {
  let pool: WorkerPool<EvaluationJob, EvaluationJobOutput> | null = null;
  // Workers start with the first job: a resumed run whose evaluation is stored starts none.
  const dispatch = (job: EvaluationJob) => (pool ??= new WorkerPool<EvaluationJob, EvaluationJobOutput>(new URL('./evaluation-worker.js', import.meta.url), workers, init)).run(job);
  const started = new Map<string, Promise<EvaluationJobOutput>>();
  const waiting: { key: string; job: EvaluationJob }[] = [];
  let running = 0;
  let foreground = false;
  const counts = { early: 0, total: 0 };
  const start = (key: string, job: EvaluationJob) => {
    counts.total++;
    if (!foreground) counts.early++;
    const result = dispatch(job);
    result.catch(() => {}); // a failure surfaces when evaluate() asks for the job
    started.set(key, result);
    return result;
  };
  const pump = () => {
    while (!foreground && running < background && waiting.length > 0) {
      const { key, job } = waiting.shift()!;
      running++;
      start(key, job).then(
        () => {
          running--;
          pump();
        },
        () => {
          running--;
          pump();
        },
      );
    }
  };
  return {
    prestart(job) {
      const key = JSON.stringify(job);
      if (foreground || started.has(key) || waiting.some((w) => w.key === key)) return;
      waiting.push({ key, job });
      pump();
    },
    run(job) {
      // From evaluate()'s first request on, every job it needs starts in its order.
      foreground = true;
      const key = JSON.stringify(job);
      const queued = waiting.findIndex((w) => w.key === key);
      if (queued >= 0) waiting.splice(queued, 1);
      return started.get(key) ?? start(key, job);
    },
    counts: () => ({ ...counts }),
    close: async () => {
      await pool?.close();
    },
  };
}
