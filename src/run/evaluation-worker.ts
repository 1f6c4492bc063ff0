/**
 * A worker thread of the parallel evaluation (evaluation-runner.ts): loads the red teams, targets
 * and guard from their checkpoints once, then runs the evaluation jobs it is sent with the same
 * `runEvaluationJob` as the main thread, so the trajectories are the same bytes.
 */
import { serveJobs } from '../core/worker-pool.js';
import { loadGuard, loadPolicy } from '../arena/agents.js';
import { arenaSuite } from '../arena/suite.js';
import { buildWorld } from '../arena/world.js';
import { useKernels, type KernelName } from '../engine/kernels/index.js';
import { runEvaluationJob, type EvaluationJob, type EvaluationJobOptions, type EvaluationJobOutput } from '../eval/evaluate.js';
import { attackerAgent } from '../mtsa/pipeline.js';
import type { MtsaConfig } from '../mtsa/config.js';

export interface EvaluationWorkerInit {
  kernels: KernelName;
  seed: number;
  world: { seed: number; testFraction: number };
  mtsa: MtsaConfig;
  /** checkpoint directories of R0..Rn, T0..Tn and the guard */
  checkpoints: { redTeams: string[]; targets: string[]; guard: string };
  options: EvaluationJobOptions;
}

let loaded: { models: Parameters<typeof runEvaluationJob>[1]; suite: ReturnType<typeof arenaSuite> } | null = null;

serveJobs<EvaluationWorkerInit, EvaluationJob, EvaluationJobOutput>(async (job, init) => {
  if (!loaded) {
    useKernels(init.kernels);
    const { checkpoints, seed } = init;
    loaded = {
      models: {
        redTeams: checkpoints.redTeams.map((dir, i) => attackerAgent(loadPolicy(dir, `R${i}`, seed), init.mtsa, `R${i}`)),
        targets: checkpoints.targets.map((dir, i) => loadPolicy(dir, `T${i}`, seed)),
        judge: loadGuard({ checkpoints: { guard: checkpoints.guard } }),
      },
      suite: arenaSuite(buildWorld(init.world), seed),
    };
  }
  return runEvaluationJob(job, loaded.models, loaded.suite, init.options);
});
