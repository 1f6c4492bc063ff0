/**
 * Evaluation cells in worker threads: the R×T attack cells, the out-of-domain cells and the
 * capability replies are independent, and on a two-core machine two of them side by side take
 * about half the time of one after the other (OpenBLAS's own threads gain little at these sizes).
 */
import { WorkerPool } from '../core/worker-pool.js';
import type { EvaluationJob, EvaluationJobOutput, EvaluationRunner } from '../eval/evaluate.js';
import type { EvaluationWorkerInit } from './evaluation-worker.js';

export interface ParallelEvaluation extends EvaluationRunner {
  close(): Promise<void>;
}

export function parallelEvaluation(workers: number, init: EvaluationWorkerInit): ParallelEvaluation {
  let pool: WorkerPool<EvaluationJob, EvaluationJobOutput> | null = null;
  return {
    // Workers start with the first job: a resumed run whose evaluation is stored starts none.
    run: (job) => (pool ??= new WorkerPool<EvaluationJob, EvaluationJobOutput>(new URL('./evaluation-worker.js', import.meta.url), workers, init)).run(job),
    close: async () => {
      await pool?.close();
    },
  };
}
