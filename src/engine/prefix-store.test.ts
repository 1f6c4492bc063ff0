import { describe, expect, it } from 'vitest';
import { Rng } from '../core/rng.js';
import { tinyModel } from '../testing/tiny.js';
import { generate, type SamplingSettings } from './generate.js';
import type { LlamaModel, TokenBatch } from './nn/llama.js';
import { PrefixStore } from './prefix-store.js';

/** a tiny model with weights 20× the initial scale, so that greedy decoding does not just repeat */
function sharpModel(seed: number): LlamaModel {
  const model = tinyModel(seed, { maxPositions: 160 });
  for (const t of model.params.values()) if (t.shape.length === 2) for (let i = 0; i < t.size; i++) t.data[i] *= 20;
  return model;
}

/** Call log of the model's forward: batch × new positions of every call that prefills (more than one position). */
function logPrefills(model: LlamaModel): number[] {
  const log: number[] = [];
  const forward = model.forwardHidden.bind(model);
  model.forwardHidden = (batch: TokenBatch, ...rest) => {
    if (batch.seqLen > 1) log.push(batch.batch * batch.seqLen);
    return forward(batch, ...rest);
  };
  return log;
}

/**
 * Dialogues in lock-step: each turn's prompt is the previous prompt, the reply, and a new user
 * message (as a chat template would render them), for `turns` turns. Returns every reply.
 */
function dialogue(model: LlamaModel, settings: SamplingSettings, store: PrefixStore | undefined, turns: number): number[][][] {
  const histories = [[3, 4, 5], [9, 2], [11, 12, 13, 14], [7]];
  const replies: number[][][] = [];
  for (let turn = 0; turn < turns; turn++) {
    const results = generate(model, histories, { padId: 0, settings, rng: histories.map((_, b) => new Rng(100 * turn + b)), prefixes: store });
    replies.push(results.map((r) => r.tokens));
    // the reply, an end marker (1) and the next user message of 2–4 tokens
    histories.forEach((h, b) => h.push(...results[b].tokens, 1, ...Array.from({ length: 2 + ((b + turn) % 3) }, (_, i) => 20 + ((7 * b + 3 * turn + i) % 40))));
  }
  return replies;
}

describe('prefix reuse (PrefixStore)', () => {
  it('greedy replies of a five-turn dialogue equal those without reuse, while prefilling far fewer positions', () => {
    const greedy = { temperature: 0, topP: 1, maxNewTokens: 6, stopTokenIds: [] };
    const plainModel = sharpModel(31);
    const plainLog = logPrefills(plainModel);
    const plain = dialogue(plainModel, greedy, undefined, 5);
    const reuseModel = sharpModel(31);
    const reuseLog = logPrefills(reuseModel);
    const store = new PrefixStore(reuseModel, 2 ** 20);
    const reused = dialogue(reuseModel, greedy, store, 5);
    expect(reused).toEqual(plain);
    // The first turn has nothing stored: the same prefill. Later turns run only the new tail.
    expect(reuseLog[0]).toBe(plainLog[0]);
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    expect(sum(reuseLog)).toBe(store.counts.prefilled);
    expect(sum(reuseLog) * 2).toBeLessThan(sum(plainLog));
    expect(store.counts.reused).toBeGreaterThan(0);
    // Each dialogue keeps only its latest sequence: the earlier ones were continued from.
    const width = reuseModel.config.numKvHeads * reuseModel.headDim;
    expect(store.heldBytes).toBeLessThanOrEqual(2 * reuseModel.layers.length * width * 4 * 4 * 160);
  });

  it('sampled replies with a seed per sequence equal those without reuse on this model (they could differ only through float rounding)', () => {
    const sampled = { temperature: 1, topP: 0.95, maxNewTokens: 6, stopTokenIds: [] };
    const plain = dialogue(sharpModel(32), sampled, undefined, 4);
    const model = sharpModel(32);
    expect(dialogue(model, sampled, new PrefixStore(model, 2 ** 20), 4)).toEqual(plain);
  });

  it('stays within its byte bound, dropping the least recently used sequences, and still gives the same replies', () => {
    const greedy = { temperature: 0, topP: 1, maxNewTokens: 6, stopTokenIds: [] };
    const plain = dialogue(sharpModel(33), greedy, undefined, 4);
    const model = sharpModel(33);
    const width = model.config.numKvHeads * model.headDim;
    const maxBytes = 2 * model.layers.length * width * 4 * 40; // about one sequence
    const store = new PrefixStore(model, maxBytes);
    expect(dialogue(model, greedy, store, 4)).toEqual(plain);
    expect(store.heldBytes).toBeGreaterThan(0);
    expect(store.heldBytes).toBeLessThanOrEqual(maxBytes);
  });

  it('matches the longest shared prefix, never the whole prompt (the last token starts sampling)', () => {
    const model = sharpModel(34);
    const store = new PrefixStore(model, 2 ** 20);
    generate(model, [[5, 6, 7, 8]], { padId: 0, settings: { temperature: 0, topP: 1, maxNewTokens: 3, stopTokenIds: [] }, rng: new Rng(1), prefixes: store });
    expect(store.match([5, 6, 9], 2)?.length).toBe(2);
    expect(store.match([5, 6, 7, 8], 3)?.length).toBe(3);
    expect(store.match([4, 6], 1)).toBeNull();
  });

  it("a prompt that shares only part of an entry's prompt leaves it; one that continues it past its prompt replaces it", () => {
    const model = sharpModel(35);
    const store = new PrefixStore(model, 2 ** 20);
    const greedy = { temperature: 0, topP: 1, maxNewTokens: 3, stopTokenIds: [] };
    const [first] = generate(model, [[5, 6, 7, 8]], { padId: 0, settings: greedy, rng: new Rng(1), prefixes: store });
    const held = store.heldBytes;
    // another dialogue opening with the same token (a shared template prefix): both entries stay
    generate(model, [[5, 9, 9]], { padId: 0, settings: greedy, rng: new Rng(1), prefixes: store });
    expect(store.match([5, 6, 7, 8, 9], 5)?.length).toBe(4);
    expect(store.heldBytes).toBeGreaterThan(held);
    // the first dialogue's next turn: its prompt repeats the first prompt and part of the reply
    generate(model, [[5, 6, 7, 8, first.tokens[0], 30, 31]], { padId: 0, settings: greedy, rng: new Rng(1), prefixes: store });
    const width = model.config.numKvHeads * model.headDim;
    const bytesOf = (tokens: number) => 2 * model.layers.length * tokens * width * 4;
    expect(store.heldBytes).toBe(bytesOf(3 + 2) + bytesOf(7 + 2));
  });
});
