/**
 * The conformance suite every TrainablePolicy implementation passes, run against the engine's
 * LocalPolicy and the PyTorch worker's TorchPolicy on the same tiny checkpoint (grouped-query
 * attention, a Llama layout). The engine is the reference: the subject's scores must equal the
 * engine's, one DPO step from the same weights must move the parameters the same way, a few DPO
 * steps must raise the margin, and a checkpoint saved by either must restore in the other.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assistant, system, user } from '../../src/core/message.js';
import type { ScoredConversation, TrainablePolicy } from '../../src/core/models.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/engine/checkpoint/hf-checkpoint.js';
import { LocalPolicy } from '../../src/models/local/local-policy.js';
import { tinyModel, tinyTokenizer } from '../../src/testing/tiny.js';
import { dpoLoss } from '../../src/training/losses/dpo-loss.js';
import { logRatioMargin, pairStepLoss, trainOnPairs, type TrainingPair } from '../../src/training/trainers.js';

export type Subject = TrainablePolicy & { close?: () => Promise<void> };

const corpus = [
  'How do I bake bread?',
  'Mix flour and water, then bake.',
  'I cannot help with [restricted procedure].',
  'Tell me a story.',
  'Once upon a time, a fox.',
  'Thinking 1: ask politely.\nAttack question 1: tell me about [harmful objective 3]',
];

/** A tiny Llama checkpoint (GQA: 4 heads, 2 KV heads; untied head when `tied` is false). */
export function conformanceCheckpoint(tied = true): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'mtsa-conformance-')), 'model');
  const tokenizer = tinyTokenizer(corpus);
  const model = tinyModel(11, { vocabSize: tokenizer.vocabSize, hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, numKvHeads: 2, maxPositions: 128, tieWordEmbeddings: tied });
  saveCheckpoint(dir, { model, tokenizer, metadata: {} });
  return dir;
}

const scored = (messages: ScoredConversation['messages']): ScoredConversation => ({ messages, scored: [messages.length - 1] });

export const pairs: TrainingPair[] = [
  { chosen: scored([user('How do I bake bread?'), assistant('Mix flour and water, then bake.')]), rejected: scored([user('How do I bake bread?'), assistant('Once upon a time, a fox.')]) },
  { chosen: scored([user('Tell me a story.'), assistant('Once upon a time, a fox.')]), rejected: scored([user('Tell me a story.'), assistant('I cannot help with [restricted procedure].')]) },
  {
    chosen: {
      messages: [system('[harmful objective 3]'), user('Tell me a story.'), assistant('Once upon a time.'), user('How do I bake bread?'), assistant('I cannot help with [restricted procedure].')],
      scored: [2, 4],
    },
    rejected: {
      messages: [system('[harmful objective 3]'), user('Tell me a story.'), assistant('Once upon a time.'), user('How do I bake bread?'), assistant('Mix flour, then bake.')],
      scored: [2, 4],
    },
  },
];

const sequences = pairs.flatMap((p) => [p.chosen, p.rejected]);

function engine(dir: string): LocalPolicy {
  const { model, tokenizer } = loadCheckpoint(dir);
  return new LocalPolicy(model, tokenizer, { id: 'engine' });
}

function weights(dir: string): Map<string, Float32Array> {
  return new Map([...loadCheckpoint(dir).model.params].map(([name, t]) => [name, Float32Array.from(t.data)]));
}

function delta(after: Map<string, Float32Array>, before: Map<string, Float32Array>): Float64Array {
  const parts: number[] = [];
  for (const [name, b] of before) {
    const a = after.get(name)!;
    for (let i = 0; i < b.length; i++) parts.push(a[i] - b[i]);
  }
  return Float64Array.from(parts);
}

export function cosine(a: Float64Array, b: Float64Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

export function relativeError(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(1e-12, Math.abs(b));
}

/** Each test starts a worker or two (several seconds each on a loaded machine). */
const TIMEOUT = 180_000;

/** Figures the suite measured, printed at the end (for the closing note). */
export const measured: Record<string, number> = {};

export function trainablePolicyConformance(name: string, open: (dir: string) => Promise<Subject>): void {
  describe(`TrainablePolicy conformance: ${name}`, () => {
    let dir = '';
    const opened: Subject[] = [];
    const subject = async (checkpoint = dir) => {
      const s = await open(checkpoint);
      opened.push(s);
      return s;
    };
    beforeAll(() => {
      dir = conformanceCheckpoint();
    });

    afterAll(async () => {
      for (const s of opened) await s.close?.();
      console.log(`conformance ${name}: ${JSON.stringify(measured)}`);
    }, TIMEOUT);

    it(
      'scores equal the engine’s (≤ 1e-4 relative), current and reference',
      async () => {
        const s = await subject();
        const want = await engine(dir).scoreSequences(sequences);
        for (const reference of [false, true]) {
          const got = await s.scoreSequences(sequences, { reference });
          let worst = 0;
          got.forEach((g, i) => {
            expect(g.tokens).toBe(want[i].tokens);
            worst = Math.max(worst, relativeError(g.logProb, want[i].logProb));
          });
          expect(worst).toBeLessThanOrEqual(1e-4);
          measured[`score_rel_err${reference ? '_reference' : ''}`] = worst;
        }
      },
      TIMEOUT,
    );

    it(
      'one DPO step from the same weights updates the parameters as the engine does (cosine ≥ 0.999)',
      async () => {
        const s = await subject();
        const e = engine(dir);
        const reference = await e.scoreSequences(sequences, { reference: true });
        const batch = pairs.map((pair, i) => ({ pair, referenceChosen: reference[2 * i].logProb + 0.3 * (i - 1), referenceRejected: reference[2 * i + 1].logProb }));
        const loss = pairStepLoss(batch, (p) => dpoLoss(p, 0.1));
        const options = { lr: 1e-2, maxGradNorm: 0.05, weightDecay: 0.1 };
        const mine = await s.trainStep(sequences, loss, options);
        const theirs = await e.trainStep(sequences, loss, options);
        expect(relativeError(mine.result.loss, theirs.result.loss)).toBeLessThan(1e-4);
        expect(relativeError(mine.gradNorm, theirs.gradNorm)).toBeLessThan(1e-3);
        const base = mkdtempSync(join(tmpdir(), 'mtsa-conformance-step-'));
        await s.save(join(base, 'subject'));
        await e.save(join(base, 'engine'));
        const before = weights(dir);
        const a = delta(weights(join(base, 'subject')), before);
        const b = delta(weights(join(base, 'engine')), before);
        const c = cosine(a, b);
        expect(c).toBeGreaterThanOrEqual(0.999);
        const na = Math.hypot(...a);
        const nb = Math.hypot(...b);
        expect(relativeError(na, nb)).toBeLessThan(1e-2);
        measured.update_cosine = c;
        measured.update_norm_rel_err = relativeError(na, nb);
        measured.grad_norm_rel_err = relativeError(mine.gradNorm, theirs.gradNorm);
        expect(await s.fingerprint()).not.toBe(await (await subject()).fingerprint());
      },
      TIMEOUT,
    );

    it(
      'a few DPO steps raise the chosen-minus-rejected margin',
      async () => {
        const s = await subject();
        await s.snapshotReference();
        const before = await logRatioMargin(s, pairs);
        await trainOnPairs(s, pairs, (p) => dpoLoss(p, 0.1), { epochs: 4, batchSize: 3, lr: 2e-2, warmupRatio: 0, maxGradNorm: 1, seed: 1 });
        const after = await logRatioMargin(s, pairs);
        expect(before).toBeCloseTo(0, 4);
        expect(after).toBeGreaterThan(before + 0.5);
        measured[`dpo_margin_after_4_steps`] = after;
      },
      TIMEOUT,
    );

    it(
      'a checkpoint saved by the subject restores in the engine, and the engine’s in the subject, with equal scores',
      async () => {
        const base = mkdtempSync(join(tmpdir(), 'mtsa-conformance-save-'));
        const s = await subject();
        await s.trainStep(
          sequences,
          pairStepLoss(
            pairs.map((pair) => ({ pair, referenceChosen: -20, referenceRejected: -20 })),
            (p) => dpoLoss(p, 0.1),
          ),
          { lr: 5e-2 },
        );
        await s.save(join(base, 'by-subject'), { note: 'conformance' });
        const e = engine(dir);
        await e.restore(join(base, 'by-subject'));
        const fromSubject = await s.scoreSequences(sequences);
        const inEngine = await e.scoreSequences(sequences);
        inEngine.forEach((x, i) => expect(relativeError(x.logProb, fromSubject[i].logProb)).toBeLessThanOrEqual(1e-4));

        await e.trainStep(
          sequences,
          pairStepLoss(
            pairs.map((pair) => ({ pair, referenceChosen: -10, referenceRejected: -30 })),
            (p) => dpoLoss(p, 0.1),
          ),
          { lr: 5e-2 },
        );
        await e.save(join(base, 'by-engine'));
        await s.restore(join(base, 'by-engine'));
        const want = await e.scoreSequences(sequences);
        const got = await s.scoreSequences(sequences);
        let worst = 0;
        got.forEach((x, i) => (worst = Math.max(worst, relativeError(x.logProb, want[i].logProb))));
        expect(worst).toBeLessThanOrEqual(1e-4);
        measured.save_restore_rel_err = worst;
        expect(relativeError(await s.fingerprint(), await e.fingerprint())).toBeLessThan(1e-5);
      },
      TIMEOUT,
    );

    it(
      'generates with a prefill and a forced line after the first line break, the same text for the same seed',
      async () => {
        const s = await subject();
        const request = {
          messages: [user('Tell me a story.')],
          generationRole: 'user' as const,
          sampling: { temperature: 1, topP: 0.95, maxTokens: 24 },
          prefill: 'Thinking 1:',
          afterFirstLine: 'Attack question 1:',
          seed: 7,
        };
        const [a, b] = await s.generate([request, request]);
        expect(a.text).toBe(b.text);
        expect(a.text.startsWith('Thinking 1:')).toBe(true);
        if (a.text.includes('\n')) expect(a.text.split('\n')[1].startsWith('Attack question 1:')).toBe(true);
        expect(a.usage.completionTokens).toBeGreaterThan(0);
        const [greedy] = await s.generate([{ messages: [user('How do I bake bread?')], sampling: { temperature: 0, topP: 1, maxTokens: 8 } }]);
        const [engineGreedy] = await engine(dir).generate([{ messages: [user('How do I bake bread?')], sampling: { temperature: 0, topP: 1, maxTokens: 8 } }]);
        expect(greedy.text).toBe(engineGreedy.text);
      },
      TIMEOUT,
    );
  });
}
