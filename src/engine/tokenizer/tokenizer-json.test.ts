/**
 * Tests for reading and writing Hugging Face tokenizer.json (byte-level BPE): the structure written,
 * round trips, files written by HF with their own id layout, and errors that name the field for
 * files of another kind or with wrong types.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../core/errors.js';
import { makeCorpus, ROUND_TRIP_SAMPLES, SPECIAL_TOKENS, toByteLevel } from '../../testing/bpe-fixtures.js';
import { ByteLevelBpeTokenizer } from './byte-level-bpe.js';

const corpus = makeCorpus(400);
const tokenizer = ByteLevelBpeTokenizer.train(corpus, { vocabSize: 480, specialTokens: SPECIAL_TOKENS });

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

  it('names the field, the expectation and the value found for a missing or wrongly typed field', () => {
    // biome-ignore lint/suspicious/noExplicitAny: the test corrupts arbitrary fields of the JSON on purpose
    const corrupt = (change: (json: Record<string, any>) => void): (() => ByteLevelBpeTokenizer) => {
      const json = JSON.parse(JSON.stringify(tokenizer.toJSON()));
      change(json);
      return () => ByteLevelBpeTokenizer.fromJSON(json);
    };
    // biome-ignore lint/suspicious/noExplicitAny: as above
    const cases: [(json: Record<string, any>) => void, string][] = [
      [(json) => delete json.model.merges, 'tokenizer.json model.merges must be an array of "left right" strings or [left, right] pairs, got undefined'],
      [(json) => (json.model.merges = 'Ġ t'), 'tokenizer.json model.merges must be an array of "left right" strings or [left, right] pairs, got "Ġ t"'],
      [(json) => (json.model.merges[2] = 42), 'tokenizer.json model.merges[2] must be "left right" or [left, right], got 42'],
      [(json) => (json.model.merges[4] = ['Ġ', 't', 'h']), 'tokenizer.json model.merges[4] must be "left right" or [left, right], got ["Ġ","t","h"]'],
      [(json) => delete json.model.vocab, 'tokenizer.json model.vocab must be an object of token → id, got undefined'],
      [(json) => (json.model.vocab = [1, 2]), 'tokenizer.json model.vocab must be an object of token → id, got [1,2]'],
      [(json) => (json.model.vocab['Ġ'] = '37'), 'tokenizer.json model.vocab["Ġ"] must be a non-negative integer id, got "37"'],
      [(json) => (json.model.vocab.a = -1), 'tokenizer.json model.vocab["a"] must be a non-negative integer id, got -1'],
      [(json) => (json.model.vocab.a = 1.5), 'tokenizer.json model.vocab["a"] must be a non-negative integer id, got 1.5'],
      [(json) => (json.model.ignore_merges = 'yes'), 'tokenizer.json model.ignore_merges must be a boolean, got "yes"'],
      [(json) => (json.model.dropout = 0.1), 'tokenizer.json model.dropout must be null (no BPE dropout), got 0.1'],
      [(json) => (json.model.continuing_subword_prefix = '##'), 'tokenizer.json model.continuing_subword_prefix must be null, got "##"'],
      [(json) => delete json.pre_tokenizer, 'tokenizer.json pre_tokenizer must be {"type": "ByteLevel", "add_prefix_space": false, ...}, got undefined'],
      [(json) => delete json.pre_tokenizer.add_prefix_space, 'tokenizer.json pre_tokenizer.add_prefix_space must be false (a prefix space would break round trips), got undefined'],
      [(json) => (json.pre_tokenizer.use_regex = false), 'tokenizer.json pre_tokenizer.use_regex must be true (the GPT-2 split is always applied), got false'],
      [(json) => (json.decoder = { type: 'WordPiece' }), 'tokenizer.json decoder.type must be "ByteLevel" (byte-level BPE only), got "WordPiece"'],
      [(json) => (json.post_processor = 'ByteLevel'), 'tokenizer.json post_processor must be {"type": "ByteLevel", ...} or null, got "ByteLevel"'],
      [(json) => (json.added_tokens = {}), 'tokenizer.json added_tokens must be an array, got {}'],
      [(json) => (json.added_tokens[0].id = -1), 'tokenizer.json added_tokens[0].id must be a non-negative integer, got -1'],
      [(json) => (json.added_tokens[2].content = ''), 'tokenizer.json added_tokens[2].content must be a non-empty string, got ""'],
      [(json) => (json.added_tokens[0].lstrip = true), 'tokenizer.json added_tokens[0].lstrip must be false, got true'],
      [(json) => (json.added_tokens[1].id = 0), 'tokenizer.json added_tokens[1].id 0 is used by another added token'],
      [(json) => (json.model.vocab.a = 0), 'tokenizer.json model.vocab gives id 0 to both "<|pad|>" and "a"'],
      [
        (json) => {
          delete json.model.vocab['<|pad|>'];
          json.model.vocab.a = 0;
        },
        'tokenizer.json model.vocab["a"] has id 0, which added_tokens gives to special token "<|pad|>"',
      ],
    ];
    for (const [change, message] of cases) expect(corrupt(change), message).toThrow(message);
    expect(() => ByteLevelBpeTokenizer.fromJSON([1, 2])).toThrow('tokenizer.json must be a JSON object, got [1,2]');
    expect(() => ByteLevelBpeTokenizer.fromJSON(null)).toThrow('tokenizer.json must be a JSON object, got null');
  });

  it('throws ConfigError, and counts the other problems when a file has several', () => {
    const json = JSON.parse(JSON.stringify(tokenizer.toJSON()));
    json.model.type = 'WordPiece';
    delete json.model.merges;
    let error: unknown;
    try {
      ByteLevelBpeTokenizer.fromJSON(json);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe('tokenizer.json model.type must be "BPE", got "WordPiece" (and 1 more problem)');
  });

  it('keeps a vocabulary token spelled "__proto__" as a token', () => {
    const vocab: Record<string, number> = Object.create(null);
    for (let byte = 0; byte < 256; byte++) vocab[toByteLevel(String.fromCharCode(byte), true)] = byte;
    const merges: [string, string][] = [];
    let built = '_';
    for (const next of '_proto__') {
      merges.push([built, next]);
      built += next;
      vocab[built] = 255 + merges.length;
    }
    const json = JSON.parse(JSON.stringify({ pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false }, model: { type: 'BPE', vocab, merges } }));
    expect(Object.hasOwn(json.model.vocab, '__proto__')).toBe(true);
    const loaded = ByteLevelBpeTokenizer.fromJSON(json);
    expect(loaded.vocabSize).toBe(256 + 8);
    const written = JSON.parse(JSON.stringify(loaded.toJSON()));
    expect(Object.hasOwn(written.model.vocab, '__proto__')).toBe(true);
    expect(Object.getOwnPropertyDescriptor(written.model.vocab, '__proto__')?.value).toBe(256 + 7);
    expect(written.model.merges.at(-1)).toEqual(['__proto_', '_']);
  });
});
