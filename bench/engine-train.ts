/**
 * Benchmark: training throughput of the reference configuration (d_model 128, 4 layers, 4 heads,
 * vocab 2048, sequence 128, batch 16) with this engine and with PyTorch on CPU, in one run.
 * Prints one JSON line: {"bench":"engine-train","ours_tokens_per_s":…,"torch_tokens_per_s":…,"ratio":…,"kernels":…}
 */
import { Rng } from '../src/core/rng.js';
import { kernels, useKernels } from '../src/engine/kernels/index.js';
import { languageModelLoss } from '../src/engine/log-probs.js';
import { LlamaModel, defaultLlamaConfig } from '../src/engine/nn/llama.js';
import { AdamW } from '../src/engine/optim/adamw.js';
import { withBufferScope } from '../src/engine/memory.js';
import { backward, clearTape } from '../src/engine/tensor.js';
import { runPythonAnchor } from './python-anchor.js';
import { REFERENCE } from './reference.js';

// MTSA_KERNELS=js|blas|auto, as for the CLI: the portable kernels can be benchmarked too.
useKernels((process.env.MTSA_KERNELS ?? 'auto') as 'auto' | 'js' | 'blas');


function measureOurs(steps: number, warmup: number): { tokensPerSecond: number; finalLoss: number; msPerStep: number } {
  const config = defaultLlamaConfig({ ...REFERENCE, maxPositions: REFERENCE.seqLen });
  const model = new LlamaModel(config, new Rng(0));
  const optimizer = new AdamW([...model.params.values()], { lr: 1e-3, weightDecay: 0.1, maxGradNorm: 1 });
  const rng = new Rng(1);
  const makeBatch = () =>
    Array.from({ length: REFERENCE.batch }, () => {
      const ids = Array.from({ length: REFERENCE.seqLen }, () => rng.int(REFERENCE.vocabSize));
      return { ids, mask: ids.map(() => 1) };
    });
  let finalLoss = 0;
  let start = 0;
  for (let step = 0; step < warmup + steps; step++) {
    if (step === warmup) start = performance.now();
    const batch = makeBatch();
    finalLoss = withBufferScope(() => {
      clearTape();
      const { loss } = languageModelLoss(model, batch, 0);
      backward(loss);
      return loss.item();
    });
    optimizer.update();
  }
  const seconds = (performance.now() - start) / 1000;
  const tokens = steps * REFERENCE.batch * REFERENCE.seqLen;
  return { tokensPerSecond: tokens / seconds, finalLoss, msPerStep: (seconds * 1000) / steps };
}

const steps = Number(process.env.BENCH_STEPS ?? 20);
const warmup = 3;
const ours = measureOurs(steps, warmup);
const torch = runPythonAnchor('torch_train.py', { ...REFERENCE, steps, warmup });
const line = {
  bench: 'engine-train',
  ours_tokens_per_s: Math.round(ours.tokensPerSecond),
  torch_tokens_per_s: torch.tokensPerSecond === null ? null : Math.round(torch.tokensPerSecond),
  ratio: torch.tokensPerSecond === null ? null : Number((ours.tokensPerSecond / torch.tokensPerSecond).toFixed(3)),
  kernels: kernels().name,
  ms_per_step: Number(ours.msPerStep.toFixed(1)),
  steps,
  ...(torch.note ? { note: torch.note } : {}),
};
console.log(JSON.stringify(line));
