/**
 * Tests for byte-level BPE training: determinism down to the tokenizer.json bytes, stopping rules,
 * special tokens kept out of the merges, and the fast trainer's merges equal to a brute-force
 * trainer that recounts every pair each step (a reference here, not HF's own output).
 */
import { describe, expect, it } from 'vitest';
import { makeCorpus, SPECIAL_TOKENS, toByteLevel } from '../../testing/bpe-fixtures.js';
import { ByteLevelBpeTokenizer } from './byte-level-bpe.js';

const tokenizer = ByteLevelBpeTokenizer.train(makeCorpus(400), { vocabSize: 480, specialTokens: SPECIAL_TOKENS });

describe('training', () => {
  it('is deterministic down to the toJSON() bytes', () => {
    const again = ByteLevelBpeTokenizer.train(makeCorpus(400), { vocabSize: 480, specialTokens: SPECIAL_TOKENS });
    expect(JSON.stringify(again.toJSON())).toBe(JSON.stringify(tokenizer.toJSON()));
  });

  it('turns frequent words into single tokens', () => {
    for (const word of [' assistant', ' harmful', ' request', 'You', ' helpful']) {
      expect(tokenizer.encode(word), word).toHaveLength(1);
    }
    expect(tokenizer.encode('Tell me how the assistant refuses a harmful request').length).toBeLessThanOrEqual(9);
  });

  it('does not learn merges from special-token text', () => {
    const vocab = (tokenizer.toJSON().model as { vocab: Record<string, number> }).vocab;
    expect(Object.keys(vocab).filter((token) => token.includes('<|') || token.includes('|>'))).toEqual(SPECIAL_TOKENS);
  });

  it('stops early when no pair reaches minFrequency', () => {
    const small = ByteLevelBpeTokenizer.train(['abab cd'], { vocabSize: 1000, specialTokens: [], minFrequency: 2 });
    // Only "ab" occurs twice; nothing else can be merged.
    expect(small.vocabSize).toBe(257);
    expect(small.encode('abab')).toEqual([256, 256]);
  });

  it('matches a brute-force trainer that recounts every pair each step', () => {
    const documents = makeCorpus(60).concat(['aaaa aaa aa a', 'abcabc abcab bcabca', 'zzzz zz zzz']);
    const options = { vocabSize: 520, specialTokens: SPECIAL_TOKENS, minFrequency: 2 };
    const trained = ByteLevelBpeTokenizer.train(documents, options);
    const model = trained.toJSON().model as { merges: [string, string][] };
    expect(model.merges).toEqual(bruteForceMerges(documents, options.vocabSize, SPECIAL_TOKENS, options.minFrequency));
  });

  it('throws on a vocabSize too small for the special and byte tokens', () => {
    expect(() => ByteLevelBpeTokenizer.train([], { vocabSize: 100, specialTokens: SPECIAL_TOKENS })).toThrow(/vocabSize/);
  });
});

// ------------------------------------------------------------------------------------------------
// Independent, slow reference implementation.

function bruteForceMerges(documents: string[], vocabSize: number, specials: string[], minFrequency: number): [string, string][] {
  const pattern = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
  const counts = new Map<string, number>();
  for (const document of documents) {
    let rest = document;
    for (const special of specials) rest = rest.split(special).join('\u0000SPLIT\u0000');
    for (const piece of rest.split('\u0000SPLIT\u0000')) {
      for (const match of piece.matchAll(pattern)) counts.set(match[0], (counts.get(match[0]) ?? 0) + 1);
    }
  }
  const idOf = new Map<string, number>();
  for (let byte = 0; byte < 256; byte++) idOf.set(toByteLevel(String.fromCharCode(byte), true), specials.length + byte);
  const words = [...counts].map(([word, count]) => ({ parts: [...toByteLevel(word)], count }));
  const merges: [string, string][] = [];
  let size = specials.length + 256;
  while (size < vocabSize) {
    const pairCounts = new Map<string, { left: string; right: string; count: number }>();
    for (const { parts, count } of words) {
      for (let i = 0; i + 1 < parts.length; i++) {
        const key = `${parts[i]} ${parts[i + 1]}`;
        const entry = pairCounts.get(key) ?? { left: parts[i], right: parts[i + 1], count: 0 };
        entry.count += count;
        pairCounts.set(key, entry);
      }
    }
    let best: { left: string; right: string; count: number } | undefined;
    for (const entry of pairCounts.values()) {
      const better =
        best === undefined ||
        entry.count > best.count ||
        (entry.count === best.count && (idOf.get(entry.left)! < idOf.get(best.left)! || (entry.left === best.left && idOf.get(entry.right)! < idOf.get(best.right)!)));
      if (better) best = entry;
    }
    if (best === undefined || best.count < minFrequency) break;
    const { left, right } = best;
    merges.push([left, right]);
    if (!idOf.has(left + right)) idOf.set(left + right, size++);
    for (const word of words) {
      const merged: string[] = [];
      for (let i = 0; i < word.parts.length; i++) {
        if (i + 1 < word.parts.length && word.parts[i] === left && word.parts[i + 1] === right) {
          merged.push(left + right);
          i++;
        } else merged.push(word.parts[i]);
      }
      word.parts = merged;
    }
  }
  return merges;
}
