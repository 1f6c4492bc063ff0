/**
 * `mtsa run --trainer torch [--device cuda] [--dtype bf16]`: sets the trainer of both trained
 * policies (attacker and target); the config's `trainer` block sets them one by one.
 */
import { Option, type Command } from 'commander';
import { parseRunConfig, type RunConfig } from '../config/run-config.js';

export function addTrainerOptions(command: Command): Command {
  return command
    .addOption(new Option('--trainer <kind>', 'trainer of the attacker and the target (default: the config, else engine)').choices(['engine', 'torch']))
    .option('--device <device>', 'torch trainer device: cpu, cuda or cuda:N')
    .addOption(new Option('--dtype <dtype>', 'torch trainer parameter dtype').choices(['fp32', 'bf16']));
}

export function withTrainerOptions(config: RunConfig, options: { trainer?: string; device?: string; dtype?: string }): RunConfig {
  if (!options.trainer && !options.device && !options.dtype) return config;
  const patch = (current: RunConfig['trainer']['attacker']) => ({
    ...current,
    ...(options.trainer ? { kind: options.trainer } : {}),
    ...(options.device ? { device: options.device } : {}),
    ...(options.dtype ? { dtype: options.dtype } : {}),
  });
  return parseRunConfig({ ...config, trainer: { attacker: patch(config.trainer.attacker), target: patch(config.trainer.target) } }, 'command line (--trainer/--device/--dtype)');
}
