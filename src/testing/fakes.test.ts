import { describe, expect, it } from 'vitest';
import { user } from '../core/message.js';
import { ScriptedChatModel } from './fakes.js';

describe('ScriptedChatModel behaves like LocalChatModel around prefills', () => {
  const sampling = { temperature: 1, topP: 1, maxTokens: 16 };
  const generate = (said: string, request: { prefill?: string; afterFirstLine?: string; stop?: string[] }) =>
    new ScriptedChatModel('m', () => said)
      .generate([{ messages: [user('hi')], sampling: { ...sampling, stop: request.stop }, prefill: request.prefill, afterFirstLine: request.afterFirstLine }])
      .then((r) => r[0].text);

  it('returns the prefill followed by what the model wrote, even when the model repeats it', async () => {
    expect(await generate(' a plan', { prefill: 'Thinking 1:' })).toBe('Thinking 1: a plan');
    expect(await generate('Thinking 1: a plan', { prefill: 'Thinking 1:' })).toBe('Thinking 1:Thinking 1: a plan');
  });

  it('forces the mid-reply prefill after the first line break and strips nothing the model wrote', async () => {
    expect(await generate(' plan\n question', { prefill: 'Thinking 2:', afterFirstLine: 'Attack question 2:' })).toBe('Thinking 2: plan\nAttack question 2: question');
    // The engine keeps a marker the model writes itself after the forced one; so does the fake.
    expect(await generate(' plan\nAttack question 7: question', { prefill: 'Thinking 2:', afterFirstLine: 'Attack question 2:' })).toBe(
      'Thinking 2: plan\nAttack question 2:Attack question 7: question',
    );
  });

  it('ends before a stop string after the prefill, trimmed like the engine', async () => {
    expect(await generate(' one END two', { prefill: 'END?', stop: ['END'] })).toBe('END? one');
  });
});
