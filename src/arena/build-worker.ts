/**
 * A worker thread of the parallel arena build (`buildArenaInWorkers`): trains the arena models it
 * is sent, with the same `trainArenaModel` as the single-threaded build.
 */
import { serveJobs } from '../core/worker-pool.js';
import { useKernels, type KernelName } from '../engine/kernels/index.js';
import { trainArenaModel, type ArenaModelJob, type BuildEvent } from './build.js';

serveJobs<null, { kernels: KernelName; job: ArenaModelJob }, null, BuildEvent>((message, _init, post) => {
  useKernels(message.kernels);
  trainArenaModel(message.job, post);
  return null;
});
