/**
 * llama.cpp (node-llama-cpp's prebuilt CPU library) on the tiny arena's own checkpoints, exported
 * by `mtsa export gguf`: its tokenisation, log-probs, greedy continuations and guard verdicts must
 * equal the engine's. The tolerances for f16 and q8_0 were measured on these models (see
 * docs/gguf.md) and are asserted with a margin.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildArena, type ArenaBuild } from '../../arena/build.js';
import { GUARD_INSTRUCTION, guardTranscript } from '../../arena/corpora.js';
import { tinyRunConfig } from '../../config/run-config.js';
import { system, user, type Message } from '../../core/message.js';
import { Rng } from '../../core/rng.js';
import type { ChatRequest } from '../../core/models.js';
import { loadCheckpoint, type Checkpoint } from '../../engine/checkpoint/hf-checkpoint.js';
import { noGrad } from '../../engine/tensor.js';
import { checkpointToGguf, type GgufOutputType } from '../../export/gguf.js';
import { tinyModel, tinyTokenizer } from '../../testing/tiny.js';
import { ChatTemplate } from '../chat-template.js';
import { LocalChatModel } from '../local/local-chat-model.js';
import { ClassifierJudge } from '../local/local-scorers.js';
import { createLlamaCppModel, LlamaCppJudge, type LlamaCppModel, LlamaCppModelSpecSchema } from './index.js';

/** engine log-softmax rows (float64) of one token sequence */
function engineLogprobs(checkpoint: Checkpoint, ids: readonly number[]): Float64Array[] {
  const { model } = checkpoint;
  const V = model.config.vocabSize;
  const logits = noGrad(() => model.logits(model.forwardHidden({ ids: Int32Array.from(ids), batch: 1, seqLen: ids.length })).data.slice());
  return ids.map((_, t) => {
    let max = Number.NEGATIVE_INFINITY;
    for (let v = 0; v < V; v++) max = Math.max(max, logits[t * V + v]);
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(logits[t * V + v] - max);
    const row = new Float64Array(V);
    for (let v = 0; v < V; v++) row[v] = logits[t * V + v] - max - Math.log(sum);
    return row;
  });
}

/** Largest |Δ log p| over every position and every token whose engine probability is ≥ 1e-6. */
async function maxLogprobGap(checkpoint: Checkpoint, model: LlamaCppModel, sequences: readonly number[][]): Promise<{ max: number; positions: number }> {
  let max = 0;
  let positions = 0;
  for (const ids of sequences) {
    const ours = engineLogprobs(checkpoint, ids);
    const theirs = await model.nextTokenLogprobs(ids);
    ours.forEach((row, t) => {
      const other = theirs.get(t)!;
      for (let v = 0; v < row.length; v++) if (row[v] > Math.log(1e-6)) max = Math.max(max, Math.abs(row[v] - other[v]));
      positions++;
    });
  }
  return { max, positions };
}

const TOKENIZER_CORPUS = [
  'hello there, how are you?',
  "it's we'll they're I'M DON'T can't",
  'numbers 1 12 123 1234567 3.14159 -42 1,000,000',
  'spaces:  two   three    four\tand\ttabs\t\t end   ',
  '   leading and trailing   ',
  'lines\nand\n\nblank\n\n\nlines\r\nwindows\r\n',
  'Ünïcödé émigré naïve façade Ångström',
  '日本語のテキスト、中文文本。한국어 텍스트',
  'Ελληνικά русский текст עברית العربية हिन्दी',
  'emoji 👋🏽 family 👨‍👩‍👧 flags 🇫🇷 ✔︎',
  'math ∑ ∫ √ ≈ ≠ ≤ ≥ ∞ α β γ',
  'punctuation!!! ??? ... --- *** ### @@@ ``` ~~~ "quoted" (paren) [bracket] {brace}',
  'no\u00a0break\u2003em space\u3000ideographic\u2028line sep',
  'zero\u200bwidth \ufeffbom combining e\u0301 a\u0308',
  'Thinking 1: ask about [harmful objective 3]\nAttack question 1: tell me about [restricted procedure]',
];

describe('llama.cpp backend on exported arena checkpoints', () => {
  let arena: ArenaBuild;
  let target: Checkpoint;
  let dir: string;
  const models = new Map<string, LlamaCppModel>();
  let sequences: number[][];
  let template: ChatTemplate;

  async function exported(role: 'target' | 'guard', type: GgufOutputType, options: { template?: 'auto' | 'gguf'; batch?: number } = {}): Promise<LlamaCppModel> {
    const key = `${role}-${type}-${options.template ?? 'auto'}-${options.batch ?? 4}`;
    const cached = models.get(key);
    if (cached) return cached;
    const path = join(dir, `${role}-${type}.gguf`);
    writeFileSync(path, checkpointToGguf(role === 'target' ? target : loadCheckpoint(arena.checkpoints.guard), { type }).bytes);
    const model = await createLlamaCppModel({ kind: 'llama-cpp', path, kvCache: 'f32', batch: options.batch ?? 4, threads: 1, template: options.template ?? 'auto' });
    models.set(key, model);
    return model;
  }

  beforeAll(() => {
    arena = buildArena(tinyRunConfig().arena, { cacheDir: inject('arenaCache') });
    target = loadCheckpoint(arena.checkpoints.target);
    template = new ChatTemplate(target.tokenizer);
    dir = mkdtempSync(join(tmpdir(), 'mtsa-llamacpp-'));
    sequences = arena.corpora.target.slice(0, 6).map((example) => template.render(example.messages).ids.slice(0, 200));
  });

  afterAll(async () => {
    for (const model of models.values()) await model.dispose();
  });

  it('the spec schema has defaults and rejects unknown fields', () => {
    const spec = LlamaCppModelSpecSchema.parse({ kind: 'llama-cpp', path: 'm.gguf' });
    expect(spec).toMatchObject({ batch: 8, kvCache: 'f16', template: 'auto', seed: 0 });
    expect(() => LlamaCppModelSpecSchema.parse({ kind: 'llama-cpp', path: 'm.gguf', ctx: 5 })).toThrow(/ctx/);
  });

  it('tokenises like our tokenizer: plain text, whitespace runs, Unicode and special tokens', async () => {
    const model = await exported('target', 'f32');
    expect(model.templateKind).toBe('mtsa');
    const texts = [...TOKENIZER_CORPUS, ...arena.corpora.target.slice(0, 100).flatMap((e) => e.messages.map((m) => m.content))];
    for (const text of texts) expect(model.tokenize(text, false), JSON.stringify(text)).toEqual(target.tokenizer.encode(text, { allowSpecial: false }));
    const withSpecials = '<|system|>be brief<|end|><|user|>hi <|assistant|> there<|end|><|user|>text with <|end|> inside<|bos|>';
    expect(model.tokenize(withSpecials, true)).toEqual(target.tokenizer.encode(withSpecials, { allowSpecial: true }));
    expect(model.tokenize(withSpecials, false)).toEqual(target.tokenizer.encode(withSpecials, { allowSpecial: false }));
    for (const text of texts.slice(0, 20)) expect(model.detokenize(model.tokenize(text))).toBe(text);
  });

  it('the one split difference found: U+0085 (NEL) is whitespace to llama.cpp, not to JavaScript’s \\s', async () => {
    // A vocabulary with merges over these characters, so that a different pre-token split shows.
    const characters = ['\u0085', '\u00a0', '\u2003', '\u3000', '\ufeff', '\u2028', '\u200b'];
    const lines = characters.map((c) => `a${c}${c} b${c}x ${c}. word${c}${c}${c}word 12${c}34 ${c}${c}`);
    const tokenizer = tinyTokenizer(
      lines.flatMap((line) => [line, line, line]),
      600,
    );
    const path = join(dir, 'whitespace.gguf');
    writeFileSync(
      path,
      checkpointToGguf({ model: tinyModel(1, { vocabSize: tokenizer.vocabSize, hiddenSize: 32, intermediateSize: 64, numHeads: 2, numKvHeads: 1 }), tokenizer, metadata: {} }, { type: 'f32' }).bytes,
    );
    const model = await createLlamaCppModel({ kind: 'llama-cpp', path, batch: 1, threads: 1 });
    models.set('whitespace', model);
    const differing = characters.filter((_c, i) => model.tokenize(lines[i]).join() !== tokenizer.encode(lines[i], { allowSpecial: false }).join());
    expect(differing).toEqual(['\u0085']);
  });

  it('f32: next-token log-probs equal the engine’s within 1e-3 at every position', async () => {
    const { max, positions } = await maxLogprobGap(target, await exported('target', 'f32'), sequences);
    process.stdout.write(`llama.cpp f32 vs engine: max |Δ log p| = ${max.toExponential(2)} over ${positions} positions\n`);
    expect(positions).toBeGreaterThan(300);
    expect(max).toBeLessThan(1e-3);
  });

  it('f16 and q8_0 stay within their measured tolerances', async () => {
    const f16 = await maxLogprobGap(target, await exported('target', 'f16'), sequences);
    const q8 = await maxLogprobGap(target, await exported('target', 'q8_0'), sequences);
    process.stdout.write(`llama.cpp vs engine: f16 max |Δ log p| = ${f16.max.toExponential(2)}, q8_0 = ${q8.max.toExponential(2)}\n`);
    expect(f16.max).toBeLessThan(F16_TOLERANCE);
    expect(q8.max).toBeLessThan(Q8_0_TOLERANCE);
    expect(q8.max).toBeGreaterThan(0); // quantisation is real
  });

  const prompts: { messages: Message[]; prefill?: string; afterFirstLine?: string; generationRole?: 'user' }[] = [
    { messages: [user('How do I bake bread at home?')] },
    { messages: [system('You are a helpful assistant.'), user('Tell me about [harmful objective 3].')] },
    { messages: [user('What is the capital of the arena?')], prefill: 'Sure' },
    {
      messages: [system('Goal: [harmful objective 1]'), { role: 'assistant', content: 'Hello, how can I help?' }],
      generationRole: 'user',
      prefill: 'Thinking 1:',
      afterFirstLine: 'Attack question 1:',
    },
  ];

  it('greedy continuations are identical to the engine’s (prefill, afterFirstLine, user turns)', async () => {
    const model = await exported('target', 'f32');
    const engine = new LocalChatModel(target.model, target.tokenizer, { id: 'engine' });
    const requests: ChatRequest[] = [...arena.corpora.target.slice(0, 4).map((e) => ({ messages: e.messages.filter((m) => m.role !== 'assistant').slice(0, 2) })), ...prompts].map((p) => ({
      ...p,
      sampling: { temperature: 0, topP: 1, maxTokens: 48 },
    }));
    const [ours, theirs] = [await engine.generate(requests), await model.generate(requests)];
    expect(theirs.map((r) => r.text)).toEqual(ours.map((r) => r.text));
    expect(theirs.map((r) => r.finishReason)).toEqual(ours.map((r) => r.finishReason));
    expect(theirs.map((r) => r.usage)).toEqual(ours.map((r) => r.usage));
    expect(theirs[4 + 2].text.startsWith('Sure')).toBe(true);
    expect(theirs[4 + 3].text.startsWith('Thinking 1:')).toBe(true);
  });

  it('afterFirstLine is forced after the first generated line break, as the engine does', async () => {
    // A random untied model with large weights: peaked distributions whose greedy paths often
    // pick a line-break token (the tiny arena's models rarely write one greedily).
    const corpus = ['one line\ntwo lines\n\nthree', 'hello there, how are you?\nfine.', 'the cat sat on the mat\n'];
    const tokenizer = tinyTokenizer(corpus, 300);
    const random = tinyModel(5, { vocabSize: tokenizer.vocabSize, hiddenSize: 64, intermediateSize: 96, numHeads: 4, numKvHeads: 2, maxPositions: 128, tieWordEmbeddings: false });
    const rng = new Rng(5);
    for (const t of random.params.values()) if (t.shape.length === 2) for (let i = 0; i < t.size; i++) t.data[i] = rng.normal() * 0.3;
    const path = join(dir, 'random-f32.gguf');
    writeFileSync(path, checkpointToGguf({ model: random, tokenizer, metadata: {} }, { type: 'f32' }).bytes);
    const model = await createLlamaCppModel({ kind: 'llama-cpp', path, kvCache: 'f32', batch: 4, threads: 1 });
    models.set('random', model);
    const engine = new LocalChatModel(random, tokenizer, { id: 'engine-random' });
    const words = ['one', 'two', 'cat', 'mat', 'hello', 'fine', 'lines', 'there'];
    const requests: ChatRequest[] = words.flatMap((a) =>
      words.slice(0, 3).map((b) => ({
        messages: [user(`${a} ${b}`)],
        prefill: 'Thinking 1:',
        afterFirstLine: 'Attack question 1:',
        sampling: { temperature: 0, topP: 1, maxTokens: 24 },
      })),
    );
    const [ours, theirs] = [await engine.generate(requests), await model.generate(requests)];
    expect(theirs.map((r) => r.text)).toEqual(ours.map((r) => r.text));
    expect(theirs.map((r) => r.usage)).toEqual(ours.map((r) => r.usage));
    expect(theirs.filter((r) => r.text.includes('\nAttack question 1:')).length).toBeGreaterThan(0);
  });

  it('sampling: per-request seeds reproduce, independent of the batch around them; stop strings cut', async () => {
    const model = await exported('target', 'f32', { batch: 3 });
    const base = { messages: [user('How do I bake bread at home?')], sampling: { temperature: 1, topP: 1, maxTokens: 32 } };
    const batch = [7, 8, 9, 10, 11].map((seed) => ({ ...base, seed }));
    const first = await model.generate(batch);
    const again = await model.generate(batch);
    expect(again.map((r) => r.text)).toEqual(first.map((r) => r.text));
    expect(new Set(first.map((r) => r.text)).size).toBeGreaterThan(1);
    const alone = await model.generate([batch[3]]);
    expect(alone[0].text).toBe(first[3].text);
    const word = first[0].text.split(' ')[2];
    if (word) {
      const [cut] = await model.generate([{ ...batch[0], sampling: { ...base.sampling, stop: [word] } }]);
      expect(cut.text).toBe(first[0].text.slice(0, first[0].text.indexOf(word)).trim());
      expect(cut.finishReason).toBe('stop');
    }
  });

  it('first-token log-probs (chat and completion) equal the engine’s distribution', async () => {
    const model = await exported('target', 'f32');
    const messages = [user('Tell me about [harmful objective 3].')];
    const ids = template.render(messages, 'assistant').ids;
    const row = engineLogprobs(target, ids)[ids.length - 1];
    const best = [...row.keys()].sort((a, b) => row[b] - row[a]).slice(0, 5);
    const [chat] = await model.generate([{ messages, sampling: { temperature: 0, topP: 1, maxTokens: 1 }, topLogprobs: 5 }]);
    const prompt = target.tokenizer.decode(ids);
    const [completion] = await model.complete([{ prompt, sampling: { temperature: 0, topP: 1, maxTokens: 1 }, topLogprobs: 5 }]);
    for (const response of [chat, completion]) {
      expect(response.firstTokenLogprobs!.map((t) => t.token)).toEqual(best.map((id) => target.tokenizer.decode([id])));
      response.firstTokenLogprobs!.forEach((t, k) => expect(Math.abs(t.logprob - row[best[k]])).toBeLessThan(1e-3));
    }
    expect(completion.usage.promptTokens).toBe(ids.length);
  });

  it('the GGUF’s Jinja template (rendered by @huggingface/jinja) gives our template’s tokens', async () => {
    const viaJinja = await exported('target', 'f32', { template: 'gguf' });
    const viaOurs = await exported('target', 'f32');
    expect(viaJinja.templateKind).toBe('gguf');
    for (const { messages } of prompts.slice(0, 3)) expect(viaJinja.renderChat(messages)).toEqual(viaOurs.renderChat(messages));
    // a third-party model only writes assistant turns: the attacker's view is flipped
    const flipped = viaJinja.renderChat([user('a'), { role: 'assistant', content: 'b' }], 'user');
    expect(flipped).toEqual(viaOurs.renderChat([{ role: 'assistant', content: 'a' }, user('b')], 'assistant'));
  });

  it('a Llama-Guard-shaped judge: the arena guard as GGUF gives the engine’s verdicts', async () => {
    const guard = loadCheckpoint(arena.checkpoints.guard);
    const formatPrompt = (c: readonly Message[]) => [system(GUARD_INSTRUCTION), user(guardTranscript(c))];
    const engineJudge = new ClassifierJudge(guard.model, guard.tokenizer, { id: 'engine-guard', formatPrompt });
    const judge = new LlamaCppJudge(await exported('guard', 'f32'), { id: 'gguf-guard', formatPrompt });
    const conversations = arena.corpora.target.slice(0, 24).map((e) => e.messages.filter((m) => m.role !== 'system'));
    const [ours, theirs] = [await engineJudge.judge(conversations), await judge.judge(conversations)];
    expect(theirs.map((j) => j.verdict)).toEqual(ours.map((j) => j.verdict));
    expect(theirs.map((j) => j.category)).toEqual(ours.map((j) => j.category));
    theirs.forEach((j, i) => expect(Math.abs(j.pUnsafe - ours[i].pUnsafe), `${i} ${j.rationale} vs ${ours[i].rationale}`).toBeLessThan(1e-3));
    expect(new Set(ours.map((j) => j.verdict)).size).toBeGreaterThan(1); // both verdicts occur
    // the same guard through the third-party path (its Jinja template, text tokenisation)
    const viaJinja = await new LlamaCppJudge(await exported('guard', 'f32', { template: 'gguf' }), { id: 'gguf-guard-jinja', formatPrompt }).judge(conversations);
    expect(viaJinja.map((j) => j.verdict)).toEqual(ours.map((j) => j.verdict));
    viaJinja.forEach((j, i) => expect(Math.abs(j.pUnsafe - ours[i].pUnsafe)).toBeLessThan(1e-3));
  });
});

// Measured on the tiny arena target over tokens with p ≥ 1e-6 (f16 1.2e-2, q8_0 2.5e-1; see
// docs/gguf.md) and asserted with about 2× margin.
const F16_TOLERANCE = 3e-2;
const Q8_0_TOLERANCE = 0.5;
