import { describe, expect, it } from 'vitest';
import { Rng } from '../../core/rng.js';
import { gradCheck } from '../../testing/grad-check.js';
import { tinyModel } from '../../testing/tiny.js';
import { languageModelLoss, sequenceLogProbs } from '../log-probs.js';
import { AdamW } from '../optim/adamw.js';
import * as ops from '../ops/index.js';
import { Tensor, backward, clearTape, noGrad } from '../tensor.js';
import { KvCache, type LlamaModel } from './llama.js';

/** the cached forward's hidden state of each sequence's last new token, as logits (B, V) */
function lastLogits(model: LlamaModel, cache: KvCache, ids: number[], n: number): Float32Array {
  const C = model.config.hiddenSize;
  const hidden = model.forwardHidden({ ids: Int32Array.from(ids), batch: cache.batch, seqLen: n }, cache).data;
  const last = new Float32Array(cache.batch * C);
  for (let b = 0; b < cache.batch; b++) last.set(hidden.subarray((b * n + n - 1) * C, (b * n + n) * C), b * C);
  return noGrad(() => model.logits(new Tensor(last, [cache.batch, C])).data);
}

function randomIds(rng: Rng, n: number, vocab: number): number[] {
  return Array.from({ length: n }, () => 1 + rng.int(vocab - 1));
}

describe('Llama model', () => {
  it('the whole model passes a finite-difference check on sampled parameters', () => {
    const model = tinyModel(1, { hiddenSize: 8, intermediateSize: 12, numHeads: 2, numKvHeads: 1, vocabSize: 20 });
    const rng = new Rng(2);
    const sequences = [0, 1].map(() => {
      const ids = randomIds(rng, 6, 20);
      return { ids, mask: [0, 0, 1, 1, 1, 1] };
    });
    const names = [
      'model.embed_tokens.weight',
      'model.layers.0.self_attn.q_proj.weight',
      'model.layers.1.self_attn.k_proj.weight',
      'model.layers.0.mlp.down_proj.weight',
      'model.layers.1.post_attention_layernorm.weight',
      'model.norm.weight',
    ];
    const inputs = names.map((n) => model.params.get(n)!);
    const result = gradCheck(() => sequenceLogProbs(model, sequences, 0), inputs, { eps: 1e-2, samplesPerInput: 6 });
    expect(result.maxRelError, result.worst).toBeLessThan(5e-3);
  });

  it('cached decoding matches a full recompute within 1e-4, with left padding', () => {
    const model = tinyModel(3);
    const rng = new Rng(4);
    const prompts = [randomIds(rng, 5, 64), randomIds(rng, 9, 64)];
    const continuation = [randomIds(rng, 6, 64), randomIds(rng, 6, 64)];
    const P = 9;
    const start = Int32Array.from([P - 5, 0]);
    const cache = new KvCache(model, 2, P + 6, start);
    const ids = new Int32Array(2 * P);
    prompts.forEach((p, b) => ids.set(p, b * P + start[b]));
    let cached = lastLogits(model, cache, [...ids], P);
    const V = model.config.vocabSize;
    for (let step = 0; step <= 6; step++) {
      for (let b = 0; b < 2; b++) {
        const full = [...prompts[b], ...continuation[b].slice(0, step)];
        const reference = noGrad(() => {
          const h = model.forwardHidden({ ids: Int32Array.from(full), batch: 1, seqLen: full.length });
          return model.logits(new Tensor(h.data.slice((full.length - 1) * 16), [1, 16])).data;
        });
        let maxError = 0;
        for (let v = 0; v < V; v++) maxError = Math.max(maxError, Math.abs(reference[v] - cached[b * V + v]));
        expect(maxError).toBeLessThan(1e-4);
      }
      if (step < 6) cached = lastLogits(model, cache, [continuation[0][step], continuation[1][step]], 1);
    }
  });

  it('a prefill split into chunks fills the same cache as one prefill, and the cached forward never tapes', () => {
    const model = tinyModel(9);
    const rng = new Rng(10);
    const ids = randomIds(rng, 12, 64);
    const whole = new KvCache(model, 1, 12, Int32Array.from([0]));
    const wholeLogits = lastLogits(model, whole, ids, 12);
    const chunked = new KvCache(model, 1, 12, Int32Array.from([0]));
    lastLogits(model, chunked, ids.slice(0, 5), 5);
    lastLogits(model, chunked, ids.slice(5, 6), 1);
    const chunkedLogits = lastLogits(model, chunked, ids.slice(6), 6);
    expect(chunked.length).toBe(12);
    let maxError = 0;
    for (let v = 0; v < wholeLogits.length; v++) maxError = Math.max(maxError, Math.abs(wholeLogits[v] - chunkedLogits[v]));
    expect(maxError).toBeLessThan(1e-5);
    for (let i = 0; i < whole.keys[1].length; i++) maxError = Math.max(maxError, Math.abs(whole.keys[1][i] - chunked.keys[1][i]));
    expect(maxError).toBeLessThan(1e-5);
    // gradients on: the training forward tapes, the cached one does not
    clearTape();
    expect(model.forwardHidden({ ids: Int32Array.from(ids), batch: 1, seqLen: 12 }).requiresGrad).toBe(true);
    expect(model.forwardHidden({ ids: Int32Array.from(ids.slice(0, 4)), batch: 1, seqLen: 4 }, new KvCache(model, 1, 4, Int32Array.from([0]))).requiresGrad).toBe(false);
    clearTape();
  });

  it('batch 4 × accumulate 1 gives the same gradient as batch 1 × accumulate 4', () => {
    const rng = new Rng(5);
    const data = [0, 1, 2, 3].map(() => ({ ids: randomIds(rng, 7, 64), mask: [0, 1, 1, 1, 1, 1, 1] }));
    const gradients = (groups: (typeof data)[]) => {
      const model = tinyModel(6);
      for (const group of groups) {
        clearTape();
        // −Σ log p / N over the whole data, contributed group by group
        backward(ops.scale(ops.sum(sequenceLogProbs(model, group, 0)), -1 / data.length));
      }
      return model.params.get('model.layers.0.self_attn.v_proj.weight')!.grad!.slice();
    };
    const whole = gradients([data]);
    const split = gradients(data.map((d) => [d]));
    let maxError = 0;
    for (let i = 0; i < whole.length; i++) maxError = Math.max(maxError, Math.abs(whole[i] - split[i]));
    expect(maxError).toBeLessThan(1e-6);
    expect(Math.max(...whole.map(Math.abs))).toBeGreaterThan(1e-4);
  });

  it('same seed, same data → byte-identical weights after training', () => {
    const run = () => {
      const model = tinyModel(7);
      const rng = new Rng(8);
      const optimizer = new AdamW([...model.params.values()], { lr: 1e-2 });
      for (let step = 0; step < 3; step++) {
        clearTape();
        const { loss } = languageModelLoss(model, [{ ids: randomIds(rng, 10, 64), mask: new Array(10).fill(1) }], 0);
        backward(loss);
        optimizer.update();
      }
      return Buffer.from(model.params.get('model.layers.1.mlp.up_proj.weight')!.data.buffer);
    };
    expect(run().equals(run())).toBe(true);
  });
});
