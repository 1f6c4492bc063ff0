/**
 * Parity with Hugging Face: the engine's logits on our checkpoints equal transformers'
 * LlamaForCausalLM (fp32, max |Δlogit| ≤ 1e-4) with tied and untied heads and grouped-query
 * attention, and our tokenizer's ids equal the `tokenizers` library's on the same tokenizer.json.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.js';
import { saveCheckpoint } from '../../src/engine/checkpoint/hf-checkpoint.js';
import { noGrad } from '../../src/engine/tensor.js';
import { ByteLevelBpeTokenizer } from '../../src/engine/tokenizer/byte-level-bpe.js';
import { SPECIAL_TOKENS } from '../../src/models/chat-template.js';
import { TorchPolicy } from '../../src/models/torch/torch-policy.js';
import { tinyModel } from '../../src/testing/tiny.js';
import { venvPython } from '../conformance/python-venv.js';

const { python, reason } = venvPython();

const corpus = [
  'How do I bake bread?  Mix flour and water,\tthen bake.',
  'naïve café — déjà vu; 東京 and Zürich; emoji 🙂🙃 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢.',
  'Thinking 1: ask politely.\nAttack question 1: tell me about [harmful objective 3]',
  'I cannot help with [restricted procedure].\n\n\nWhitespace    runs\t\t and\r\n line ends   ',
  "It's, they're, we'll — contractions 123 4567 89.",
];

const texts = [
  ...corpus,
  '<|user|>Tell me a story.<|end|><|assistant|>Once upon a time.<|end|>',
  '   leading and trailing spaces   ',
  '\n\n\t \u00a0non-breaking\u00a0space and zero\u200bwidth',
  'Ελληνικά, русский, العربية, हिन्दी, 한국어',
  'mixed<|end|>special<|pad|>tokens<|bos|>inside',
  'unseen words: quizzical xylophone jubilant',
];

const maxDelta = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

describe.skipIf(!python)(`parity with Hugging Face transformers and tokenizers${python ? '' : ` (skipped: ${reason})`}`, () => {
  const tokenizer = ByteLevelBpeTokenizer.train(corpus, { vocabSize: 420, specialTokens: [...SPECIAL_TOKENS], minFrequency: 1 });
  const opened: TorchPolicy[] = [];
  afterAll(async () => {
    for (const p of opened) await p.close();
  });
  const figures: Record<string, number> = {};

  for (const variant of [
    { name: 'tied head, grouped-query attention (4 heads, 2 KV)', tied: true, numHeads: 4, numKvHeads: 2 },
    { name: 'untied head, multi-head attention', tied: false, numHeads: 4, numKvHeads: 4 },
    { name: 'untied head, one KV head', tied: false, numHeads: 4, numKvHeads: 1 },
  ]) {
    it(`engine logits equal LlamaForCausalLM's: ${variant.name}`, async () => {
      const dir = join(mkdtempSync(join(tmpdir(), 'mtsa-parity-')), 'model');
      const model = tinyModel(21, {
        vocabSize: tokenizer.vocabSize,
        hiddenSize: 32,
        intermediateSize: 56,
        numLayers: 3,
        numHeads: variant.numHeads,
        numKvHeads: variant.numKvHeads,
        maxPositions: 64,
        tieWordEmbeddings: variant.tied,
        ropeTheta: 5000,
      });
      // Norm gains away from 1 so a swapped or missing gain would show.
      const rng = new Rng(5);
      for (const [name, t] of model.params) if (name.endsWith('norm.weight')) for (let i = 0; i < t.size; i++) t.data[i] = 1 + 0.3 * rng.normal();
      saveCheckpoint(dir, { model, tokenizer, metadata: {} });
      const B = 3;
      const T = 48;
      const ids = Array.from({ length: B }, () => Array.from({ length: T }, () => rng.int(tokenizer.vocabSize)));
      const engine = noGrad(() => model.logits(model.forwardHidden({ ids: Int32Array.from(ids.flat()), batch: B, seqLen: T })).data);
      const policy = await TorchPolicy.open(dir, { id: 'parity', python: python!, threads: 1 });
      opened.push(policy);
      const { logits } = await policy.worker.request<{ logits: number[][][] }>('logits', { ids });
      const delta = maxDelta(engine, logits.flat(2));
      figures[variant.name] = delta;
      console.log(`max |Δlogit| engine vs transformers, ${variant.name}: ${delta.toExponential(2)}`);
      expect(delta).toBeLessThanOrEqual(1e-4);
    }, 120_000);
  }

  it('our tokenizer gives the tokenizers library’s ids on Unicode, whitespace runs and special tokens', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtsa-tokenizer-'));
    saveCheckpoint(join(dir, 'ck'), { model: tinyModel(1, { vocabSize: tokenizer.vocabSize }), tokenizer, metadata: {} });
    const script =
      'import json,sys\nfrom tokenizers import Tokenizer\njob=json.load(sys.stdin)\nt=Tokenizer.from_file(job["path"])\nprint(json.dumps([t.encode(x, add_special_tokens=False).ids for x in job["texts"]]))';
    const result = spawnSync(python!, ['-c', script], { input: JSON.stringify({ path: join(dir, 'ck', 'tokenizer.json'), texts }), encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    const theirs = JSON.parse(result.stdout) as number[][];
    let agree = 0;
    let total = 0;
    texts.forEach((text, i) => {
      const ours = tokenizer.encode(text, { allowSpecial: true });
      expect(ours, JSON.stringify(text)).toEqual(theirs[i]);
      total += ours.length;
      agree += ours.filter((id, k) => id === theirs[i][k]).length;
      // and they decode back to the text
      expect(tokenizer.decode(ours)).toBe(text);
    });
    console.log(`tokenizer agreement with tokenizers: ${agree}/${total} ids over ${texts.length} texts`);
  });
});
