/**
 * A non-finite model stops training with the model, the step and (at load) the file named,
 * whichever backend trained it: the engine's LocalPolicy checks its weights after every optimiser
 * step, and the trainers check the loss and gradient norm any TrainablePolicy returns.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NumericalError } from '../../core/errors.js';
import { assistant, user } from '../../core/message.js';
import type { ScoredConversation, TrainablePolicy } from '../../core/models.js';
import { tinyModel, tinyTokenizer } from '../../testing/tiny.js';
import { supervisedFineTune, tokenMeanNll } from '../../training/trainers.js';
import { LocalPolicy } from './local-policy.js';

const tokenizer = tinyTokenizer(['How do I bake bread?', 'Mix flour and water, then bake.']);
const items: ScoredConversation[] = [{ messages: [user('How do I bake bread?'), assistant('Mix flour and water, then bake.')], scored: [1] }];
const schedule = { epochs: 1, batchSize: 1, lr: 1e-3, warmupRatio: 0, maxGradNorm: 1, seed: 1 };

function policy(id = 'tiny-target'): LocalPolicy {
  return new LocalPolicy(tinyModel(5, { vocabSize: tokenizer.vocabSize, maxPositions: 96 }), tokenizer, { id });
}

describe('finite weights', () => {
  it('a NaN weight stops the step with the model named and no update applied', async () => {
    const p = policy();
    const model = (p as unknown as { model: { params: Map<string, { data: Float32Array }> } }).model;
    const norm = model.params.get('model.norm.weight')!;
    norm.data[0] = NaN;
    const embed = model.params.get('model.embed_tokens.weight')!.data.slice();
    await expect(p.trainStep(items, tokenMeanNll, { lr: 1e-2 })).rejects.toThrow(/^model tiny-target: the training loss is NaN at optimiser step 1; .*no update was applied/);
    expect(model.params.get('model.embed_tokens.weight')!.data).toEqual(embed);
  });

  it('an update that overflows the weights is caught right after the step, naming the weight', async () => {
    const p = policy('tiny-attacker');
    const model = (p as unknown as { model: { params: Map<string, { data: Float32Array }> } }).model;
    await expect(p.trainStep(items, tokenMeanNll, { lr: 1e39, maxGradNorm: 0 })).rejects.toThrow(/^model tiny-attacker: weight "[^"]+" became (-?Infinity|NaN) after optimiser step 1/);
    expect([...model.params.values()].some((t) => t.data.some((x) => !Number.isFinite(x)))).toBe(true);
  });

  it('refuses to save non-finite weights, and refuses to restore them (naming the file)', async () => {
    const p = policy();
    const dir = join(mkdtempSync(join(tmpdir(), 'mtsa-finite-')), 'ckpt');
    await p.save(dir);
    const weights = join(dir, 'model.safetensors');
    const bytes = readFileSync(weights);
    bytes.writeFloatLE(NaN, bytes.length - 4);
    writeFileSync(weights, bytes);
    await expect(policy().restore(dir)).rejects.toThrow(new RegExp(`^${weights.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: tensor "[^"]+" holds a non-finite value \\(NaN at index \\d+\\)`));
    const broken = policy();
    (broken as unknown as { model: { params: Map<string, { data: Float32Array }> } }).model.params.get('model.norm.weight')!.data[3] = Infinity;
    await expect(broken.save(join(dir, '..', 'other'))).rejects.toThrow(/model tiny-target: weight "model\.norm\.weight" became Infinity before saving/);
  });

  it('the trainers stop on a non-finite loss or gradient norm from any backend (here a fake external trainer)', async () => {
    const external = {
      id: 'torch:target',
      resetOptimizer: async () => {},
      trainStep: async () => ({ scores: [], result: { loss: 0.5, gradients: [], metrics: {} }, gradNorm: NaN }),
    } as unknown as TrainablePolicy;
    await expect(supervisedFineTune(external, items, schedule)).rejects.toThrow(NumericalError);
    await expect(supervisedFineTune(external, items, schedule)).rejects.toThrow('model torch:target: optimiser step 1 of 1 gave loss 0.5, gradient norm NaN');
  });
});
