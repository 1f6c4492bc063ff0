/**
 * The trained policies of a run (attacker, target) with the trainer the config names for each:
 * the engine in-process, or the PyTorch worker. Both load the same HF-layout checkpoints and save
 * checkpoints the other loads, so evaluation and resuming do not depend on the trainer.
 */
import { availableParallelism } from 'node:os';
import type { TrainablePolicy } from '../core/models.js';
import { loadPolicy } from '../arena/agents.js';
import type { TrainerConfig } from '../config/run-config.js';
import { TorchPolicy } from '../models/torch/torch-policy.js';
import { ensureProjectPython } from '../models/torch/worker-process.js';

export type RunPolicy = TrainablePolicy & { close?: () => Promise<void> };

export async function openRunPolicy(dir: string, id: string, seed: number, trainer: TrainerConfig, log: (line: string) => void = () => {}): Promise<RunPolicy> {
  if (trainer.kind === 'engine') return loadPolicy(dir, id, seed);
  const python = ensureProjectPython(log);
  // Two CPU workers (attacker, target) share the machine with the engine's judges: PyTorch's default
  // of one thread per core oversubscribes it (8× slower measured on a loaded 2-core machine).
  const threads = trainer.threads || (trainer.device === 'cpu' ? Math.max(1, Math.floor(availableParallelism() / 2)) : 0);
  const policy = await TorchPolicy.open(dir, {
    id,
    seed,
    python,
    device: trainer.device,
    dtype: trainer.dtype,
    lora: trainer.lora,
    gradientCheckpointing: trainer.gradientCheckpointing,
    microBatchTokens: trainer.microBatchTokens,
    threads,
    processes: trainer.processes,
  });
  log(`${id}: PyTorch worker on ${policy.info.device} (${policy.info.dtype}, ${policy.info.trainable.toLocaleString('en')} of ${policy.info.parameters.toLocaleString('en')} parameters trained)`);
  return policy;
}
