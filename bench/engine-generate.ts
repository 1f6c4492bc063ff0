/**
 * Benchmark: batched sampling throughput (batch 16, 128 new tokens, temperature 1, top-p 0.95) of
 * the reference configuration with a key/value cache, against the same sampler in PyTorch on CPU.
 * Prints one JSON line: {"bench":"engine-generate","ours_tokens_per_s":…,"torch_tokens_per_s":…,"ratio":…,"kernels":…}
 */
import { Rng } from '../src/core/rng.js';
import { generate } from '../src/engine/generate.js';
import { kernels, kernelChoice, useKernels } from '../src/engine/kernels/index.js';
import { LlamaModel, defaultLlamaConfig } from '../src/engine/nn/llama.js';
import { runPythonAnchor } from './python-anchor.js';
import { REFERENCE } from './reference.js';

// MTSA_KERNELS=js|native|auto, as for the CLI: the portable kernels can be benchmarked too.
useKernels(kernelChoice(process.env.MTSA_KERNELS));

const BATCH = 16;
const PROMPT = 16;
const NEW_TOKENS = 128;

function measureOurs(): number {
  const model = new LlamaModel(defaultLlamaConfig({ ...REFERENCE, maxPositions: PROMPT + NEW_TOKENS }), new Rng(0));
  const rng = new Rng(1);
  const prompts = Array.from({ length: BATCH }, () => Array.from({ length: PROMPT }, () => rng.int(REFERENCE.vocabSize)));
  const settings = { temperature: 1, topP: 0.95, maxNewTokens: NEW_TOKENS, stopTokenIds: [] };
  generate(model, prompts, { padId: 0, settings, rng }); // warm-up
  const start = performance.now();
  const results = generate(model, prompts, { padId: 0, settings, rng });
  const seconds = (performance.now() - start) / 1000;
  const tokens = results.reduce((n, r) => n + r.tokens.length, 0);
  return tokens / seconds;
}

const ours = measureOurs();
const torch = runPythonAnchor('torch_generate.py', { ...REFERENCE, batch: BATCH, promptLength: PROMPT, newTokens: NEW_TOKENS });
console.log(
  JSON.stringify({
    bench: 'engine-generate',
    ours_tokens_per_s: Math.round(ours),
    torch_tokens_per_s: torch.tokensPerSecond === null ? null : Math.round(torch.tokensPerSecond),
    ratio: torch.tokensPerSecond === null ? null : Number((ours / torch.tokensPerSecond).toFixed(3)),
    kernels: kernels().name,
    batch: BATCH,
    new_tokens: NEW_TOKENS,
    ...(torch.note ? { note: torch.note } : {}),
  }),
);
