/**
 * Evaluation cells in worker threads: the R×T attack cells, the out-of-domain cells and the
 * capability replies are independent, and on a two-core machine two of them side by side take
 * about half the time of one after the other (a second kernel thread inside each gains less).
 *
 * A job may also be started early (`prestart`), as soon as the checkpoints it reads are saved:
 * `mtsa run` starts R0×T0 while the iterations train R1, so the core the single-threaded
 * iterations leave idle runs evaluation cells. Prestarted jobs all go to the first worker, which
 * runs them one after the other (the main thread keeps its core); once evaluate() asks for its
 * first job, the rest go to whichever worker is free, the first one after its queue. A job's output does not depend on when or where it ran (the same runEvaluationJob on
 * the same saved checkpoints; the kernels' results never depend on threads), so the stored bytes are the same.
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

export function parallelEvaluation(workers: number, init: EvaluationWorkerInit): ParallelEvaluation {
  let pool: WorkerPool<EvaluationJob, EvaluationJobOutput> | null = null;
  // Workers start with the first job: a resumed run whose evaluation is stored starts none.
  const workerPool = () => (pool ??= new WorkerPool<EvaluationJob, EvaluationJobOutput>(new URL('./evaluation-worker.js', import.meta.url), workers, init));
  const started = new Map<string, Promise<EvaluationJobOutput>>();
  let foreground = false;
  const counts = { early: 0, total: 0 };
  const keep = (key: string, result: Promise<EvaluationJobOutput>) => {
    counts.total++;
    result.catch(() => {}); // a failure surfaces when evaluate() asks for the job
    started.set(key, result);
    return result;
  };
  return {
    prestart(job) {
      const key = JSON.stringify(job);
      if (foreground || started.has(key)) return;
      counts.early++;
      // Straight to the first worker's own queue: the main thread, busy with the iterations, may
      // not read a reply (and hand out the next job) until they end.
      keep(key, workerPool().runOn(0, job));
    },
    run(job) {
      foreground = true;
      const key = JSON.stringify(job);
      return started.get(key) ?? keep(key, workerPool().run(job));
    },
    counts: () => ({ ...counts }),
    close: async () => {
      await pool?.close();
    },
  };
}
