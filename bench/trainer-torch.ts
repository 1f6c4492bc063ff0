/**
 * Benchmark: training throughput through the TrainablePolicy seam on the reference configuration
 * (d_model 128, 4 layers, 4 heads, vocab 2048, sequence 128, batch 16) on CPU, in one run: the
 * PyTorch worker (TorchPolicy: one forward in the worker, the loss in TypeScript, backward and
 * AdamW in the worker) against the engine (LocalPolicy). Both start from the same checkpoint and
 * train on the same batches with the token-mean NLL.
 * Prints one JSON line: {"bench":"trainer-torch","torch_tokens_per_s":…,"engine_tokens_per_s":…,"ratio":…}
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { user, assistant } from '../src/core/message.js';
import type { ScoredConversation, TrainablePolicy } from '../src/core/models.js';
import { Rng } from '../src/core/rng.js';
import { saveCheckpoint } from '../src/engine/checkpoint/hf-checkpoint.js';
import { kernels, kernelChoice, useKernels } from '../src/engine/kernels/index.js';
import { LlamaModel, defaultLlamaConfig } from '../src/engine/nn/llama.js';
import { ByteLevelBpeTokenizer } from '../src/engine/tokenizer/byte-level-bpe.js';
import { SPECIAL_TOKENS } from '../src/models/chat-template.js';
import { LocalPolicy } from '../src/models/local/local-policy.js';
import { TorchPolicy } from '../src/models/torch/torch-policy.js';
import { projectPython } from '../src/models/torch/worker-process.js';
import { tokenMeanNll } from '../src/training/trainers.js';
import { REFERENCE } from './reference.js';

useKernels(kernelChoice(process.env.MTSA_KERNELS));

const steps = Number(process.env.BENCH_STEPS ?? 10);
const warmup = 2;
// One intra-op thread by default: on a shared 2-core machine PyTorch's thread pool collapses under load
// (measured 943 tokens/s with 2 threads vs 10k with 1); BENCH_TORCH_THREADS overrides.
const threads = Number(process.env.BENCH_TORCH_THREADS ?? 1);

const rng = new Rng(3);
const words = Array.from({ length: 400 }, () => Array.from({ length: 2 + rng.int(6) }, () => String.fromCharCode(97 + rng.int(26))).join(''));
const text = (n: number) => Array.from({ length: n }, () => words[rng.int(words.length)]).join(' ');
const tokenizer = ByteLevelBpeTokenizer.train(
  Array.from({ length: 300 }, () => text(40)),
  { vocabSize: REFERENCE.vocabSize, specialTokens: [...SPECIAL_TOKENS], minFrequency: 1 },
);
const config = defaultLlamaConfig({ ...REFERENCE, maxPositions: REFERENCE.seqLen });
const dir = join(mkdtempSync(join(tmpdir(), 'mtsa-bench-trainer-')), 'model');
saveCheckpoint(dir, { model: new LlamaModel(config, new Rng(0)), tokenizer, metadata: {} });

// Conversations longer than T tokens: the policies keep the last T, so every sequence is exactly T.
const batches: ScoredConversation[][] = Array.from({ length: warmup + steps }, () =>
  Array.from({ length: REFERENCE.batch }, () => ({ messages: [user(text(30)), assistant(text(120))], scored: [0, 1] })),
);

async function measure(policy: TrainablePolicy): Promise<{ tokensPerSecond: number; loss: number }> {
  let start = 0;
  let tokens = 0;
  let loss = 0;
  for (let step = 0; step < batches.length; step++) {
    if (step === warmup) start = performance.now();
    const { result } = await policy.trainStep(batches[step], tokenMeanNll, { lr: 1e-3, maxGradNorm: 1, weightDecay: 0.1 });
    if (step >= warmup) tokens += REFERENCE.batch * REFERENCE.seqLen;
    loss = result.loss;
  }
  return { tokensPerSecond: tokens / ((performance.now() - start) / 1000), loss };
}

const engine = await measure(new LocalPolicy(new LlamaModel(config, new Rng(0)), tokenizer, { id: 'engine' }));
let torch: { tokensPerSecond: number; loss: number } | null = null;
let note: string | undefined;
try {
  const policy = await TorchPolicy.open(dir, { id: 'bench', python: projectPython(), threads });
  torch = await measure(policy);
  await policy.close();
} catch (error) {
  note = `torch half skipped: ${(error as Error).message.split('\n')[0]}`;
}
rmSync(dir, { recursive: true, force: true });
console.log(
  JSON.stringify({
    bench: 'trainer-torch',
    torch_tokens_per_s: torch ? Math.round(torch.tokensPerSecond) : null,
    engine_tokens_per_s: Math.round(engine.tokensPerSecond),
    ratio: torch ? Number((torch.tokensPerSecond / engine.tokensPerSecond).toFixed(3)) : null,
    // the same weights and batches: the losses of the last step agree when both trainers do
    last_loss: { torch: torch ? Number(torch.loss.toFixed(5)) : null, engine: Number(engine.loss.toFixed(5)) },
    kernels: kernels().name,
    torch_threads: threads,
    steps,
    ...(note ? { note } : {}),
  }),
);
