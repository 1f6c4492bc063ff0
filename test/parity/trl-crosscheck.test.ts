/**
 * Our pure losses against the field's code. DPO: TRL's DPOTrainer (sigmoid loss, its own
 * _compute_loss on the same policy, reference model and pairs) gives the same loss and the same
 * parameter gradient as the engine seeded with dpoLoss's per-sequence coefficients. Future reward:
 * the MTSA reference code's regression form, (Δ − (R_c − R_r)/(2β))², equals futureRewardLoss × η²
 * with η = 1/(2β), gradients included.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { saveCheckpoint } from '../../src/engine/checkpoint/hf-checkpoint.js';
import { sequenceLogProbs } from '../../src/engine/log-probs.js';
import * as ops from '../../src/engine/ops/index.js';
import { Tensor, backward, clearTape, noGrad } from '../../src/engine/tensor.js';
import { ChatTemplate } from '../../src/models/chat-template.js';
import { encodeScored } from '../../src/models/scored-encoding.js';
import { repositoryRoot } from '../../src/models/torch/worker-process.js';
import { tinyModel, tinyTokenizer } from '../../src/testing/tiny.js';
import { dpoLoss } from '../../src/training/losses/dpo-loss.js';
import { futureRewardLoss } from '../../src/training/losses/future-reward-loss.js';
import { cosine, pairs } from '../conformance/trainable-policy.js';
import { venvPython } from '../conformance/python-venv.js';

const { python, reason } = venvPython();

function crosscheck(job: Record<string, unknown>): Record<string, unknown> {
  const result = spawnSync(python!, [join(repositoryRoot(), 'python', 'crosscheck_trl.py')], { input: JSON.stringify(job), encoding: 'utf8', maxBuffer: 1 << 28 });
  if (result.status !== 0) throw new Error(`crosscheck_trl.py failed:\n${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').pop()!);
}

describe.skipIf(!python)(`cross-check against TRL and the MTSA reference code${python ? '' : ` (skipped: ${reason})`}`, () => {
  it('DPO: TRL DPOTrainer’s loss and parameter gradient equal ours on the same model, reference and pairs', () => {
    const tokenizer = tinyTokenizer([
      'How do I bake bread?',
      'Mix flour and water, then bake.',
      'Tell me a story.',
      'Once upon a time, a fox.',
      'I cannot help with [restricted procedure].',
      '[harmful objective 3]',
    ]);
    const config = { vocabSize: tokenizer.vocabSize, hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, numKvHeads: 2, maxPositions: 128, tieWordEmbeddings: false };
    const policy = tinyModel(31, config);
    const reference = tinyModel(32, config);
    const base = mkdtempSync(join(tmpdir(), 'mtsa-trl-'));
    saveCheckpoint(join(base, 'policy'), { model: policy, tokenizer, metadata: {} });
    saveCheckpoint(join(base, 'reference'), { model: reference, tokenizer, metadata: {} });
    const template = new ChatTemplate(tokenizer);
    const chosen = pairs.map((p) => encodeScored(template, p.chosen, 128));
    const rejected = pairs.map((p) => encodeScored(template, p.rejected, 128));
    const beta = 0.1;

    // Ours: sequence log-probs (policy with the tape, reference without), dpoLoss, then the
    // backward of Σ cᵢ·log πᵢ — what LocalPolicy.trainStep does.
    const sequences = [...chosen, ...rejected];
    const referenceLogProbs = noGrad(() => Array.from(sequenceLogProbs(reference, sequences, template.padId).data));
    clearTape();
    const logProbs = sequenceLogProbs(policy, sequences, template.padId);
    const n = pairs.length;
    const result = dpoLoss(
      pairs.map((_, i) => ({ policyChosen: logProbs.data[i], policyRejected: logProbs.data[n + i], referenceChosen: referenceLogProbs[i], referenceRejected: referenceLogProbs[n + i] })),
      beta,
    );
    const coefficients = [...result.gradients.map((g) => g.chosen), ...result.gradients.map((g) => g.rejected)];
    backward(ops.sum(ops.mul(logProbs, Tensor.from(coefficients))));

    const trl = crosscheck({ kind: 'dpo', policy: join(base, 'policy'), reference: join(base, 'reference'), beta, chosen, rejected }) as { loss: number; grads: Record<string, number[]>; trl: string };
    const relLoss = Math.abs(trl.loss - result.loss) / Math.abs(trl.loss);
    const ours: number[] = [];
    const theirs: number[] = [];
    for (const [name, t] of policy.params) {
      expect(trl.grads[name], `TRL has no gradient for ${name}`).toBeDefined();
      ours.push(...t.grad!);
      theirs.push(...trl.grads[name]);
    }
    const c = cosine(Float64Array.from(ours), Float64Array.from(theirs));
    let maxAbs = 0;
    let maxDiff = 0;
    ours.forEach((g, i) => {
      maxAbs = Math.max(maxAbs, Math.abs(theirs[i]));
      maxDiff = Math.max(maxDiff, Math.abs(g - theirs[i]));
    });
    console.log(
      `TRL ${trl.trl} DPO (sigmoid, β=${beta}, ${n} pairs): loss ours ${result.loss.toFixed(7)} vs TRL ${trl.loss.toFixed(7)} (rel ${relLoss.toExponential(2)}); gradient cosine ${c.toFixed(9)}, max |Δgrad| ${maxDiff.toExponential(2)} of max |grad| ${maxAbs.toExponential(2)}`,
    );
    expect(relLoss).toBeLessThan(1e-5);
    expect(c).toBeGreaterThan(0.99999);
    expect(maxDiff / maxAbs).toBeLessThan(1e-4);
  }, 120_000);

  it('future reward: the reference code’s (Δ − ΔR/(2β))² equals futureRewardLoss × η² (η = 1/(2β) = 50), gradients too', () => {
    const beta = 0.01;
    const eta = 1 / (2 * beta);
    const batch = [
      { policyChosen: -12.5, policyRejected: -20.25, referenceChosen: -13, referenceRejected: -19.5, chosenReward: 2.4, rejectedReward: 0.9 },
      { policyChosen: -30.1, policyRejected: -8.7, referenceChosen: -29.9, referenceRejected: -9.2, chosenReward: 1.1, rejectedReward: 1.6 },
      { policyChosen: -5, policyRejected: -5, referenceChosen: -5, referenceRejected: -5, chosenReward: 3, rejectedReward: 0 },
    ];
    const ours = futureRewardLoss(batch, eta);
    const col = (k: keyof (typeof batch)[number]) => batch.map((p) => p[k]);
    const ref = crosscheck({
      kind: 'future',
      beta,
      policyChosen: col('policyChosen'),
      policyRejected: col('policyRejected'),
      referenceChosen: col('referenceChosen'),
      referenceRejected: col('referenceRejected'),
      chosenReward: col('chosenReward'),
      rejectedReward: col('rejectedReward'),
    }) as { loss: number; gradChosen: number[]; gradRejected: number[] };
    const scale = eta * eta;
    console.log(`future reward: reference code loss ${ref.loss.toFixed(6)} vs ours × η² ${(ours.loss * scale).toFixed(6)}`);
    expect(ours.loss * scale).toBeCloseTo(ref.loss, 6);
    ours.gradients.forEach((g, i) => {
      expect(g.chosen * scale).toBeCloseTo(ref.gradChosen[i], 8);
      expect(g.rejected * scale).toBeCloseTo(ref.gradRejected[i], 8);
    });
  }, 60_000);
});
