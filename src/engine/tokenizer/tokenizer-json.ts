/**
 * Hugging Face `tokenizer.json` for the one model family we support: byte-level BPE (model.type
 * "BPE", ByteLevel pre_tokenizer / decoder / post_processor, no normalizer, only special added
 * tokens). The zod schema checks the fields we read, so a file of another kind fails with the field
 * named; the checks that span fields (ids agree, merges use vocabulary tokens, all 256 byte tokens
 * present) follow it. The writer's output is typed by the same schema's input.
 */

import { z } from 'zod';
import { ConfigError } from '../../core/errors.js';
import { byteChar, tokenStringToBytes } from './byte-level.js';
import type { SpecialToken, TokenizerParts } from './tokenizer-parts.js';

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

const nonNegativeInteger = (error: string) => z.number({ error }).int({ error }).min(0, { error });

const byteLevelType = z.literal('ByteLevel', { error: 'must be "ByteLevel" (byte-level BPE only)' });

/** decoder and post_processor: absent, null, or ByteLevel (whose options do not change ids or text here) */
const byteLevelComponent = z.looseObject({ type: byteLevelType }, { error: 'must be {"type": "ByteLevel", ...} or null' }).nullish();

const preTokenizerSchema = z.looseObject(
  {
    type: byteLevelType,
    // HF's defaults when these fields are missing are add_prefix_space: true and use_regex: true.
    add_prefix_space: z.literal(false, { error: 'must be false (a prefix space would break round trips)' }),
    use_regex: z.literal(true, { error: 'must be true (the GPT-2 split is always applied)' }).nullish(),
  },
  { error: 'must be {"type": "ByteLevel", "add_prefix_space": false, ...}' },
);

const addedTokenSchema = z.looseObject(
  {
    id: nonNegativeInteger('must be a non-negative integer'),
    content: z.string({ error: 'must be a non-empty string' }).min(1, { error: 'must be a non-empty string' }),
    single_word: z.literal(false, { error: 'must be false' }).nullish(),
    lstrip: z.literal(false, { error: 'must be false' }).nullish(),
    rstrip: z.literal(false, { error: 'must be false' }).nullish(),
    special: z.literal(true, { error: 'must be true (only special added tokens are supported)' }),
  },
  { error: 'must be an object' },
);

/**
 * token → id. Checked in place rather than rebuilt by z.record, which would turn a token spelled
 * "__proto__" into a prototype instead of a key.
 */
const vocabSchema = z.custom<Record<string, number>>(isRecord, { error: 'must be an object of token → id' }).superRefine((vocab, context) => {
  for (const [token, id] of Object.entries(vocab)) {
    if (!Number.isInteger(id) || (id as number) < 0) context.addIssue({ code: 'custom', path: [token], message: 'must be a non-negative integer id', input: id });
  }
});

const MERGE_FORMAT = 'must be "left right" or [left, right]';
/** Byte-level tokens never contain a literal space (it is spelled "Ġ"), so one space separates the pair. */
const mergeSchema = z.union([z.string().refine((merge) => merge.split(' ').length === 2, { error: MERGE_FORMAT }), z.tuple([z.string(), z.string()])], { error: MERGE_FORMAT });

const modelSchema = z.looseObject(
  {
    type: z.literal('BPE', { error: 'must be "BPE"' }),
    dropout: z.literal(0, { error: 'must be null (no BPE dropout)' }).nullish(),
    continuing_subword_prefix: z.literal('', { error: 'must be null' }).nullish(),
    end_of_word_suffix: z.literal('', { error: 'must be null' }).nullish(),
    byte_fallback: z.literal(false, { error: 'must be false' }).nullish(),
    ignore_merges: z.boolean({ error: 'must be a boolean' }).nullish(),
    vocab: vocabSchema,
    merges: z.array(mergeSchema, { error: 'must be an array of "left right" strings or [left, right] pairs' }),
  },
  { error: 'must be an object' },
);

const tokenizerJsonSchema = z.looseObject(
  {
    model: modelSchema,
    // Absent and null are both "not set" in tokenizer.json files written by different HF versions.
    normalizer: z.null({ error: 'must be null (normalizers are not supported)' }).optional(),
    pre_tokenizer: preTokenizerSchema,
    decoder: byteLevelComponent,
    post_processor: byteLevelComponent,
    added_tokens: z.array(addedTokenSchema, { error: 'must be an array' }).nullish(),
  },
  { error: 'must be a JSON object' },
);

/** The tokenizer.json object the writer produces (and the reader accepts). */
type TokenizerJson = z.input<typeof tokenizerJsonSchema>;

function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  const text = JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** `model.merges[3]`, `model.vocab["Ġt"]`, `added_tokens[1].special` */
function fieldName(path: readonly PropertyKey[]): string {
  let name = 'tokenizer.json';
  path.forEach((segment, index) => {
    if (typeof segment === 'number') name += `[${segment}]`;
    else if (path[index - 1] !== 'vocab' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(String(segment))) name += `${index === 0 ? ' ' : '.'}${String(segment)}`;
    else name += `[${JSON.stringify(String(segment))}]`;
  });
  return name;
}

function valueAt(json: unknown, path: readonly PropertyKey[]): unknown {
  let value = json;
  for (const segment of path) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, segment)) return undefined;
    value = (value as Record<PropertyKey, unknown>)[segment];
  }
  return value;
}

/**
 * Reads a tokenizer.json object produced by `writeTokenizerJson` or by HF `tokenizers` for a
 * byte-level BPE (merges as "a b" strings or as [a, b] pairs). Errors name the field ("tokenizer.json
 * model.merges[3] must be ..."); callers that know the file's path put it in front.
 */
export function readTokenizerJson(json: unknown): TokenizerParts {
  const parsed = tokenizerJsonSchema.safeParse(json);
  if (!parsed.success) {
    const [issue, ...others] = parsed.error.issues;
    const more = others.length > 0 ? ` (and ${others.length} more problem${others.length > 1 ? 's' : ''})` : '';
    throw new ConfigError(`${fieldName(issue.path)} ${issue.message}, got ${describe(valueAt(json, issue.path))}${more}`);
  }
  const { model, added_tokens } = parsed.data;
  const specialTokens = readAddedTokens(added_tokens ?? []);
  const specialIds = new Map(specialTokens.map((special) => [special.id, special.content]));

  const bytesById: (Uint8Array | undefined)[] = [];
  const tokenStringById: (string | undefined)[] = [];
  const idByTokenString = new Map<string, number>();
  for (const [token, id] of Object.entries(model.vocab)) {
    if (tokenStringById[id] !== undefined) {
      throw new ConfigError(`tokenizer.json model.vocab gives id ${id} to both "${tokenStringById[id]}" and "${token}"`);
    }
    const special = specialIds.get(id);
    if (special !== undefined) {
      if (special !== token) {
        throw new ConfigError(`tokenizer.json model.vocab["${token}"] has id ${id}, which added_tokens gives to special token "${special}"`);
      }
    } else {
      const bytes = tokenStringToBytes(token);
      if (bytes === undefined || bytes.length === 0) {
        throw new ConfigError(`tokenizer.json model.vocab["${token}"] is not a byte-level token (characters outside the GPT-2 byte alphabet)`);
      }
      bytesById[id] = bytes;
    }
    tokenStringById[id] = token;
    idByTokenString.set(token, id);
  }
  for (const { id, content } of specialTokens) {
    if (tokenStringById[id] === undefined) tokenStringById[id] = content;
  }
  for (let byte = 0; byte < 256; byte++) {
    const id = idByTokenString.get(byteChar(byte));
    if (id === undefined || specialIds.has(id)) {
      throw new ConfigError(`tokenizer.json model.vocab lacks the byte token "${byteChar(byte)}" (byte 0x${byte.toString(16).padStart(2, '0')}); a byte-level BPE needs all 256`);
    }
  }

  const merges = model.merges.map((merge, index): [number, number, number] => {
    const pair = typeof merge === 'string' ? (merge.split(' ') as [string, string]) : merge;
    const ids = pair.map((token) => {
      const id = idByTokenString.get(token);
      if (id === undefined) throw new ConfigError(`tokenizer.json model.merges[${index}] uses "${token}", which is not in model.vocab`);
      return id;
    });
    const result = idByTokenString.get(pair[0] + pair[1]);
    if (result === undefined) {
      throw new ConfigError(`tokenizer.json model.merges[${index}] makes "${pair[0] + pair[1]}", which is not in model.vocab`);
    }
    return [ids[0], ids[1], result];
  });

  return { bytesById, tokenStringById, specialTokens, merges, ignoreMerges: model.ignore_merges === true };
}

function readAddedTokens(addedTokens: readonly { id: number; content: string }[]): SpecialToken[] {
  const seenIds = new Set<number>();
  const seenContents = new Set<string>();
  return addedTokens.map(({ id, content }, index) => {
    const field = `tokenizer.json added_tokens[${index}]`;
    if (seenIds.has(id)) throw new ConfigError(`${field}.id ${id} is used by another added token`);
    if (seenContents.has(content)) throw new ConfigError(`${field}.content "${content}" is listed twice`);
    seenIds.add(id);
    seenContents.add(content);
    return { id, content };
  });
}

/** The Hugging Face tokenizers `tokenizer.json` object of a byte-level BPE. */
export function writeTokenizerJson(parts: TokenizerParts): TokenizerJson {
  const specialsById = [...parts.specialTokens].sort((a, b) => a.id - b.id);
  // Null prototype: a token spelled "__proto__" must become a key, not a prototype change.
  const vocab: Record<string, number> = Object.create(null) as Record<string, number>;
  parts.tokenStringById.forEach((token, id) => {
    if (token !== undefined) vocab[token] = id;
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specialsById.map(({ id, content }) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: parts.ignoreMerges,
      vocab,
      merges: parts.merges.map(([left, right]): [string, string] => [parts.tokenStringById[left]!, parts.tokenStringById[right]!]),
    },
  };
}
