/**
 * Data parallelism in the worker (torchrun, gloo on CPU, 2 ranks) changes nothing but speed: the
 * same scores, the same gradient norm and weights after a DPO step, the same samples for the same
 * seeds as one process. Same protocol, same client.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { user } from '../../src/core/message.js';
import { TorchPolicy } from '../../src/models/torch/torch-policy.js';
import { dpoLoss } from '../../src/training/losses/dpo-loss.js';
import { pairStepLoss } from '../../src/training/trainers.js';
import { venvPython } from './python-venv.js';
import { conformanceCheckpoint, pairs, relativeError } from './trainable-policy.js';

const { python, reason } = venvPython();
const sequences = pairs.flatMap((p) => [p.chosen, p.rejected]);

describe.skipIf(!python)(`TorchPolicy under torchrun (2 ranks, CPU)${python ? '' : ` (skipped: ${reason})`}`, () => {
  const opened: TorchPolicy[] = [];
  afterAll(async () => {
    for (const p of opened) await p.close();
  });

  it('scores, one DPO step and sampling equal the single-process worker’s', async () => {
    const dir = conformanceCheckpoint(false);
    const [one, two] = await Promise.all([TorchPolicy.open(dir, { id: 'one', python: python!, threads: 1 }), TorchPolicy.open(dir, { id: 'ddp', python: python!, threads: 1, processes: 2 })]);
    opened.push(one, two);
    expect((two.info as unknown as { world: number }).world).toBe(2);
    const [a, b] = [await one.scoreSequences(sequences), await two.scoreSequences(sequences)];
    a.forEach((s, i) => expect(relativeError(b[i].logProb, s.logProb)).toBeLessThan(1e-6));
    const loss = pairStepLoss(
      pairs.map((pair, i) => ({ pair, referenceChosen: a[2 * i].logProb - 1, referenceRejected: a[2 * i + 1].logProb })),
      (p) => dpoLoss(p, 0.1),
    );
    const options = { lr: 1e-2, maxGradNorm: 0.05, weightDecay: 0.1 };
    const [s1, s2] = [await one.trainStep(sequences, loss, options), await two.trainStep(sequences, loss, options)];
    expect(relativeError(s2.gradNorm, s1.gradNorm)).toBeLessThan(1e-5);
    // Adam's first step is about lr·sign(g): a gradient summed in another order can flip the sign of
    // the tiniest components, so the weights agree closely, not bit for bit.
    expect(relativeError(await two.fingerprint(), await one.fingerprint())).toBeLessThan(1e-4);
    const [c, d] = [await one.scoreSequences(sequences), await two.scoreSequences(sequences)];
    c.forEach((s, i) => expect(relativeError(d[i].logProb, s.logProb)).toBeLessThan(1e-4));
    const requests = [1, 2, 3].map((seed) => ({ messages: [user('Tell me a story.')], sampling: { temperature: 1, topP: 0.9, maxTokens: 12 }, seed }));
    expect((await two.generate(requests)).map((r) => r.text)).toEqual((await one.generate(requests)).map((r) => r.text));
  }, 180_000);
});
