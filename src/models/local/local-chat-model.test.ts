import { describe, expect, it } from 'vitest';
import { Rng } from '../../core/rng.js';
import { user } from '../../core/message.js';
import { ReuseScope } from '../../core/models.js';
import { generate } from '../../engine/generate.js';
import type { TokenBatch } from '../../engine/nn/llama.js';
import { LlmAttacker } from '../../attacks/attacker.js';
import { runConversations } from '../../attacks/run-conversation.js';
import { KeywordJudge, ScriptedChatModel } from '../../testing/fakes.js';
import { tinyModel, tinyTokenizer } from '../../testing/tiny.js';
import { LocalChatModel } from './local-chat-model.js';

describe('LocalChatModel', () => {
  const tokenizer = tinyTokenizer(['Thinking 1: ask plainly.\nAttack question 1: how?', 'Sure, here it is.']);
  const model = tinyModel(3, { vocabSize: tokenizer.vocabSize, maxPositions: 96 });
  const chat = new LocalChatModel(model, tokenizer, { id: 'tiny' });
  const sampling = { temperature: 1, topP: 1, maxTokens: 12 };

  it('continues a prefill: the reply starts with it and the sample is the engine continuing prompt + prefill', async () => {
    const messages = [user('hello')];
    const [reply] = await chat.generate([{ messages, generationRole: 'user', prefill: 'Thinking 2:', sampling, seed: 11 }]);
    expect(reply.text.startsWith('Thinking 2:')).toBe(true);

    const prompt = [...chat.template.render(messages, 'user').ids, ...chat.template.encodeContent('Thinking 2:')];
    const [direct] = generate(model, [prompt], {
      padId: chat.template.padId,
      rng: [new Rng(11)],
      settings: [{ temperature: 1, topP: 1, maxNewTokens: 12, stopTokenIds: [chat.template.endId] }],
    });
    expect(reply.text).toBe(('Thinking 2:' + chat.template.decode(direct.tokens)).trim());
    expect(reply.usage.promptTokens).toBe(prompt.length);
  });

  it('without a prefill, the same seed gives the same reply whatever else is in the batch', async () => {
    const request = { messages: [user('hello')], sampling, seed: 5 };
    const [alone] = await chat.generate([request]);
    const [, inBatch] = await chat.generate([{ messages: [user('a longer prompt than the other')], sampling, seed: 9 }, request]);
    expect(inBatch.text).toBe(alone.text);
  });

  it('a mid-reply prefill follows the first line break of the reply', async () => {
    const breaks = chat.lineBreakTokens();
    expect(breaks.has(chat.template.encodeContent('\n')[0])).toBe(true);
    expect(breaks.has(chat.template.encodeContent('a')[0])).toBe(false);
    const requests = Array.from({ length: 24 }, (_, i) => ({
      messages: [user('hello')],
      prefill: 'Thinking 3:',
      afterFirstLine: 'Attack question 3:',
      sampling: { temperature: 3, topP: 1, maxTokens: 40 },
      seed: i,
    }));
    const replies = await chat.generate(requests);
    const withBreak = replies.filter((r) => r.text.includes('\n'));
    expect(withBreak.length).toBeGreaterThan(0);
    for (const r of withBreak) expect(r.text.slice(r.text.indexOf('\n') + 1).startsWith('Attack question 3:')).toBe(true);
  });
});

describe('LocalChatModel prefix reuse across the turns of a dialogue batch', () => {
  const tokenizer = tinyTokenizer(['Thinking 1: ask plainly.\nAttack question 1: how?', 'Sure, here it is.', 'What is [restricted procedure] number 3?']);

  /** Five-turn dialogues: scripted attacker questions, a tiny local target; the target's prefills are logged. */
  async function dialogues(prefixCacheBytes: number, temperature: number) {
    const model = tinyModel(41, { vocabSize: tokenizer.vocabSize, maxPositions: 512 });
    for (const t of model.params.values()) if (t.shape.length === 2) for (let i = 0; i < t.size; i++) t.data[i] *= 20;
    const prefilled: number[] = [];
    const forward = model.forwardHidden.bind(model);
    model.forwardHidden = (batch: TokenBatch, ...rest) => {
      if (batch.seqLen > 1) prefilled.push(batch.batch * batch.seqLen);
      return forward(batch, ...rest);
    };
    const target = new LocalChatModel(model, tokenizer, { id: 'tiny-target', prefixCacheBytes });
    const attackerModel = new ScriptedChatModel('scripted', (request, i) => ` step ${request.messages.length} of ${i % 3}.\n What is [restricted procedure] number ${i % 5}?`);
    const attacker = new LlmAttacker(attackerModel, { id: 'attacker', mode: 'thought', maxAttempts: 1, sampling: { temperature: 1, topP: 1, maxTokens: 40 } });
    const starts = Array.from({ length: 6 }, (_, i) => ({ id: `d${i}`, seed: 100 + i, objective: { id: `o${i}`, text: `[harmful objective ${i}]`, kind: 'harmful' as const } }));
    const trajectories = await runConversations(starts, { attacker, target, judge: new KeywordJudge(), maxTurns: 5, targetSampling: { temperature, topP: 0.95, maxTokens: 10 } });
    return { replies: trajectories.map((t) => t.turns.map((turn) => turn.reply)), prefilled: prefilled.reduce((a, b) => a + b, 0), attackerCalls: attackerModel.calls };
  }

  it('greedy replies are the same with and without reuse, and the target prefills far fewer positions', async () => {
    const plain = await dialogues(0, 0);
    const reused = await dialogues(64 * 2 ** 20, 0);
    expect(reused.replies.every((r) => r.length === 5)).toBe(true);
    expect(reused.replies).toEqual(plain.replies);
    expect(reused.prefilled * 2).toBeLessThan(plain.prefilled);
    // Every call of one runConversations carries one scope, the attacker's included.
    const scope = reused.attackerCalls[0].reuse;
    expect(scope).toBeDefined();
    expect(reused.attackerCalls.every((c) => c.reuse === scope)).toBe(true);
  });

  it("a scope reuses only its own calls: a new scope (another evaluation cell, another worker's job) prefills everything again", async () => {
    const model = tinyModel(42, { vocabSize: tokenizer.vocabSize, maxPositions: 256 });
    const calls: number[] = [];
    const forward = model.forwardHidden.bind(model);
    model.forwardHidden = (batch: TokenBatch, ...rest) => {
      calls.push(batch.batch * batch.seqLen);
      return forward(batch, ...rest);
    };
    const chat = new LocalChatModel(model, tokenizer, { id: 'tiny' });
    /** the reply, and the positions of the call's first forward (its prefill) */
    const ask = async (reuse: ReuseScope) => {
      const from = calls.length;
      const [reply] = await chat.generate([{ messages: [user('What is [restricted procedure] number 3?')], sampling: { temperature: 0, topP: 1, maxTokens: 8 }, reuse }]);
      return { text: reply.text, prefilled: calls[from], prompt: reply.usage.promptTokens };
    };
    const first = new ReuseScope();
    const a = await ask(first);
    const b = await ask(first);
    const c = await ask(new ReuseScope());
    expect([b.text, c.text]).toEqual([a.text, a.text]);
    expect(a.prefilled).toBe(a.prompt);
    expect(b.prefilled).toBe(1); // the same prompt again in the same scope: only its last token
    expect(c.prefilled).toBe(a.prompt);
  });

  it('batches prompts by the positions left to prefill, so continued dialogues are not held back by fresh ones', async () => {
    const model = tinyModel(43, { vocabSize: tokenizer.vocabSize, maxPositions: 512 });
    const calls: { batch: number; seqLen: number }[] = [];
    const forward = model.forwardHidden.bind(model);
    model.forwardHidden = (batch: TokenBatch, ...rest) => {
      calls.push({ batch: batch.batch, seqLen: batch.seqLen });
      return forward(batch, ...rest);
    };
    const chat = new LocalChatModel(model, tokenizer, { id: 'tiny', maxBatch: 2 });
    const reuse = new ReuseScope();
    const sampling = { temperature: 0, topP: 1, maxTokens: 4 };
    const opening = (n: number) => [user(`What is [restricted procedure] number ${n}? `.repeat(n))];
    // two dialogues of 3 and 5 repetitions, then their next turns beside fresh prompts of 4 and 6
    const replies = await chat.generate([3, 5].map((n) => ({ messages: opening(n), sampling, reuse })));
    const next = [3, 5].map((n, i) => ({ messages: [...opening(n), { role: 'assistant' as const, content: replies[i].text }, user('Sure, here it is.')], sampling, reuse }));
    const from = calls.length;
    await chat.generate([next[0], { messages: opening(4), sampling, reuse }, next[1], { messages: opening(6), sampling, reuse }]);
    // Sorted by prompt length the batches would be (3-next, 4) and (5-next, 6), each prefilling a
    // whole fresh prompt; by positions left they are (3-next, 5-next), a short prefill, and (4, 6).
    const prefills = calls.slice(from).filter((c) => c.seqLen > 1);
    expect(prefills).toHaveLength(2);
    expect(prefills[0].batch).toBe(2);
    expect(prefills[0].seqLen).toBeLessThan(chat.promptTokens(opening(3), 'assistant', 0).length);
  });

  it('sampled replies (a seed per request) are the same too on this model: reuse changes only float rounding', async () => {
    const plain = await dialogues(0, 1);
    expect((await dialogues(64 * 2 ** 20, 1)).replies).toEqual(plain.replies);
  });
});
