/**
 * `mtsa export gguf|ollama`: a trained checkpoint leaves as a file llama.cpp, Ollama or LM Studio
 * load (docs/gguf.md).
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { exportGguf, type GgufOutputType } from '../export/gguf.js';
import { exportOllama } from '../export/ollama.js';

const TYPES = ['f32', 'f16', 'q8_0'] as const;

function summary(path: string, tensorTypes: Record<string, string>): string {
  const counts = new Map<string, number>();
  for (const type of Object.values(tensorTypes)) counts.set(type, (counts.get(type) ?? 0) + 1);
  const mib = statSync(path).size / 2 ** 20;
  return `${path}: ${mib.toFixed(1)} MiB, tensors ${[...counts].map(([t, n]) => `${n} ${t}`).join(', ')}`;
}

export function registerExportCommands(program: Command): void {
  const exportCommand = program.command('export').description('write a checkpoint in formats other runtimes load');
  const typeOption = () => new Option('--type <type>', 'tensor type of the weight matrices').choices(TYPES).default('f16');
  exportCommand
    .command('gguf')
    .description('a GGUF file for llama.cpp (llama architecture, byte-level BPE tokenizer, chat template)')
    .argument('<checkpoint-dir>', 'checkpoint directory (config.json, model.safetensors, tokenizer.json)')
    .requiredOption('--out <file>', 'the .gguf file to write')
    .addOption(typeOption())
    .option('--name <name>', 'general.name in the file')
    .action((checkpointDir: string, options: { out: string; type: GgufOutputType; name?: string }) => {
      const out = resolve(options.out);
      const result = exportGguf(resolve(checkpointDir), out, { type: options.type, name: options.name });
      process.stdout.write(`${summary(out, result.tensorTypes)}\n`);
    });
  exportCommand
    .command('ollama')
    .description('a directory with model.gguf and a Modelfile for `ollama create NAME -f DIR/Modelfile`')
    .argument('<checkpoint-dir>', 'checkpoint directory')
    .requiredOption('--out <dir>', 'the directory to write')
    .addOption(typeOption())
    .option('--name <name>', 'general.name in the file')
    .action((checkpointDir: string, options: { out: string; type: GgufOutputType; name?: string }) => {
      const out = resolve(options.out);
      const result = exportOllama(resolve(checkpointDir), out, { type: options.type, name: options.name });
      process.stdout.write(`${summary(join(out, 'model.gguf'), result.tensorTypes)}\n${join(out, 'Modelfile')}: then run  ollama create NAME -f ${join(out, 'Modelfile')}\n`);
    });
}
