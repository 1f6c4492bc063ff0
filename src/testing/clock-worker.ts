/**
 * A worker for the worker-pool tests: each job keeps the thread busy for `ms` milliseconds and
 * answers the wall-clock time it finished at.
 */
import { serveJobs } from '../core/worker-pool.js';

serveJobs<null, { ms: number }, number>((job) => {
  const until = Date.now() + job.ms;
  while (Date.now() < until);
  return Date.now();
});
