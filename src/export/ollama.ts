/**
 * An Ollama model directory from one of our checkpoints: `model.gguf` plus a `Modelfile` whose
 * TEMPLATE renders our chat format in Ollama's Go-template syntax, with the end-of-turn and role
 * tokens as stop sequences, so `ollama create NAME -f DIR/Modelfile` builds a runnable model.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint } from '../engine/checkpoint/hf-checkpoint.js';
import { MTSA_CHAT_TEMPLATE_OLLAMA } from '../models/chat-template-jinja.js';
import { checkpointToGguf, type GgufExportOptions, type GgufExportResult } from './gguf.js';

export interface ModelfileOptions {
  /** the GGUF path as the Modelfile names it (relative to the Modelfile) */
  from: string;
  contextLength: number;
}

/**
 * Sampling parameters are those our engine uses when asked for plain temperature sampling
 * (temperature 1, no top-k, no top-p), not Ollama's defaults (0.8 / 40 / 0.9); callers still set
 * their own per request.
 */
export function ollamaModelfile(options: ModelfileOptions): string {
  if (MTSA_CHAT_TEMPLATE_OLLAMA.includes('"""')) throw new Error('the Ollama template must not contain """');
  return [
    '# Written by `mtsa export ollama`. Build with: ollama create NAME -f Modelfile',
    `FROM ${options.from}`,
    `TEMPLATE """${MTSA_CHAT_TEMPLATE_OLLAMA}"""`,
    'PARAMETER stop "<|end|>"',
    'PARAMETER stop "<|user|>"',
    'PARAMETER stop "<|assistant|>"',
    'PARAMETER stop "<|system|>"',
    `PARAMETER num_ctx ${options.contextLength}`,
    'PARAMETER temperature 1',
    'PARAMETER top_k 0',
    'PARAMETER top_p 1',
    '',
  ].join('\n');
}

/** Writes DIR/model.gguf and DIR/Modelfile. */
export function exportOllama(checkpointDir: string, outDir: string, options: GgufExportOptions): GgufExportResult & { modelfile: string } {
  const checkpoint = loadCheckpoint(checkpointDir);
  const result = checkpointToGguf(checkpoint, options);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'model.gguf'), result.bytes);
  const modelfile = ollamaModelfile({ from: './model.gguf', contextLength: checkpoint.model.config.maxPositions });
  writeFileSync(join(outDir, 'Modelfile'), modelfile);
  return { ...result, modelfile };
}
