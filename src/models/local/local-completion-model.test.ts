import { describe, expect, it } from 'vitest';
import { sequenceLogProbs } from '../../engine/log-probs.js';
import { noGrad } from '../../engine/tensor.js';
import { tinyModel, tinyTokenizer } from '../../testing/tiny.js';
import { ChatTemplate } from '../chat-template.js';
import { LocalCompletionModel, nextTokenTopLogprobs } from './local-completion-model.js';

const tokenizer = tinyTokenizer(['the guard says safe', 'the guard says unsafe', 'User: hello\n\nAgent: hi there'], 300);
// seed 10: the top-1 next token is a plain one ("V"), so greedy text shows it
const model = tinyModel(10, { vocabSize: tokenizer.vocabSize });
const prompt = '<|user|>User: hello\n\nAgent: hi there<|end|>';

describe('LocalCompletionModel', () => {
  it('first-token top-k log-probs agree with the training forward and with greedy decoding', async () => {
    const completion = new LocalCompletionModel('local', model, tokenizer);
    const [response] = await completion.complete([{ prompt, sampling: { temperature: 0, topP: 1, maxTokens: 1 }, topLogprobs: 5 }]);
    const top = response.firstTokenLogprobs!;
    expect(top).toHaveLength(5);
    for (let i = 1; i < top.length; i++) expect(top[i].logprob).toBeLessThanOrEqual(top[i - 1].logprob);
    // Greedy decoding picks the top-1 token.
    const ids = tokenizer.encode(prompt, { allowSpecial: true });
    expect(response.text).toBe(top[0].token);
    // The cached-forward log-prob of the best token equals the training forward's log p(token | prompt).
    const best = nextTokenTopLogprobs(model, tokenizer, ids, tokenizer.vocabSize);
    const bestId = Array.from({ length: tokenizer.vocabSize }, (_, id) => id).find((id) => tokenizer.decode([id]) === best[0].token)!;
    const reference = noGrad(() => sequenceLogProbs(model, [{ ids: [...ids, bestId], mask: [...ids.map(() => 0), 1] }], new ChatTemplate(tokenizer).padId).data[0]);
    expect(best[0].logprob).toBeCloseTo(reference, 4);
    // Over the whole vocabulary the probabilities sum to 1.
    expect(best.reduce((s, t) => s + Math.exp(t.logprob), 0)).toBeCloseTo(1, 5);
  });

  it('no log-probs unless asked; an empty prompt is an error response', async () => {
    const completion = new LocalCompletionModel('local', model, tokenizer);
    const [plain, empty] = await completion.complete([
      { prompt, sampling: { temperature: 0, topP: 1, maxTokens: 3 } },
      { prompt: '', sampling: { temperature: 0, topP: 1, maxTokens: 3 } },
    ]);
    expect(plain.firstTokenLogprobs).toBeUndefined();
    expect(plain.usage.completionTokens).toBeGreaterThan(0);
    expect(empty.finishReason).toBe('error');
  });
});
