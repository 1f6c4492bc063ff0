/**
 * LoRA in the worker: the adapter starts at zero (scores equal the engine's), the reference is the
 * adapter switched off, a DPO step trains only the adapter, `save` writes merged weights the engine
 * loads with equal scores, and `snapshotReference` folds the adapter in without changing the policy.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/engine/checkpoint/hf-checkpoint.js';
import { LocalPolicy } from '../../src/models/local/local-policy.js';
import { TorchPolicy } from '../../src/models/torch/torch-policy.js';
import { dpoLoss } from '../../src/training/losses/dpo-loss.js';
import { pairStepLoss } from '../../src/training/trainers.js';
import { venvPython } from './python-venv.js';
import { conformanceCheckpoint, pairs, relativeError } from './trainable-policy.js';

const { python, reason } = venvPython();
const sequences = pairs.flatMap((p) => [p.chosen, p.rejected]);
const worst = (a: { logProb: number }[], b: { logProb: number }[]) => Math.max(...a.map((x, i) => relativeError(x.logProb, b[i].logProb)));

describe.skipIf(!python)(`TorchPolicy with LoRA${python ? '' : ` (skipped: ${reason})`}`, () => {
  let policy: TorchPolicy | undefined;
  afterAll(async () => policy?.close());

  it('trains the adapter against the adapter-off reference and saves merged weights the engine loads', async () => {
    const dir = conformanceCheckpoint();
    const { model, tokenizer } = loadCheckpoint(dir);
    const engine = new LocalPolicy(model, tokenizer, { id: 'engine' });
    policy = await TorchPolicy.open(dir, { id: 'lora', python: python!, threads: 1, lora: { rank: 4, alpha: 8 } });
    expect(policy.info.trainable).toBeLessThan(policy.info.parameters / 2);
    const base = await engine.scoreSequences(sequences);
    expect(worst(await policy.scoreSequences(sequences), base)).toBeLessThan(1e-5);

    const loss = pairStepLoss(
      pairs.map((pair, i) => ({ pair, referenceChosen: base[2 * i].logProb - 1, referenceRejected: base[2 * i + 1].logProb })),
      (p) => dpoLoss(p, 0.1),
    );
    for (let step = 0; step < 3; step++) await policy.trainStep(sequences, loss, { lr: 2e-2 });
    const trained = await policy.scoreSequences(sequences);
    expect(worst(trained, base)).toBeGreaterThan(1e-4);
    // the reference is the adapter switched off: the base weights, untouched
    expect(worst(await policy.scoreSequences(sequences, { reference: true }), base)).toBeLessThan(1e-5);

    const out = join(mkdtempSync(join(tmpdir(), 'mtsa-lora-')), 'merged');
    await policy.save(out);
    await engine.restore(out);
    expect(worst(await engine.scoreSequences(sequences), trained)).toBeLessThan(1e-4);

    await policy.snapshotReference();
    expect(worst(await policy.scoreSequences(sequences), trained)).toBeLessThan(1e-4);
    expect(worst(await policy.scoreSequences(sequences, { reference: true }), trained)).toBeLessThan(1e-4);
  }, 120_000);
});
