import { describe, expect, it } from 'vitest';
import { Rng } from '../../core/rng.js';
import { user } from '../../core/message.js';
import { generate } from '../../engine/generate.js';
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
