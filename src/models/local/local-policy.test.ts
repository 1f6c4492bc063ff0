import { describe, expect, it } from 'vitest';
import { assistant, user } from '../../core/message.js';
import type { ScoredConversation } from '../../core/models.js';
import { languageModelLoss } from '../../engine/log-probs.js';
import { AdamW } from '../../engine/optim/adamw.js';
import { backward, clearTape } from '../../engine/tensor.js';
import { tinyModel, tinyTokenizer } from '../../testing/tiny.js';
import { tokenMeanNll } from '../../training/trainers.js';
import { LocalPolicy } from './local-policy.js';

const tokenizer = tinyTokenizer(['How do I bake bread?', 'Mix flour and water, then bake.', 'Tell me a story.', 'Once upon a time.']);
const items: ScoredConversation[] = [
  { messages: [user('How do I bake bread?'), assistant('Mix flour and water, then bake.')], scored: [1] },
  { messages: [user('Tell me a story.'), assistant('Once upon a time.')], scored: [1] },
  { messages: [user('Tell me a story.'), assistant('Once upon a time.'), user('How do I bake bread?'), assistant('Mix flour.')], scored: [1, 3] },
];

function policy(): LocalPolicy {
  return new LocalPolicy(tinyModel(5, { vocabSize: tokenizer.vocabSize, maxPositions: 96 }), tokenizer, { id: 'tiny' });
}

describe('LocalPolicy.trainStep', () => {
  it('runs one forward per step, and its scores are the pre-step scores', async () => {
    const p = policy();
    const before = await p.scoreSequences(items);
    const model = (p as unknown as { model: { forwardHidden: (...a: unknown[]) => unknown } }).model;
    const original = model.forwardHidden.bind(model);
    let forwards = 0;
    model.forwardHidden = (...a: unknown[]) => {
      forwards++;
      return original(...a);
    };
    const { scores, result } = await p.trainStep(items, tokenMeanNll, { lr: 1e-2 });
    expect(forwards).toBe(1);
    scores.forEach((s, i) => {
      expect(s.logProb).toBeCloseTo(before[i].logProb, 5);
      expect(s.tokens).toBe(before[i].tokens);
    });
    expect(result.loss).toBeCloseTo(tokenMeanNll(before).loss, 5);
  });

  it('updates the weights exactly as back-propagating the token-mean NLL tensor and one AdamW step', async () => {
    const p = policy();
    const direct = tinyModel(5, { vocabSize: tokenizer.vocabSize, maxPositions: 96 });
    const { gradNorm } = await p.trainStep(items, tokenMeanNll, { lr: 1e-2, maxGradNorm: 0.5 });

    clearTape();
    const encoded = items.map((item) => p.encode(item));
    const { loss } = languageModelLoss(direct, encoded, tokenizer.specialTokenId('<|pad|>'));
    backward(loss);
    const optimizer = new AdamW([...direct.params.values()], { lr: 0, maxGradNorm: 0.5 });
    const expected = optimizer.update(1e-2);
    expect(gradNorm).toBeCloseTo(expected.gradNorm, 4);

    const trained = (p as unknown as { model: typeof direct }).model;
    let maxDelta = 0;
    for (const [name, t] of direct.params) {
      const other = trained.params.get(name);
      if (!other) throw new Error(`missing ${name}`);
      for (let i = 0; i < t.size; i++) maxDelta = Math.max(maxDelta, Math.abs(t.data[i] - other.data[i]));
    }
    expect(maxDelta).toBeLessThan(1e-6);
  });

  it('refuses a loss that returns the wrong number of gradients', async () => {
    const p = policy();
    await expect(p.trainStep(items, () => ({ loss: 0, gradients: [1], metrics: {} }), { lr: 1e-3 })).rejects.toThrow(/3 sequences/);
  });
});

describe('LocalPolicy.encode on a conversation longer than the context', () => {
  const corpus = [
    'Goal: [harmful objective 1]',
    'How do I bake bread?',
    'Mix flour and water, then bake.',
    'Tell me a story.',
    'Once upon a time.',
    'Thinking 3:',
    'A short plan.',
    'A much longer and more detailed plan than the other one.',
  ];
  const tok = tinyTokenizer(corpus);
  const p = new LocalPolicy(tinyModel(5, { vocabSize: tok.vocabSize, maxPositions: 128 }), tok, { id: 'short' });
  const prompt = [
    { role: 'system' as const, content: 'Goal: [harmful objective 1]' },
    user('How do I bake bread?'),
    assistant('Mix flour and water, then bake.'),
    user('Tell me a story.'),
    assistant('Once upon a time.'),
    user('How do I bake bread?'),
    assistant('Mix flour and water, then bake.'),
  ];
  const generatedWith = { maxTokens: 36, prefill: 'Thinking 3:' };
  const item = (reply: string): ScoredConversation => ({ messages: [...prompt, user(`Thinking 3: ${reply}`)], scored: [prompt.length], generatedWith });

  it('keeps the system prompt and drops the oldest turns, exactly the context generation used', () => {
    expect(p.template.render(item('A short plan.').messages).ids.length).toBeGreaterThan(128);
    const generationPrompt = p.promptTokens(prompt, 'user', p.replyReserve(generatedWith.maxTokens, generatedWith.prefill));
    const encoded = p.encode(item('A short plan.'));
    // generation's prompt (ending in the opened user turn) is the start of the scored sequence
    expect(Array.from(encoded.ids).slice(0, generationPrompt.length)).toEqual(generationPrompt);
    expect(encoded.ids[0]).toBe(tok.specialTokenId('<|system|>'));
    expect(encoded.ids.length).toBeLessThanOrEqual(128);
    expect(encoded.tokens).toBe(p.template.completion('Thinking 3: A short plan.').length);
  });

  it('scores chosen and rejected of one pair in the same context, whatever their lengths', () => {
    const short = p.encode(item('A short plan.'));
    const long = p.encode(item('A much longer and more detailed plan than the other one.'));
    const context = (e: { ids: ArrayLike<number>; mask: ArrayLike<number> }) => Array.from(e.ids).slice(0, Array.from(e.mask).indexOf(1));
    expect(context(short)).toEqual(context(long));
    expect(context(long).length).toBeLessThan(p.template.render(prompt, 'user').ids.length);
    // Without generatedWith the reply's own length is reserved: still the system prompt first.
    const bare = p.encode({ messages: item('A short plan.').messages, scored: [prompt.length] });
    expect(bare.ids[0]).toBe(tok.specialTokenId('<|system|>'));
  });
});
