/**
 * A worker thread of the parallel evaluation (evaluation-runner.ts): loads the guard once, and each
 * red team and target from its checkpoint when a job first needs it; runs the jobs it is sent
 * with the same `runEvaluationJob` as the main thread, so the trajectories are the same bytes.
 */
import type { AttackerAgent } from '../attacks/attacker.js';
import type { ChatModel, Judge } from '../core/models.js';
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

let loaded: { models: { redTeams: AttackerAgent[]; targets: ChatModel[]; judge: Judge }; suite: ReturnType<typeof arenaSuite> } | null = null;

serveJobs<EvaluationWorkerInit, EvaluationJob, EvaluationJobOutput>(async (job, init) => {
  const { checkpoints, seed } = init;
  if (!loaded) {
    useKernels(init.kernels);
    loaded = {
      models: { redTeams: [], targets: [], judge: loadGuard({ checkpoints: { guard: checkpoints.guard } }) },
      suite: arenaSuite(buildWorld(init.world), seed),
    };
  }
  // Each model is loaded when a job first needs it: a prestarted job runs before later
  // iterations' checkpoints exist.
  const { redTeams, targets } = loaded.models;
  if (job.kind === 'attack') redTeams[job.redTeam] ??= attackerAgent(loadPolicy(checkpoints.redTeams[job.redTeam], `R${job.redTeam}`, seed), init.mtsa, `R${job.redTeam}`);
  targets[job.target] ??= loadPolicy(checkpoints.targets[job.target], `T${job.target}`, seed);
  return runEvaluationJob(job, loaded.models, loaded.suite, init.options);
});
