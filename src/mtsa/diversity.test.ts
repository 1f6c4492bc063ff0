import { describe, expect, it } from 'vitest';
import { bleu, meanCosine, meanSelfBleu, ngramIndex, selfBleuPair, wordTokens } from './diversity.js';

const index = (text: string) => ngramIndex(wordTokens(text));

describe('self-BLEU', () => {
  it('tokenises words and punctuation like nltk.word_tokenize on simple text', () => {
    expect(wordTokens("Tell me, step 2: what's next?")).toEqual(['Tell', 'me', ',', 'step', '2', ':', "what's", 'next', '?']);
  });

  it('is 1 for identical texts and counts clipped n-grams', () => {
    const a = index('the cat sat on the mat');
    expect(bleu(a, a, 4)).toBeCloseTo(1, 12);
    expect(selfBleuPair(a, a)).toBeCloseTo(1, 12);
  });

  it('matches a hand computation with the brevity penalty and method1 smoothing', () => {
    // hyp "the cat" (2 tokens), ref "the cat sat" (3 tokens), BLEU-2:
    // p1 = 2/2, p2 = 1/1 → geometric mean 1; BP = exp(1 − 3/2)
    expect(bleu(index('the cat'), index('the cat sat'), 2)).toBeCloseTo(Math.exp(-0.5), 12);
    // hyp "a b c" vs ref "a x c": p1 = 2/3, p2 = 0 → ε/2 = 0.05; BLEU-2 = sqrt(2/3 · 0.05)
    expect(bleu(index('a b c'), index('a x c'), 2)).toBeCloseTo(Math.sqrt((2 / 3) * 0.05), 12);
    // orders beyond the hypothesis length use ε / max(1, 0) = 0.1
    expect(bleu(index('a b'), index('a b'), 3)).toBeCloseTo(Math.cbrt(1 * 1 * 0.1), 12);
  });

  it('meanSelfBleu averages over the reference set', () => {
    const refs = [index('the cat sat'), index('a dog ran')];
    const expected = (selfBleuPair(index('the cat sat'), refs[0]) + selfBleuPair(index('the cat sat'), refs[1])) / 2;
    expect(meanSelfBleu('the cat sat', refs)).toBeCloseTo(expected, 12);
    expect(meanSelfBleu('anything', [])).toBe(0);
  });

  it('meanCosine of unit vectors', () => {
    const v = Float32Array.of(1, 0);
    expect(meanCosine(v, [Float32Array.of(1, 0), Float32Array.of(0, 1)])).toBeCloseTo(0.5, 12);
  });
});
