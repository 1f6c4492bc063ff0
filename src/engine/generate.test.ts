import { describe, expect, it } from 'vitest';
import { Rng } from '../core/rng.js';
import { tinyModel } from '../testing/tiny.js';
import { generate, sampleFromProbabilities, sampleToken } from './generate.js';
import { noGrad } from './tensor.js';

describe('sampleToken', () => {
  const logits = Float32Array.from([0, 3, 1, 2.9, -5]);

  it('temperature 0 is greedy', () => {
    expect(sampleToken(logits, 0, 5, { temperature: 0, topP: 1 }, new Rng(1))).toBe(1);
  });

  it('top-p keeps only the nucleus', () => {
    // softmax ≈ [0.024, 0.46, 0.066, 0.42, 0.0003]; top-p 0.8 keeps tokens 1 and 3
    const rng = new Rng(2);
    const seen = new Set<number>();
    for (let i = 0; i < 300; i++) seen.add(sampleToken(logits, 0, 5, { temperature: 1, topP: 0.8 }, rng));
    expect([...seen].sort()).toEqual([1, 3]);
  });

  it('frequencies follow the softmax at temperature 1 and flatten at high temperature', () => {
    const rng = new Rng(3);
    const counts = (temperature: number) => {
      const c = new Array(5).fill(0);
      for (let i = 0; i < 4000; i++) c[sampleToken(logits, 0, 5, { temperature, topP: 1 }, rng)]++;
      return c.map((x) => x / 4000);
    };
    const t1 = counts(1);
    expect(t1[1]).toBeGreaterThan(0.42);
    expect(t1[1]).toBeLessThan(0.5);
    expect(counts(100)[4]).toBeGreaterThan(0.15);
  });
});

describe('sampleFromProbabilities', () => {
  it('draws exactly from the nucleus a full sort defines, for flat and peaked distributions', () => {
    const rng = new Rng(5);
    for (const sharpness of [0.1, 1, 4]) {
      const V = 40;
      const logits = Array.from({ length: V }, () => rng.normal() * sharpness);
      const max = Math.max(...logits);
      const weights = logits.map((l) => Math.exp(l - max));
      const total = weights.reduce((a, b) => a + b, 0);
      const probs = Float32Array.from(weights.map((w) => w / total));
      const topP = 0.7;
      const order = [...probs.keys()].sort((a, b) => probs[b] - probs[a]);
      const nucleus = new Set<number>();
      let mass = 0;
      for (const i of order) {
        if (mass >= topP) break;
        nucleus.add(i);
        mass += probs[i];
      }
      const seen = new Set<number>();
      for (let i = 0; i < 3000; i++) seen.add(sampleFromProbabilities(probs, topP, rng));
      expect([...seen].sort((a, b) => a - b)).toEqual([...nucleus].sort((a, b) => a - b));
    }
  });
});

/** a tiny model with weights 20× the initial scale, so that greedy decoding does not just repeat */
function sharpModel(seed: number) {
  const model = tinyModel(seed);
  for (const t of model.params.values()) if (t.shape.length === 2) for (let i = 0; i < t.size; i++) t.data[i] *= 20;
  return model;
}

describe('generate', () => {
  it('gives the tokens the separate cached forward gave before the one-forward refactor (greedy and sampled)', () => {
    // Recorded from generate() at commit 687c4be, when sampling had its own copy of the Llama
    // forward (forwardCached); the same with the portable and the native kernels. The one forward
    // (LlamaModel.forwardHidden with a KvCache) must reproduce them token for token.
    const model = sharpModel(21);
    const prompts = [[3, 4, 5, 6, 7], [9, 2], [11, 12, 13, 14, 15, 16, 17, 18], [5]];
    const greedy = prompts.map((_, i) => ({ temperature: 0, topP: 1, maxNewTokens: 6 + 3 * i, stopTokenIds: [] }));
    const sampled = prompts.map((_, i) => ({ temperature: 1, topP: 0.9, maxNewTokens: 6 + 3 * i, stopTokenIds: [] }));
    expect(generate(model, prompts, { padId: 0, settings: greedy, rng: new Rng(1) }).map((r) => r.tokens)).toEqual([
      [24, 24, 18, 18, 18, 18],
      [56, 24, 32, 36, 6, 9, 25, 6, 8],
      [62, 4, 9, 15, 15, 15, 9, 62, 25, 59, 19, 19],
      [56, 48, 24, 23, 59, 24, 18, 52, 52, 4, 4, 4, 59, 24, 63],
    ]);
    expect(generate(model, prompts, { padId: 0, settings: sampled, rng: prompts.map((_, i) => new Rng(40 + i)) }).map((r) => r.tokens)).toEqual([
      [29, 38, 24, 0, 26, 26],
      [1, 48, 32, 26, 7, 4, 46, 48, 48],
      [46, 53, 17, 30, 48, 49, 15, 15, 15, 15, 15, 52],
      [46, 5, 1, 3, 18, 23, 44, 39, 4, 23, 45, 36, 45, 61, 24],
    ]);
  });

  it('greedy decoding equals the argmax of the uncached training forward at every step', () => {
    const model = sharpModel(22);
    const prompts = [
      [3, 4, 5, 6, 7],
      [9, 2],
    ];
    const results = generate(model, prompts, { padId: 0, settings: { temperature: 0, topP: 1, maxNewTokens: 10, stopTokenIds: [] }, rng: new Rng(1) });
    prompts.forEach((prompt, b) => {
      const sequence = [...prompt];
      for (let step = 0; step < 10; step++) {
        const logits = noGrad(() => model.logits(model.forwardHidden({ ids: Int32Array.from(sequence), batch: 1, seqLen: sequence.length })).data);
        const row = logits.subarray((sequence.length - 1) * model.config.vocabSize);
        sequence.push(row.indexOf(Math.max(...row)));
      }
      expect(results[b].tokens).toEqual(sequence.slice(prompt.length));
    });
  });

  it('is deterministic for a seed, honours per-sequence budgets and stop tokens', () => {
    const model = tinyModel(5);
    const prompts = [[3, 4, 5], [7, 8], [9]];
    const settings = [
      { temperature: 1, topP: 0.95, maxNewTokens: 7, stopTokenIds: [] },
      { temperature: 0, topP: 1, maxNewTokens: 12, stopTokenIds: [] },
      { temperature: 1.2, topP: 0.9, maxNewTokens: 30, stopTokenIds: [] },
    ];
    const a = generate(model, prompts, { padId: 0, settings, rng: new Rng(9) });
    const b = generate(model, prompts, { padId: 0, settings, rng: new Rng(9) });
    expect(a).toEqual(b);
    expect(a.map((r) => r.tokens.length)).toEqual([7, 12, 30]);
    expect(a.every((r) => r.finishReason === 'length')).toBe(true);
    // A stop token ends a sequence and is kept.
    const alone = generate(model, [prompts[2]], { padId: 0, settings: settings[2], rng: new Rng(9) })[0];
    const stopAt = alone.tokens[4];
    const stopped = generate(model, [prompts[2]], { padId: 0, settings: { ...settings[2], stopTokenIds: [stopAt] }, rng: new Rng(9) });
    const firstStop = alone.tokens.indexOf(stopAt);
    expect(stopped[0].finishReason).toBe('stop');
    expect(stopped[0].tokens.at(-1)).toBe(stopAt);
    expect(stopped[0].tokens.length).toBeLessThanOrEqual(firstStop + 1);
  });

  it('greedy continuation does not depend on the other sequences in the batch (padding is masked)', () => {
    const model = tinyModel(6);
    const greedy = { temperature: 0, topP: 1, maxNewTokens: 8, stopTokenIds: [] };
    const alone = generate(model, [[5, 6]], { padId: 0, settings: greedy, rng: new Rng(1) });
    const batched = generate(
      model,
      [
        [1, 2, 3, 4, 5, 6, 7],
        [5, 6],
      ],
      { padId: 0, settings: greedy, rng: new Rng(1) },
    );
    expect(batched[1].tokens).toEqual(alone[0].tokens);
  });

  it('with one generator per sequence, a result does not depend on the rest of the batch', () => {
    const model = tinyModel(8);
    const settings = { temperature: 1, topP: 0.9, maxNewTokens: 10, stopTokenIds: [] };
    const alone = generate(model, [[4, 5]], { padId: 0, settings, rng: [new Rng(77)] });
    const batched = generate(
      model,
      [
        [9, 9, 9],
        [4, 5],
      ],
      { padId: 0, settings, rng: [new Rng(1), new Rng(77)] },
    );
    expect(batched[1]).toEqual(alone[0]);
  });

  it('finished sequences leave the batch without changing the other sequences', () => {
    const model = tinyModel(9);
    const prompts = Array.from({ length: 8 }, (_, i) => [1 + i, 2 + i, 3]);
    const settings = prompts.map((_, i) => ({ temperature: 1, topP: 0.95, maxNewTokens: 2 + 3 * i, stopTokenIds: [] }));
    const batched = generate(model, prompts, { padId: 0, settings, rng: prompts.map((_, i) => new Rng(100 + i)) });
    prompts.forEach((p, i) => {
      const alone = generate(model, [p], { padId: 0, settings: settings[i], rng: [new Rng(100 + i)] });
      expect(batched[i].tokens).toEqual(alone[0].tokens);
    });
    expect(batched.map((r) => r.tokens.length)).toEqual(settings.map((s) => s.maxNewTokens));
  });

  it('forced tokens follow the first trigger token once, and the continuation is what the model says after them', () => {
    const model = tinyModel(11);
    const greedy = { temperature: 0, topP: 1, maxNewTokens: 12, stopTokenIds: [] as number[] };
    const plain = generate(model, [[3, 4]], { padId: 0, settings: greedy, rng: new Rng(1) })[0].tokens;
    const trigger = plain[1];
    const forcedTokens = [9, 9, 2];
    const [forced] = generate(model, [[3, 4]], { padId: 0, settings: { ...greedy, force: { after: new Set([trigger]), tokens: forcedTokens } }, rng: new Rng(1) });
    const at = forced.tokens.indexOf(trigger);
    // A stop token among the forced tokens does not stop the sequence: it was not sampled.
    const [withStop] = generate(model, [[3, 4]], { padId: 0, settings: { ...greedy, stopTokenIds: [2], force: { after: new Set([trigger]), tokens: forcedTokens } }, rng: new Rng(1) });
    expect(withStop.tokens.length).toBeGreaterThan(at + 4);
    expect(forced.tokens.slice(0, at + 1)).toEqual(plain.slice(0, at + 1));
    expect(forced.tokens.slice(at + 1, at + 4)).toEqual(forcedTokens);
    expect(forced.tokens).toHaveLength(12);
    // What follows equals greedy decoding from the prompt plus everything up to the forced tokens,
    // except that the trigger would fire again there (it fires once): compare up to its next use.
    const prefix = [3, 4, ...forced.tokens.slice(0, at + 4)];
    const rest = generate(model, [prefix], { padId: 0, settings: { ...greedy, maxNewTokens: 12 - (at + 4) }, rng: new Rng(1) })[0].tokens;
    expect(forced.tokens.slice(at + 4)).toEqual(rest);
  });

  it('a shouldStop callback ends a sequence (stop strings)', () => {
    const model = tinyModel(7);
    const results = generate(model, [[1, 2]], {
      padId: 0,
      settings: { temperature: 1, topP: 1, maxNewTokens: 20, stopTokenIds: [] },
      rng: new Rng(2),
      shouldStop: (_i, tokens) => tokens.length === 3,
    });
    expect(results[0]).toMatchObject({ finishReason: 'stop' });
    expect(results[0].tokens).toHaveLength(3);
  });
});
