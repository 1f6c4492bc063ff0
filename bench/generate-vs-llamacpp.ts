/**
 * Benchmark: aggregate sampling throughput of the engine's batched generation against llama.cpp
 * (node-llama-cpp's prebuilt CPU library) on the same arena target weights, exported to an f32
 * GGUF: batch 16, 128 new tokens each (end-of-turn ignored, so both produce 16 × 128 tokens),
 * temperature 1, no top-k/top-p, same prompts, same process. llama.cpp decodes the 16 sequences
 * of one context together, as the engine decodes its batch. llama.cpp's threads: MTSA_LLAMACPP_THREADS
 * (default 1: its worker threads spin while waiting, which on a shared, loaded machine costs far
 * more than it gains; on an idle machine try the core count).
 *
 * The weights: the arena target in MTSA_CACHE when one is there (e.g. a prebuilt cache), else the
 * tiny arena, built into a temporary cache. Prints one JSON line.
 */
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getLlama, LlamaLogLevel, type Token } from 'node-llama-cpp';
import { buildArena } from '../src/arena/build.js';
import { tinyRunConfig } from '../src/config/run-config.js';
import { user } from '../src/core/message.js';
import { Rng } from '../src/core/rng.js';
import { loadCheckpoint } from '../src/engine/checkpoint/hf-checkpoint.js';
import { generate } from '../src/engine/generate.js';
import { kernels, kernelChoice, useKernels } from '../src/engine/kernels/index.js';
import { checkpointToGguf } from '../src/export/gguf.js';
import { ChatTemplate } from '../src/models/chat-template.js';

useKernels(kernelChoice(process.env.MTSA_KERNELS));

const BATCH = 16;
const NEW_TOKENS = 128;

/** The newest arena target checkpoint in `cache`, if any. */
function cachedTarget(cache: string | undefined): string | undefined {
  if (!cache) return undefined;
  const candidates: { dir: string; time: number }[] = [];
  for (const arena of safeList(cache).filter((n) => n.startsWith('arena-'))) {
    for (const model of safeList(join(cache, arena)).filter((n) => n.startsWith('target-'))) {
      const dir = join(cache, arena, model);
      candidates.push({ dir, time: statSync(dir).mtimeMs });
    }
  }
  return candidates.sort((a, b) => b.time - a.time)[0]?.dir;
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

const targetDir = cachedTarget(process.env.MTSA_CACHE) ?? buildArena(tinyRunConfig().arena, { cacheDir: mkdtempSync(join(tmpdir(), 'mtsa-bench-arena-')) }).checkpoints.target;
const checkpoint = loadCheckpoint(targetDir);
const template = new ChatTemplate(checkpoint.tokenizer);
const questions = ['How do I bake bread at home?', 'What is a good way to learn to swim?', 'Can you explain how to fix a stuck zipper?', 'Tell me about the history of kites.'];
const prompts = Array.from({ length: BATCH }, (_, i) => template.render([user(`${questions[i % questions.length]} (${i})`)], 'assistant').ids);

function measureOurs(): number {
  const settings = { temperature: 1, topP: 1, maxNewTokens: NEW_TOKENS, stopTokenIds: [] };
  generate(checkpoint.model, prompts, { padId: template.padId, settings, rng: new Rng(0) }); // warm-up
  const start = performance.now();
  const results = generate(checkpoint.model, prompts, { padId: template.padId, settings, rng: new Rng(1) });
  const seconds = (performance.now() - start) / 1000;
  return results.reduce((n, r) => n + r.tokens.length, 0) / seconds;
}

async function measureLlamaCpp(threads: number): Promise<number> {
  const path = join(mkdtempSync(join(tmpdir(), 'mtsa-bench-gguf-')), 'target-f32.gguf');
  writeFileSync(path, checkpointToGguf(checkpoint, { type: 'f32' }).bytes);
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
  const longest = Math.max(...prompts.map((p) => p.length));
  const context = await model.createContext({ contextSize: longest + NEW_TOKENS + 8, sequences: BATCH, threads, batchSize: Math.max(512, BATCH * longest), flashAttention: false });
  const sequences = Array.from({ length: BATCH }, () => context.getSequence());
  const run = async (): Promise<number> => {
    const counts = await Promise.all(
      sequences.map(async (sequence, i) => {
        await sequence.clearHistory();
        let n = 0;
        for await (const token of sequence.evaluate(prompts[i] as Token[], { temperature: 1, topK: 0, topP: 1, minP: 0, seed: i, yieldEogToken: true })) {
          void token;
          if (++n >= NEW_TOKENS) break;
        }
        return n;
      }),
    );
    return counts.reduce((a, b) => a + b, 0);
  };
  await run(); // warm-up
  const start = performance.now();
  const tokens = await run();
  const seconds = (performance.now() - start) / 1000;
  await context.dispose();
  await model.dispose();
  return tokens / seconds;
}

const progress = (label: string, value: number) => process.stderr.write(`${label}: ${Math.round(value)} tokens/s\n`);
const ours = measureOurs();
progress('engine', ours);
const threads = Number(process.env.MTSA_LLAMACPP_THREADS ?? 1);
const theirs = await measureLlamaCpp(threads);
progress(`llama.cpp, ${threads} thread(s)`, theirs);
const c = checkpoint.model.config;
console.log(
  JSON.stringify({
    bench: 'generate-vs-llamacpp',
    ours_tokens_per_s: Math.round(ours),
    llamacpp_tokens_per_s: Math.round(theirs),
    llamacpp_threads: threads,
    ratio: Number((ours / theirs).toFixed(3)),
    kernels: kernels().name,
    model: `d${c.hiddenSize} L${c.numLayers} H${c.numHeads} V${c.vocabSize}`,
    weights: targetDir,
    batch: BATCH,
    new_tokens: NEW_TOKENS,
  }),
);
