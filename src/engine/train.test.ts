import { describe, expect, it } from 'vitest';
import { Rng } from '../core/rng.js';
import { user, assistant } from '../core/message.js';
import { ChatTemplate } from '../models/chat-template.js';
import { tinyModel, tinyTokenizer } from '../testing/tiny.js';
import { generate } from './generate.js';
import { jsKernels, nativeKernels, withKernels, type Kernels } from './kernels/index.js';
import { sequenceLogProbs } from './log-probs.js';
import { withBufferScope } from './memory.js';
import * as ops from './ops/index.js';
import { AdamW } from './optim/adamw.js';
import { backward, clearTape, Tensor } from './tensor.js';
import { lengthBucketedBatches, trainLanguageModel } from './train.js';

const facts: [string, string][] = [
  ['colour of the sky', 'blue'],
  ['colour of grass', 'green'],
  ['number after four', 'five'],
  ['number after seven', 'eight'],
  ['opposite of hot', 'cold'],
  ['opposite of up', 'down'],
  ['sound a cat makes', 'meow'],
  ['sound a dog makes', 'woof'],
];

describe('training a tiny model', () => {
  it('learns a small corpus: the loss falls well below its start and greedy answers reproduce it', () => {
    const texts = facts.flatMap(([q, a]) => [`question: ${q}?`, `answer: ${a}.`]);
    const tokenizer = tinyTokenizer(texts, 300);
    const template = new ChatTemplate(tokenizer);
    const data = facts.map(([q, a]) => {
      const { ids, spans } = template.render([user(`question: ${q}?`), assistant(`answer: ${a}.`)]);
      const mask = ids.map((_, i) => (i >= spans[1].start && i < spans[1].end ? 1 : 0));
      return { ids, mask };
    });
    const model = tinyModel(1, { vocabSize: tokenizer.vocabSize, hiddenSize: 48, intermediateSize: 96, numHeads: 4, numKvHeads: 4 });
    const result = trainLanguageModel(model, data, { epochs: 150, batchSize: 8, lr: 1e-2, seed: 3, padId: template.padId });
    expect(result.finalLoss).toBeLessThan(result.firstLoss / 10);
    const prompts = facts.map(([q]) => template.render([user(`question: ${q}?`)], 'assistant').ids);
    const answers = generate(model, prompts, {
      padId: template.padId,
      settings: { temperature: 0, topP: 1, maxNewTokens: 12, stopTokenIds: [template.endId] },
      rng: new Rng(1),
    }).map((r) => template.decode(r.tokens));
    const correct = answers.filter((text, i) => text === `answer: ${facts[i][1]}.`).length;
    expect(correct).toBeGreaterThanOrEqual(7);
  });

  it('length bucketing covers every index once per epoch and is seeded', () => {
    const lengths = Array.from({ length: 103 }, (_, i) => (i * 37) % 50);
    const batches = lengthBucketedBatches(lengths, 8, new Rng(4));
    expect(batches.flat().sort((a, b) => a - b)).toEqual(lengths.map((_, i) => i));
    expect(lengthBucketedBatches(lengths, 8, new Rng(4))).toEqual(batches);
  });
});

describe.runIf(nativeKernels().kernels)('native and TypeScript kernels', () => {
  // A pair objective like DPO's on right-padded sequences of uneven lengths, some longer than the
  // native attention's 32-row blocks, with AdamW and clipping: every kernel of a training step.
  // The two kernel sets round differently, so the models may differ only by accumulated rounding.
  it('train the same model through a pair objective', () => {
    const train = (k: Kernels) =>
      withKernels(k, () => {
        const model = tinyModel(5, { vocabSize: 64, hiddenSize: 32, intermediateSize: 48, numHeads: 4, numKvHeads: 2, maxPositions: 80 });
        const optimizer = new AdamW([...model.params.values()], { lr: 3e-3, weightDecay: 0.1, maxGradNorm: 1 });
        const rng = new Rng(8);
        const sequences = Array.from({ length: 6 }, (_, i) => {
          const ids = Array.from({ length: 10 + ((i * 17) % 60) }, () => 1 + rng.int(63));
          return { ids, mask: ids.map((_, t) => (t > 4 ? 1 : 0)) };
        });
        const losses: number[] = [];
        for (let step = 0; step < 8; step++) {
          losses.push(
            withBufferScope(() => {
              clearTape();
              const logProbs = sequenceLogProbs(model, sequences, 0);
              // −log σ(chosen − rejected) over pairs (0,1), (2,3), (4,5)
              const margin = ops.sub(ops.pick(logProbs, [0, 2, 4]), ops.pick(logProbs, [1, 3, 5]));
              const loss = ops.scale(ops.sum(ops.logSigmoid(ops.scale(margin, 0.1))), -1 / 3);
              backward(loss);
              return loss.item();
            }),
          );
          optimizer.update();
        }
        return { losses, params: [...model.params.values()].map((t) => Tensor.from(t.data)) };
      });
    const js = train(jsKernels);
    const native = train(nativeKernels().kernels!);
    native.losses.forEach((l, i) => expect(Math.abs(l - js.losses[i])).toBeLessThan(1e-4 * Math.max(1, Math.abs(js.losses[i]))));
    expect(js.losses[7]).toBeLessThan(js.losses[0]);
    let maxDiff = 0;
    js.params.forEach((p, i) => p.data.forEach((v, j) => (maxDiff = Math.max(maxDiff, Math.abs(v - native.params[i].data[j])))));
    expect(maxDiff).toBeLessThan(1e-4);
  });
});
