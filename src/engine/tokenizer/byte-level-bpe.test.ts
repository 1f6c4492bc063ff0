/**
 * Tests for the byte-level BPE tokenizer: round trips, training, special tokens and tokenizer.json I/O.
 * Brute-force reference implementations here check the fast paths; they are not HF's own outputs,
 * and nothing here measures time.
 */

import { describe, expect, it } from 'vitest';
import { ByteLevelBpeTokenizer } from './byte-level-bpe.js';

const SPECIAL_TOKENS = ['<|pad|>', '<|end|>', '<|user|>', '<|assistant|>', '<|system|>'];

function makeCorpus(documentCount: number): string[] {
  const subjects = ['the assistant', 'a user', 'the model', 'Élodie', '東京の人', 'the café'];
  const verbs = ['refuses', 'explains', 'describes', 'declines', 'rewrites'];
  const objects = ['a harmful request', 'the safety guidelines', 'a poem about 🌸', 'the 2025 results', '优化算法'];
  const documents: string[] = [];
  for (let i = 0; i < documentCount; i++) {
    const subject = subjects[i % subjects.length];
    const verb = verbs[(i * 7) % verbs.length];
    const object = objects[(i * 3) % objects.length];
    documents.push(
      `<|system|>You are a helpful, harmless assistant.\n<|user|>Tell me how ${subject} ${verb} ${object} (case ${i % 97}).\n` +
        `<|assistant|>Sure: ${subject} ${verb} ${object}; I can't help with more.\t\n<|end|>`,
    );
  }
  return documents;
}

const corpus = makeCorpus(400);
const tokenizer = ByteLevelBpeTokenizer.train(corpus, { vocabSize: 480, specialTokens: SPECIAL_TOKENS });

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

const ROUND_TRIP_SAMPLES = [
  '',
  'Hello, world!',
  'The assistant refuses a harmful request.',
  'Crème brûlée, naïve façade, Ångström',
  '東京の人は优化算法を説明します。',
  'emoji 🌸🚀 and 👩‍👩‍👧‍👦 (ZWJ family) and 🇫🇷 flags, skin tone 👍🏽',
  'line one\nline two\r\n\ttabbed\t\tcolumns',
  'runs   of     spaces    \n\n\n   trailing   ',
  "contractions: it's, we're, they've, I'm, you'll, he'd, don't",
  '\uFEFFstarts with a byte order mark',
  '\u0000 control \u0007 chars \u007f and \u00a0 nbsp',
  'numbers 1234567890 ٣٤٥ and symbols @#$%^&*()_+{}|:"<>?',
];

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

describe('tokenizer.json', () => {
  it('has the Hugging Face structure', () => {
    const json = tokenizer.toJSON();
    expect(json).toMatchObject({
      version: '1.0',
      truncation: null,
      padding: null,
      normalizer: null,
      post_processor: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: false,
      },
    });
    expect(json.added_tokens).toEqual(
      SPECIAL_TOKENS.map((content, id) => ({
        id,
        content,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      })),
    );
    const model = json.model as { vocab: Record<string, number>; merges: [string, string][] };
    expect(Object.keys(model.vocab)).toHaveLength(480);
    expect(model.vocab['Ġ']).toBe(SPECIAL_TOKENS.length + 0x20);
    expect(model.vocab['Ċ']).toBe(SPECIAL_TOKENS.length + 0x0a);
    // At least one merge per new token; more only if two splits built the same bytes.
    expect(model.merges.length).toBeGreaterThanOrEqual(480 - 256 - SPECIAL_TOKENS.length);
    expect(model.merges.every((merge) => Array.isArray(merge) && merge.length === 2)).toBe(true);
  });

  it('survives JSON.stringify → JSON.parse → fromJSON with identical encodings', () => {
    const reloaded = ByteLevelBpeTokenizer.fromJSON(JSON.parse(JSON.stringify(tokenizer.toJSON())));
    expect(reloaded.vocabSize).toBe(tokenizer.vocabSize);
    expect(reloaded.specialTokens).toEqual(tokenizer.specialTokens);
    for (const text of [...ROUND_TRIP_SAMPLES, ...corpus.slice(0, 20)]) {
      expect(reloaded.encode(text)).toEqual(tokenizer.encode(text));
    }
    expect(JSON.stringify(reloaded.toJSON())).toBe(JSON.stringify(tokenizer.toJSON()));
  });

  it('accepts merges written as "a b" strings (older HF files)', () => {
    const json = JSON.parse(JSON.stringify(tokenizer.toJSON()));
    json.model.merges = json.model.merges.map(([left, right]: [string, string]) => `${left} ${right}`);
    const reloaded = ByteLevelBpeTokenizer.fromJSON(json);
    for (const text of ROUND_TRIP_SAMPLES) expect(reloaded.encode(text)).toEqual(tokenizer.encode(text));
  });

  it('reads a hand-written HF file with its own id layout', () => {
    // GPT-2 style: bytes in arbitrary id order, the special token last and also in the vocab.
    const vocab: Record<string, number> = {};
    const byteTokens = Array.from({ length: 256 }, (_, byte) => toByteLevel(String.fromCharCode(byte), true));
    byteTokens.forEach((token, index) => (vocab[token] = 255 - index));
    vocab['Ġt'] = 256;
    vocab['he'] = 257;
    vocab['Ġthe'] = 258;
    vocab['<|endoftext|>'] = 259;
    const json = {
      version: '1.0',
      added_tokens: [{ id: 259, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }],
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true },
      post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false },
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true },
      model: { type: 'BPE', dropout: null, unk_token: null, vocab, merges: ['Ġ t', 'h e', 'Ġt he'] },
    };
    const loaded = ByteLevelBpeTokenizer.fromJSON(json);
    expect(loaded.vocabSize).toBe(260);
    expect(loaded.encode(' the')).toEqual([258]);
    expect(loaded.encode('the<|endoftext|>')).toEqual([vocab['t'], 257, 259]);
    expect(loaded.decode([258, 259], { skipSpecial: true })).toBe(' the');
    expect(loaded.specialTokenId('<|endoftext|>')).toBe(259);
  });

  it('applies merges lowest rank first, leftmost first on ties', () => {
    const vocab: Record<string, number> = {};
    for (let byte = 0; byte < 256; byte++) vocab[toByteLevel(String.fromCharCode(byte), true)] = byte;
    vocab['aa'] = 256;
    vocab['aaa'] = 257;
    const base = { pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false } };
    const loaded = ByteLevelBpeTokenizer.fromJSON({
      ...base,
      model: {
        type: 'BPE',
        vocab,
        merges: [
          ['a', 'a'],
          ['aa', 'a'],
        ],
      },
    });
    expect(loaded.encode('aaa')).toEqual([257]);
    expect(loaded.encode('aaaa')).toEqual([256, 256]);
    expect(loaded.encode('aaaaa')).toEqual([256, 257]);
  });

  it('gives errors that name the offending field', () => {
    // biome-ignore lint/suspicious/noExplicitAny: the test corrupts arbitrary fields of the JSON on purpose
    const good = (): Record<string, any> => JSON.parse(JSON.stringify(tokenizer.toJSON()));
    // biome-ignore lint/suspicious/noExplicitAny: as above
    const withChange = (change: (json: Record<string, any>) => void): Record<string, any> => {
      const json = good();
      change(json);
      return json;
    };
    expect(() => ByteLevelBpeTokenizer.fromJSON(withChange((json) => (json.model.type = 'WordPiece')))).toThrow(/model\.type must be "BPE", got "WordPiece"/);
    expect(() => ByteLevelBpeTokenizer.fromJSON('nope')).toThrow(/tokenizer\.json must be a JSON object/);
    expect(() => ByteLevelBpeTokenizer.fromJSON(withChange((json) => delete json.model))).toThrow(/model must be an object/);
    expect(() => ByteLevelBpeTokenizer.fromJSON(withChange((json) => (json.pre_tokenizer = { type: 'Whitespace' })))).toThrow(/pre_tokenizer\.type must be "ByteLevel"/);
    expect(() => ByteLevelBpeTokenizer.fromJSON(withChange((json) => (json.pre_tokenizer.add_prefix_space = true)))).toThrow(/pre_tokenizer\.add_prefix_space/);
    expect(() => ByteLevelBpeTokenizer.fromJSON(withChange((json) => (json.normalizer = { type: 'NFC' })))).toThrow(/normalizer must be null/);
    expect(() => ByteLevelBpeTokenizer.fromJSON(withChange((json) => (json.model.merges[3] = 'x y z')))).toThrow(/model\.merges\[3\]/);
    expect(() => ByteLevelBpeTokenizer.fromJSON(withChange((json) => (json.model.merges[0] = ['Ġ', 'nothere'])))).toThrow(/model\.merges\[0\] uses "nothere"/);
    expect(() => ByteLevelBpeTokenizer.fromJSON(withChange((json) => delete json.model.vocab['Ġ']))).toThrow(/model\.vocab lacks the byte token "Ġ"/);
    expect(() => ByteLevelBpeTokenizer.fromJSON(withChange((json) => (json.model.byte_fallback = true)))).toThrow(/model\.byte_fallback/);
    expect(() => ByteLevelBpeTokenizer.fromJSON(withChange((json) => (json.added_tokens[1].special = false)))).toThrow(/added_tokens\[1\]\.special/);
  });
});

// ------------------------------------------------------------------------------------------------
// Independent, slow reference implementations.

/** The GPT-2 byte alphabet rebuilt from its definition; `single` maps one char code as one byte. */
function toByteLevel(text: string, single = false): string {
  const printable = (byte: number): boolean => (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || (byte >= 0xae && byte <= 0xff);
  const shifted = new Map<number, number>();
  let next = 256;
  for (let byte = 0; byte < 256; byte++) if (!printable(byte)) shifted.set(byte, next++);
  const bytes = single ? [text.charCodeAt(0)] : [...utf8(text)];
  return bytes.map((byte) => String.fromCharCode(printable(byte) ? byte : shifted.get(byte)!)).join('');
}

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
