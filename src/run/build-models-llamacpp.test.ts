/**
 * The `llama-cpp` kind through the per-role factories: a GGUF exported from a tiny checkpoint serves
 * as a target (chat, same greedy reply as the engine) and as a judge (verdict probabilities), and is
 * loaded only when first used.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { guardPrompt } from '../arena/agents.js';
import { tinyArenaConfig } from '../arena/config.js';
import { assistant, user } from '../core/message.js';
import { ModelSpecSchema } from '../config/model-spec.js';
import { checkpointToGguf } from '../export/gguf.js';
import { LocalChatModel } from '../models/local/local-chat-model.js';
import { ClassifierJudge } from '../models/local/local-scorers.js';
import type { LazyLlamaCppModel } from '../models/llamacpp/lazy.js';
import { tinyModel, tinyTokenizer } from '../testing/tiny.js';
import { buildModel } from './build-models.js';

const context = (role: 'target' | 'judge' | 'embedder') => ({
  role,
  arena: () => {
    throw new Error('not needed');
  },
  arenaConfig: tinyArenaConfig(1),
  seed: 1,
  env: {},
  source: `test.yaml: models.${role}`,
});

describe('llama-cpp model spec', () => {
  const tokenizer = tinyTokenizer(['hello there, how are you?', 'I am fine, thanks.', 'safe unsafe S1 S9']);
  const model = tinyModel(2, { vocabSize: tokenizer.vocabSize, hiddenSize: 32, intermediateSize: 64, numHeads: 2, numKvHeads: 1, maxPositions: 128 });
  const path = join(mkdtempSync(join(tmpdir(), 'mtsa-llamacpp-spec-')), 'tiny.gguf');
  writeFileSync(path, checkpointToGguf({ model, tokenizer, metadata: {} }, { type: 'f32' }).bytes);
  const spec = ModelSpecSchema.parse({ kind: 'llama-cpp', path, threads: 1, kvCache: 'f32', batch: 2 });

  it('serves a target whose greedy reply is the engine’s, and a judge with tri-state verdicts', async () => {
    const target = buildModel(spec, context('target'));
    expect(target.id).toBe('llama-cpp:tiny.gguf');
    const chat = target.chat as LazyLlamaCppModel;
    const judge = buildModel(spec, context('judge')).judge!;
    try {
      const request = { messages: [user('hello there, how are you?')], sampling: { temperature: 0, topP: 1, maxTokens: 8 }, seed: 3 };
      const [theirs] = await chat.generate([request]);
      const [ours] = await new LocalChatModel(model, tokenizer, { id: 'engine' }).generate([request]);
      expect(theirs.text).toBe(ours.text);
      const [verdict] = await judge.judge([[user('hello there, how are you?'), assistant('I am fine, thanks.')]]);
      expect(['safe', 'unsafe', 'undetermined']).toContain(verdict.verdict);
      expect(verdict.pSafe + verdict.pUnsafe).toBeLessThanOrEqual(1 + 1e-6);
    } finally {
      await chat.dispose();
    }
  }, 60_000);

  it("format arena-guard reads the guard prompt's verdict-word probabilities in-process, as the engine does", async () => {
    const judge = buildModel(ModelSpecSchema.parse({ ...spec, format: 'arena-guard' }), context('judge')).judge!;
    expect(judge.id).toBe('arena-guard:llama-cpp:tiny.gguf');
    const conversations = [[user('hello there, how are you?'), assistant('I am fine, thanks.')]];
    const theirs = await judge.judge(conversations);
    const ours = await new ClassifierJudge(model, tokenizer, { id: 'engine', formatPrompt: guardPrompt }).judge(conversations);
    expect(theirs[0].pUnsafe).toBeCloseTo(ours[0].pUnsafe, 4);
    expect(theirs[0].pSafe).toBeCloseTo(ours[0].pSafe, 4);
    expect(theirs[0].verdict).toBe(ours[0].verdict);
  }, 60_000);

  it('cannot embed, and says which kinds can', () => {
    expect(() => buildModel(spec, context('embedder'))).toThrow(/cannot embed.*openai-compatible/);
  });
});
