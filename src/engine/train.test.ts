import { describe, expect, it } from 'vitest';
import { Rng } from '../core/rng.js';
import { user, assistant } from '../core/message.js';
import { ChatTemplate } from '../models/chat-template.js';
import { tinyModel, tinyTokenizer } from '../testing/tiny.js';
import { generate } from './generate.js';
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
