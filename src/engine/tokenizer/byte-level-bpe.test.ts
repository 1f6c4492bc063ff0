/**
 * Tests for the byte-level BPE tokenizer's encoding and decoding: round trips, special tokens and the
 * merge order (against a textbook reference loop, not HF's own outputs; test/parity compares with
 * HF `tokenizers`). Training is tested in bpe-train.test.ts, tokenizer.json in tokenizer-json.test.ts.
 * Nothing here measures time.
 */

import { describe, expect, it } from 'vitest';
import { makeCorpus, ROUND_TRIP_SAMPLES, SPECIAL_TOKENS, toByteLevel, utf8 } from '../../testing/bpe-fixtures.js';
import { ByteLevelBpeTokenizer } from './byte-level-bpe.js';

const corpus = makeCorpus(400);
const tokenizer = ByteLevelBpeTokenizer.train(corpus, { vocabSize: 480, specialTokens: SPECIAL_TOKENS });

describe('round trips', () => {
  it.each(ROUND_TRIP_SAMPLES)('decode(encode(s)) === s for %j', (text) => {
    expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
  });

  it('encodes the empty string to no tokens', () => {
    expect(tokenizer.encode('')).toEqual([]);
    expect(tokenizer.decode([])).toBe('');
  });

  it('replaces lone surrogates with U+FFFD instead of failing', () => {
    const text = 'high \uD83D alone, low \uDC00 alone, reversed \uDC00\uD83D end\uD83D';
    const expected = text.replace(/[\uD800-\uDFFF]/g, '\uFFFD');
    expect(tokenizer.decode(tokenizer.encode(text))).toBe(expected);
  });

  it('round-trips special tokens embedded in text', () => {
    const text = 'before<|user|>Hi there<|assistant|>Hello!<|end|>after<|pad|><|pad|>';
    const ids = tokenizer.encode(text);
    expect(tokenizer.decode(ids)).toBe(text);
    expect(ids.filter((id) => tokenizer.isSpecial(id))).toEqual([2, 3, 1, 0, 0]);
  });

  it('round-trips pathological pre-tokens (long runs of one character)', () => {
    const text = ' '.repeat(5000) + 'a'.repeat(5000) + '\n'.repeat(300) + '!'.repeat(3000);
    expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
  });

  it('concatenated tokenBytes equal the UTF-8 of the decoded text', () => {
    for (const text of [...ROUND_TRIP_SAMPLES, 'x<|end|>y']) {
      const ids = tokenizer.encode(text);
      const parts = ids.map((id) => tokenizer.tokenBytes(id));
      const joined = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
      let offset = 0;
      for (const part of parts) {
        joined.set(part, offset);
        offset += part.length;
      }
      expect(joined).toEqual(utf8(tokenizer.decode(ids)));
    }
  });

  it('decodes a token sequence cut inside a UTF-8 character to U+FFFD without throwing', () => {
    // Raw byte tokens guarantee the cut falls inside the 4-byte emoji.
    const byteIds = [...utf8('🌸')].map((byte) => SPECIAL_TOKENS.length + byte);
    expect(tokenizer.decode(byteIds)).toBe('🌸');
    expect(tokenizer.decode(byteIds.slice(0, 2))).toBe('\uFFFD');
    expect(tokenizer.decode(byteIds.slice(1))).toContain('\uFFFD');
  });
});

describe('special tokens', () => {
  it('gives special tokens ids 0..n-1 and bytes the next 256 ids', () => {
    SPECIAL_TOKENS.forEach((token, id) => {
      expect(tokenizer.specialTokenId(token)).toBe(id);
      expect(tokenizer.isSpecial(id)).toBe(true);
    });
    expect(tokenizer.specialTokens).toEqual(SPECIAL_TOKENS);
    expect(tokenizer.isSpecial(SPECIAL_TOKENS.length)).toBe(false);
    expect(tokenizer.tokenBytes(SPECIAL_TOKENS.length + 0x41)).toEqual(Uint8Array.of(0x41));
    expect(tokenizer.vocabSize).toBe(480);
  });

  it('specialTokenId names the unknown token in its error', () => {
    expect(() => tokenizer.specialTokenId('<|nope|>')).toThrow(/"<\|nope\|>" is not a special token/);
  });

  it('allowSpecial: false encodes special-token text as ordinary bytes', () => {
    const text = 'a<|user|>b<|end|>';
    const ids = tokenizer.encode(text, { allowSpecial: false });
    expect(ids.some((id) => tokenizer.isSpecial(id))).toBe(false);
    expect(tokenizer.decode(ids)).toBe(text);
    expect(tokenizer.encode(text)).not.toEqual(ids);
  });

  it('skipSpecial drops special tokens from decoded text', () => {
    const ids = tokenizer.encode('<|system|>Be kind.<|user|>Hi<|end|>');
    expect(tokenizer.decode(ids, { skipSpecial: true })).toBe('Be kind.Hi');
    expect(tokenizer.decode(ids)).toBe('<|system|>Be kind.<|user|>Hi<|end|>');
  });

  it('prefers the longest special token when one prefixes another', () => {
    const nested = ByteLevelBpeTokenizer.train(['plain text'], {
      vocabSize: 300,
      specialTokens: ['<|a|>', '<|a|>x'],
    });
    expect(nested.encode('<|a|>x<|a|>')).toEqual([1, 0]);
  });

  it('rejects a special token that is a single byte character', () => {
    expect(() => ByteLevelBpeTokenizer.train([], { vocabSize: 300, specialTokens: ['!'] })).toThrow(/specialTokens/);
  });
});

describe('encoding', () => {
  it('matches the textbook GPT-2 merge loop (lowest rank everywhere, then repeat)', () => {
    const json = tokenizer.toJSON();
    const ranks = new Map<string, number>();
    (json.model as { merges: [string, string][] }).merges.forEach(([left, right], rank) => {
      if (!ranks.has(`${left} ${right}`)) ranks.set(`${left} ${right}`, rank);
    });
    const vocab = (json.model as { vocab: Record<string, number> }).vocab;
    const samples = ['assistant', ' harmfulharmful', ' aaaaaaa', 'refusesrefuses', ' the café 2025', '优化算法优化'];
    for (const sample of samples) {
      const expected = textbookBpe(toByteLevel(sample), ranks).map((token) => vocab[token]);
      expect(tokenizer.encode(sample, { allowSpecial: false }), sample).toEqual(expected);
    }
  });

  it('encodes a large repetitive text consistently (speed sanity, no timing assertion)', () => {
    const text = corpus.join('').repeat(3);
    const ids = tokenizer.encode(text);
    expect(tokenizer.decode(ids)).toBe(text);
    // The cache must not change results: a fresh tokenizer gives the same ids.
    const fresh = ByteLevelBpeTokenizer.fromJSON(tokenizer.toJSON());
    expect(fresh.encode(text)).toEqual(ids);
    expect(ids.length).toBeLessThan(utf8(text).length / 3);
  });
});

// ------------------------------------------------------------------------------------------------
// Independent, slow reference implementation.

function textbookBpe(word: string, ranks: Map<string, number>): string[] {
  let parts = [...word];
  for (;;) {
    let best: string | undefined;
    let bestRank = Infinity;
    for (let i = 0; i + 1 < parts.length; i++) {
      const rank = ranks.get(`${parts[i]} ${parts[i + 1]}`);
      if (rank !== undefined && rank < bestRank) {
        bestRank = rank;
        best = `${parts[i]} ${parts[i + 1]}`;
      }
    }
    if (best === undefined) return parts;
    const merged: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      if (i + 1 < parts.length && `${parts[i]} ${parts[i + 1]}` === best) {
        merged.push(parts[i] + parts[i + 1]);
        i++;
      } else merged.push(parts[i]);
    }
    parts = merged;
  }
}
