/**
 * Memory options change memory, not the step: with micro-batches of a few tokens (several forwards
 * per step, all graphs held until the coefficients arrive) and gradient checkpointing, the scores,
 * the gradient norm and the weights after a DPO step equal those of one plain forward.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { TorchPolicy } from '../../src/models/torch/torch-policy.js';
import { dpoLoss } from '../../src/training/losses/dpo-loss.js';
import { pairStepLoss } from '../../src/training/trainers.js';
import { venvPython } from './python-venv.js';
import { conformanceCheckpoint, pairs, relativeError } from './trainable-policy.js';

const { python, reason } = venvPython();
const sequences = pairs.flatMap((p) => [p.chosen, p.rejected]);

describe.skipIf(!python)(`TorchPolicy memory options${python ? '' : ` (skipped: ${reason})`}`, () => {
  const opened: TorchPolicy[] = [];
  afterAll(async () => {
    for (const p of opened) await p.close();
  });

  it('micro-batches and gradient checkpointing give the same scores and the same step', async () => {
    const dir = conformanceCheckpoint();
    const [plain, small] = await Promise.all([
      TorchPolicy.open(dir, { id: 'plain', python: python!, threads: 1 }),
      TorchPolicy.open(dir, { id: 'micro', python: python!, threads: 1, microBatchTokens: 40, gradientCheckpointing: true }),
    ]);
    opened.push(plain, small);
    const [a, b] = [await plain.scoreSequences(sequences), await small.scoreSequences(sequences)];
    a.forEach((s, i) => expect(relativeError(b[i].logProb, s.logProb)).toBeLessThan(1e-5));
    const loss = pairStepLoss(
      pairs.map((pair, i) => ({ pair, referenceChosen: a[2 * i].logProb - 1, referenceRejected: a[2 * i + 1].logProb })),
      (p) => dpoLoss(p, 0.1),
    );
    const [s1, s2] = [await plain.trainStep(sequences, loss, { lr: 1e-2 }), await small.trainStep(sequences, loss, { lr: 1e-2 })];
    expect(relativeError(s2.result.loss, s1.result.loss)).toBeLessThan(1e-5);
    expect(relativeError(s2.gradNorm, s1.gradNorm)).toBeLessThan(1e-5);
    const [c, d] = [await plain.scoreSequences(sequences), await small.scoreSequences(sequences)];
    c.forEach((s, i) => expect(relativeError(d[i].logProb, s.logProb)).toBeLessThan(1e-4));
  }, 180_000);
});
