/**
 * Byte-level BPE tokenizer (GPT-2 style): trains on a corpus, encodes/decodes, and reads/writes the
 * Hugging Face `tokenizer.json` format for that one model family.
 * It is deliberately not a general HF tokenizers port: no normalizers, no other models (WordPiece,
 * Unigram), no add_prefix_space, no dropout, no offsets, no non-special added tokens.
 */

import { ConfigError, MtsaError } from '../../core/errors.js';

export interface TrainBpeOptions {
  /** total vocabulary size including special tokens and the 256 byte tokens */
  vocabSize: number;
  /** special tokens, e.g. ['<|pad|>', '<|end|>', '<|user|>', '<|assistant|>', '<|system|>']; they get ids 0..n-1 in this order */
  specialTokens: string[];
  /** pairs seen fewer times are never merged (default 2) */
  minFrequency?: number;
}

/**
 * GPT-2's pre-tokenisation pattern. Every character falls in one of \s, \p{L}, \p{N} or the
 * complement class, so the alternatives cover the whole input.
 */
export const PRE_TOKEN_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** Past this many distinct pre-tokens the cache is dropped, so memory stays bounded on open-ended text. */
const ENCODE_CACHE_LIMIT = 100_000;

/**
 * GPT-2's bytes-to-unicode table: printable Latin-1 bytes stand for themselves, the other 68 bytes
 * are shifted to U+0100 upwards, so every token is a printable string and JSON vocabularies stay readable.
 */
function buildByteTables(): { byteToChar: string[]; charToByte: Map<string, number> } {
  const printable: number[] = [];
  for (let byte = 0x21; byte <= 0x7e; byte++) printable.push(byte);
  for (let byte = 0xa1; byte <= 0xac; byte++) printable.push(byte);
  for (let byte = 0xae; byte <= 0xff; byte++) printable.push(byte);
  const byteToChar: string[] = new Array(256);
  for (const byte of printable) byteToChar[byte] = String.fromCharCode(byte);
  let shifted = 0;
  for (let byte = 0; byte < 256; byte++) {
    if (byteToChar[byte] === undefined) byteToChar[byte] = String.fromCharCode(256 + shifted++);
  }
  const charToByte = new Map<string, number>();
  byteToChar.forEach((char, byte) => charToByte.set(char, byte));
  return { byteToChar, charToByte };
}

const { byteToChar: BYTE_TO_CHAR, charToByte: CHAR_TO_BYTE } = buildByteTables();

const utf8Encoder = new TextEncoder();
// ignoreBOM: a leading U+FEFF is content and must survive the round trip.
const utf8Decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

function bytesToTokenString(bytes: Uint8Array): string {
  let text = '';
  for (const byte of bytes) text += BYTE_TO_CHAR[byte];
  return text;
}

/**
 * Bytes of a vocabulary string in GPT-2's byte-level alphabet (as stored in tokenizer.json and
 * GGUF vocabularies); undefined when the string contains a character outside that alphabet.
 */
export function tokenStringToBytes(token: string): Uint8Array | undefined {
  const bytes = new Uint8Array(token.length);
  for (let i = 0; i < token.length; i++) {
    const byte = CHAR_TO_BYTE.get(token[i]);
    if (byte === undefined) return undefined;
    bytes[i] = byte;
  }
  return bytes;
}

function concatBytes(left: Uint8Array, right: Uint8Array): Uint8Array {
  const joined = new Uint8Array(left.length + right.length);
  joined.set(left, 0);
  joined.set(right, left.length);
  return joined;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Calls `visit` for each pre-token of `text`, in order. */
function forEachPreToken(text: string, visit: (preToken: string) => void): void {
  const pattern = new RegExp(PRE_TOKEN_PATTERN.source, PRE_TOKEN_PATTERN.flags);
  let position = 0;
  let match: RegExpExecArray | null;
  while ((match = pattern.exec(text)) !== null) {
    // Defensive: the pattern covers every character, but a gap must never silently drop text.
    if (match.index > position) visit(text.slice(position, match.index));
    visit(match[0]);
    position = match.index + match[0].length;
  }
  if (position < text.length) visit(text.slice(position));
}

interface SpecialToken {
  id: number;
  content: string;
}

interface TokenizerParts {
  /** bytes of every non-special token, indexed by id; undefined for special ids and unused ids */
  bytesById: (Uint8Array | undefined)[];
  /** vocabulary key of every id (byte-level string, or the content for special tokens) */
  tokenStringById: (string | undefined)[];
  specialTokens: SpecialToken[];
  /** [left id, right id, result id] in rank order */
  merges: [number, number, number][];
  ignoreMerges: boolean;
}

export class ByteLevelBpeTokenizer {
  readonly vocabSize: number;
  readonly specialTokens: readonly string[];

  private readonly bytesById: (Uint8Array | undefined)[];
  private readonly tokenStringById: (string | undefined)[];
  private readonly specialIdByContent: Map<string, number>;
  private readonly specialContentById: Map<number, string>;
  private readonly merges: [number, number, number][];
  private readonly ignoreMerges: boolean;
  private readonly byteTokenIds: Int32Array;
  /** pair key (left * vocabSize + right) → merge rank */
  private readonly mergeRankByPair = new Map<number, number>();
  private readonly mergeResultByRank: Int32Array;
  /** whole pre-token → id, only consulted when ignoreMerges is set (HF semantics) */
  private readonly idByTokenString = new Map<string, number>();
  private readonly specialPattern: RegExp | undefined;
  private readonly encodeCache = new Map<string, readonly number[]>();

  private constructor(parts: TokenizerParts) {
    this.bytesById = parts.bytesById;
    this.tokenStringById = parts.tokenStringById;
    this.merges = parts.merges;
    this.ignoreMerges = parts.ignoreMerges;
    this.vocabSize = Math.max(parts.bytesById.length, parts.tokenStringById.length);
    this.specialTokens = Object.freeze(parts.specialTokens.map((special) => special.content));
    this.specialIdByContent = new Map(parts.specialTokens.map((special) => [special.content, special.id]));
    this.specialContentById = new Map(parts.specialTokens.map((special) => [special.id, special.content]));

    this.byteTokenIds = new Int32Array(256).fill(-1);
    parts.bytesById.forEach((bytes, id) => {
      if (bytes === undefined) return;
      if (bytes.length === 1 && this.byteTokenIds[bytes[0]] === -1) this.byteTokenIds[bytes[0]] = id;
      if (this.ignoreMerges) this.idByTokenString.set(bytesToTokenString(bytes), id);
    });

    this.mergeResultByRank = new Int32Array(parts.merges.length);
    parts.merges.forEach(([left, right, result], rank) => {
      const key = this.pairKey(left, right);
      // A repeated merge keeps its first (best) rank; later copies could never fire anyway.
      if (!this.mergeRankByPair.has(key)) this.mergeRankByPair.set(key, rank);
      this.mergeResultByRank[rank] = result;
    });

    if (parts.specialTokens.length > 0) {
      // Longest first so that a special token that prefixes another never shadows it.
      const alternatives = [...this.specialTokens]
        .sort((a, b) => b.length - a.length)
        .map(escapeRegExp)
        .join('|');
      this.specialPattern = new RegExp(alternatives, 'gu');
    }
  }

  static train(corpus: Iterable<string>, options: TrainBpeOptions): ByteLevelBpeTokenizer {
    const specialContents = validateTrainOptions(options);
    const minFrequency = options.minFrequency ?? 2;
    const targetSize = options.vocabSize;
    const specialCount = specialContents.length;

    const bytesById: (Uint8Array | undefined)[] = [];
    const tokenStringById: (string | undefined)[] = [];
    const idByTokenString = new Map<string, number>();
    const specialTokens: SpecialToken[] = specialContents.map((content, id) => ({ id, content }));
    for (const { id, content } of specialTokens) {
      bytesById[id] = undefined;
      tokenStringById[id] = content;
      idByTokenString.set(content, id);
    }
    for (let byte = 0; byte < 256; byte++) {
      const id = specialCount + byte;
      const bytes = Uint8Array.of(byte);
      bytesById[id] = bytes;
      tokenStringById[id] = BYTE_TO_CHAR[byte];
      idByTokenString.set(BYTE_TO_CHAR[byte], id);
    }

    // Special tokens are cut out of the corpus first: they are always encoded as themselves,
    // so their text must not shape the merges.
    const specialSplitter =
      specialContents.length > 0
        ? new RegExp(
            [...specialContents]
              .sort((a, b) => b.length - a.length)
              .map(escapeRegExp)
              .join('|'),
            'gu',
          )
        : undefined;
    const preTokenCounts = new Map<string, number>();
    const countPreToken = (preToken: string): void => {
      preTokenCounts.set(preToken, (preTokenCounts.get(preToken) ?? 0) + 1);
    };
    for (const document of corpus) {
      const pieces = specialSplitter ? document.split(specialSplitter) : [document];
      for (const piece of pieces) if (piece.length > 0) forEachPreToken(piece, countPreToken);
    }

    const words: number[][] = [];
    const wordCounts: number[] = [];
    for (const [preToken, count] of preTokenCounts) {
      const bytes = utf8Encoder.encode(preToken);
      const symbols = new Array<number>(bytes.length);
      for (let i = 0; i < bytes.length; i++) symbols[i] = specialCount + bytes[i];
      words.push(symbols);
      wordCounts.push(count);
    }

    // Pair keys use the target size as base so every id ever created fits.
    const keyBase = targetSize;
    const pairCounts = new Map<number, number>();
    const wordsByPair = new Map<number, number[]>();
    const notePair = (key: number, wordIndex: number, count: number): void => {
      pairCounts.set(key, (pairCounts.get(key) ?? 0) + count);
      const list = wordsByPair.get(key);
      if (list === undefined) wordsByPair.set(key, [wordIndex]);
      else if (list[list.length - 1] !== wordIndex) list.push(wordIndex);
    };
    const forgetPair = (key: number, count: number): void => {
      const remaining = (pairCounts.get(key) ?? 0) - count;
      if (remaining > 0) pairCounts.set(key, remaining);
      else pairCounts.delete(key);
    };
    words.forEach((symbols, wordIndex) => {
      for (let i = 0; i + 1 < symbols.length; i++) {
        notePair(symbols[i] * keyBase + symbols[i + 1], wordIndex, wordCounts[wordIndex]);
      }
    });

    const queue = new PairQueue();
    for (const [key, count] of pairCounts) queue.push(count, key);

    const merges: [number, number, number][] = [];
    const blockedPairs = new Set<number>();
    // Marks words already rewritten in the current merge, since a word can be listed more than once.
    const lastVisitedInMerge = new Int32Array(words.length).fill(-1);
    let nextId = specialCount + 256;

    while (nextId < targetSize && queue.size > 0) {
      const { count: queuedCount, key } = queue.pop();
      const currentCount = pairCounts.get(key) ?? 0;
      // Counts only fall between pushes (rises are always re-pushed), so a mismatch means stale.
      if (currentCount !== queuedCount) {
        if (currentCount > 0) queue.push(currentCount, key);
        continue;
      }
      if (currentCount < minFrequency) break;
      if (blockedPairs.has(key)) continue;

      const left = Math.floor(key / keyBase);
      const right = key - left * keyBase;
      const mergedBytes = concatBytes(bytesById[left]!, bytesById[right]!);
      const mergedString = bytesToTokenString(mergedBytes);
      let resultId = idByTokenString.get(mergedString);
      if (resultId !== undefined && resultId < specialCount) {
        // The merged text equals a special token's vocabulary key; a JSON vocabulary cannot hold both.
        blockedPairs.add(key);
        continue;
      }
      if (resultId === undefined) {
        resultId = nextId++;
        bytesById[resultId] = mergedBytes;
        tokenStringById[resultId] = mergedString;
        idByTokenString.set(mergedString, resultId);
      }
      // else: the same bytes were already built from a different split; like HF, the merge
      // is recorded but reuses that token, so the vocabulary does not grow.
      const rank = merges.length;
      merges.push([left, right, resultId]);

      const touchedPairs = new Set<number>();
      for (const wordIndex of wordsByPair.get(key) ?? []) {
        if (lastVisitedInMerge[wordIndex] === rank) continue;
        lastVisitedInMerge[wordIndex] = rank;
        const symbols = words[wordIndex];
        const merged = mergePairInWord(symbols, left, right, resultId);
        if (merged === symbols) continue;
        // Words are short pre-tokens, so re-counting all of a word's pairs is cheaper and
        // simpler than patching the neighbours of each occurrence.
        const count = wordCounts[wordIndex];
        for (let i = 0; i + 1 < symbols.length; i++) forgetPair(symbols[i] * keyBase + symbols[i + 1], count);
        for (let i = 0; i + 1 < merged.length; i++) {
          const pair = merged[i] * keyBase + merged[i + 1];
          notePair(pair, wordIndex, count);
          if (merged[i] === resultId || merged[i + 1] === resultId) touchedPairs.add(pair);
        }
        words[wordIndex] = merged;
      }
      wordsByPair.delete(key);
      for (const pair of touchedPairs) {
        const count = pairCounts.get(pair);
        if (count !== undefined) queue.push(count, pair);
      }
    }

    return new ByteLevelBpeTokenizer({ bytesById, tokenStringById, specialTokens, merges, ignoreMerges: false });
  }

  /** Special-token strings inside `text` map to their ids (unless allowSpecial is false, then they are encoded as plain text). */
  encode(text: string, options?: { allowSpecial?: boolean }): number[] {
    const ids: number[] = [];
    const allowSpecial = options?.allowSpecial ?? true;
    if (!allowSpecial || this.specialPattern === undefined) {
      this.encodeOrdinary(text, ids);
      return ids;
    }
    const pattern = new RegExp(this.specialPattern.source, this.specialPattern.flags);
    let position = 0;
    let match: RegExpExecArray | null;
    while ((match = pattern.exec(text)) !== null) {
      if (match.index > position) this.encodeOrdinary(text.slice(position, match.index), ids);
      ids.push(this.specialIdByContent.get(match[0])!);
      position = match.index + match[0].length;
    }
    if (position < text.length) this.encodeOrdinary(text.slice(position), ids);
    return ids;
  }

  /** Invalid UTF-8 from a partial token sequence decodes to U+FFFD, never throws. */
  decode(ids: readonly number[], options?: { skipSpecial?: boolean }): string {
    const skipSpecial = options?.skipSpecial ?? false;
    const chunks: Uint8Array[] = [];
    let totalLength = 0;
    for (const id of ids) {
      if (skipSpecial && this.specialContentById.has(id)) continue;
      const bytes = this.bytesOf(id);
      chunks.push(bytes);
      totalLength += bytes.length;
    }
    const joined = new Uint8Array(totalLength);
    let offset = 0;
    for (const chunk of chunks) {
      joined.set(chunk, offset);
      offset += chunk.length;
    }
    return utf8Decoder.decode(joined);
  }

  /** raw bytes of one token (for incremental decoding during sampling) */
  tokenBytes(id: number): Uint8Array {
    // A copy, so a caller writing into it cannot corrupt the vocabulary.
    return this.bytesOf(id).slice();
  }

  /** throws a clear Error naming the token if it is not a special token */
  specialTokenId(token: string): number {
    const id = this.specialIdByContent.get(token);
    if (id === undefined) {
      throw new MtsaError(`"${token}" is not a special token of this tokenizer (special tokens: ${this.specialTokens.map((special) => `"${special}"`).join(', ')})`);
    }
    return id;
  }

  isSpecial(id: number): boolean {
    return this.specialContentById.has(id);
  }

  /** Hugging Face tokenizers `tokenizer.json` object (model.type "BPE", ByteLevel pre_tokenizer and decoder, added_tokens with special: true) */
  toJSON(): Record<string, unknown> {
    const specialsById = [...this.specialIdByContent.entries()].map(([content, id]) => ({ id, content })).sort((a, b) => a.id - b.id);
    // Null prototype: a token spelled "__proto__" must become a key, not a prototype change.
    const vocab: Record<string, number> = Object.create(null) as Record<string, number>;
    this.tokenStringById.forEach((token, id) => {
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
        ignore_merges: this.ignoreMerges,
        vocab,
        merges: this.merges.map(([left, right]) => [this.tokenStringById[left], this.tokenStringById[right]]),
      },
    };
  }

  /** Reads a tokenizer.json object produced by toJSON() or by HF `tokenizers` for a byte-level BPE (merges as "a b" strings or as [a, b] pairs). Unsupported types give an Error that names the field. */
  static fromJSON(json: unknown): ByteLevelBpeTokenizer {
    return new ByteLevelBpeTokenizer(partsFromJSON(json));
  }

  private pairKey(left: number, right: number): number {
    return left * this.vocabSize + right;
  }

  private bytesOf(id: number): Uint8Array {
    const special = this.specialContentById.get(id);
    if (special !== undefined) return utf8Encoder.encode(special);
    const bytes = Number.isInteger(id) ? this.bytesById[id] : undefined;
    if (bytes === undefined) {
      throw new MtsaError(`token id ${id} is not in the vocabulary (vocabSize ${this.vocabSize})`);
    }
    return bytes;
  }

  private encodeOrdinary(text: string, ids: number[]): void {
    if (text.length === 0) return;
    forEachPreToken(text, (preToken) => {
      let tokens = this.encodeCache.get(preToken);
      if (tokens === undefined) {
        tokens = this.encodePreToken(preToken);
        if (this.encodeCache.size >= ENCODE_CACHE_LIMIT) this.encodeCache.clear();
        this.encodeCache.set(preToken, tokens);
      }
      for (const id of tokens) ids.push(id);
    });
  }

  private encodePreToken(preToken: string): number[] {
    // TextEncoder turns lone surrogates into U+FFFD, so any JS string encodes.
    const bytes = utf8Encoder.encode(preToken);
    if (this.ignoreMerges) {
      const whole = this.idByTokenString.get(bytesToTokenString(bytes));
      if (whole !== undefined) return [whole];
    }
    const symbols = new Array<number>(bytes.length);
    for (let i = 0; i < bytes.length; i++) symbols[i] = this.byteTokenIds[bytes[i]];
    return this.applyMerges(symbols);
  }

  /**
   * Applies merges lowest rank first, leftmost first among equal ranks (the HF order), using a
   * linked list and a heap so that pathological pre-tokens (100k spaces) stay near-linear.
   */
  private applyMerges(symbols: number[]): number[] {
    const length = symbols.length;
    if (length < 2) return symbols;
    const ids = Int32Array.from(symbols);
    const next = new Int32Array(length);
    const previous = new Int32Array(length);
    const removed = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
      next[i] = i + 1 < length ? i + 1 : -1;
      previous[i] = i - 1;
    }
    // Heap entries pack (rank, position) into one number: rank * length + position.
    const heap = new MinHeap();
    const consider = (position: number): void => {
      const after = next[position];
      if (after === -1) return;
      const rank = this.mergeRankByPair.get(this.pairKey(ids[position], ids[after]));
      if (rank !== undefined) heap.push(rank * length + position);
    };
    for (let i = 0; i + 1 < length; i++) consider(i);

    while (heap.size > 0) {
      const entry = heap.pop();
      const rank = Math.floor(entry / length);
      const position = entry - rank * length;
      if (removed[position]) continue;
      const after = next[position];
      if (after === -1) continue;
      if (this.mergeRankByPair.get(this.pairKey(ids[position], ids[after])) !== rank) continue;
      ids[position] = this.mergeResultByRank[rank];
      removed[after] = 1;
      next[position] = next[after];
      if (next[after] !== -1) previous[next[after]] = position;
      if (previous[position] !== -1) consider(previous[position]);
      consider(position);
    }

    const result: number[] = [];
    for (let i = 0; i !== -1; i = next[i]) result.push(ids[i]);
    return result;
  }
}

/** Returns `symbols` itself when the pair does not occur, so callers can skip untouched words. */
function mergePairInWord(symbols: number[], left: number, right: number, result: number): number[] {
  let merged: number[] | undefined;
  for (let i = 0; i < symbols.length; i++) {
    if (i + 1 < symbols.length && symbols[i] === left && symbols[i + 1] === right) {
      merged ??= symbols.slice(0, i);
      merged.push(result);
      i++;
    } else if (merged !== undefined) {
      merged.push(symbols[i]);
    }
  }
  return merged ?? symbols;
}

function validateTrainOptions(options: TrainBpeOptions): string[] {
  const specials = options.specialTokens;
  if (!Array.isArray(specials)) throw new ConfigError('TrainBpeOptions.specialTokens must be an array of strings');
  const seen = new Set<string>();
  for (const special of specials) {
    if (typeof special !== 'string' || special.length === 0) {
      throw new ConfigError(`TrainBpeOptions.specialTokens must hold non-empty strings, got ${JSON.stringify(special)}`);
    }
    if (seen.has(special)) throw new ConfigError(`TrainBpeOptions.specialTokens lists "${special}" twice`);
    if (CHAR_TO_BYTE.has(special)) {
      // Its vocabulary key would collide with the byte token spelled the same way.
      throw new ConfigError(`TrainBpeOptions.specialTokens entry "${special}" is a single byte character; use a longer marker`);
    }
    seen.add(special);
  }
  const minimum = specials.length + 256;
  if (!Number.isInteger(options.vocabSize) || options.vocabSize < minimum) {
    throw new ConfigError(`TrainBpeOptions.vocabSize must be an integer >= ${minimum} (special tokens + 256 bytes), got ${options.vocabSize}`);
  }
  const minFrequency = options.minFrequency ?? 2;
  if (!Number.isFinite(minFrequency) || minFrequency < 1) {
    throw new ConfigError(`TrainBpeOptions.minFrequency must be a number >= 1, got ${minFrequency}`);
  }
  return [...specials];
}

/** Max-priority queue of (count, pair key); equal counts pop the smaller key (smaller left id, then right id). */
class PairQueue {
  private readonly counts: number[] = [];
  private readonly keys: number[] = [];

  get size(): number {
    return this.counts.length;
  }

  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let child = this.counts.length - 1;
    while (child > 0) {
      const parent = (child - 1) >> 1;
      if (!this.before(child, parent)) break;
      this.swap(child, parent);
      child = parent;
    }
  }

  pop(): { count: number; key: number } {
    const top = { count: this.counts[0], key: this.keys[0] };
    const lastCount = this.counts.pop()!;
    const lastKey = this.keys.pop()!;
    if (this.counts.length > 0) {
      this.counts[0] = lastCount;
      this.keys[0] = lastKey;
      let parent = 0;
      for (;;) {
        const leftChild = 2 * parent + 1;
        const rightChild = leftChild + 1;
        let best = parent;
        if (leftChild < this.counts.length && this.before(leftChild, best)) best = leftChild;
        if (rightChild < this.counts.length && this.before(rightChild, best)) best = rightChild;
        if (best === parent) break;
        this.swap(parent, best);
        parent = best;
      }
    }
    return top;
  }

  private before(a: number, b: number): boolean {
    const countA = this.counts[a];
    const countB = this.counts[b];
    return countA > countB || (countA === countB && this.keys[a] < this.keys[b]);
  }

  private swap(a: number, b: number): void {
    const count = this.counts[a];
    this.counts[a] = this.counts[b];
    this.counts[b] = count;
    const key = this.keys[a];
    this.keys[a] = this.keys[b];
    this.keys[b] = key;
  }
}

class MinHeap {
  private readonly items: number[] = [];

  get size(): number {
    return this.items.length;
  }

  push(value: number): void {
    const items = this.items;
    items.push(value);
    let child = items.length - 1;
    while (child > 0) {
      const parent = (child - 1) >> 1;
      if (items[parent] <= value) break;
      items[child] = items[parent];
      child = parent;
    }
    items[child] = value;
  }

  pop(): number {
    const items = this.items;
    const top = items[0];
    const last = items.pop()!;
    if (items.length > 0) {
      let parent = 0;
      for (;;) {
        let child = 2 * parent + 1;
        if (child >= items.length) break;
        if (child + 1 < items.length && items[child + 1] < items[child]) child++;
        if (items[child] >= last) break;
        items[parent] = items[child];
        parent = child;
      }
      items[parent] = last;
    }
    return top;
  }
}

// ---------------------------------------------------------------------------------------------
// tokenizer.json reading

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  return value === undefined ? 'undefined' : JSON.stringify(value);
}

/** Absent and null are both "not set" in tokenizer.json files written by different HF versions. */
function isUnset(value: unknown): boolean {
  return value === undefined || value === null;
}

function requireByteLevelComponent(json: Record<string, unknown>, field: 'pre_tokenizer' | 'decoder' | 'post_processor'): void {
  const component = json[field];
  if (isUnset(component)) {
    if (field === 'pre_tokenizer') {
      throw new ConfigError('tokenizer.json pre_tokenizer must be {"type": "ByteLevel", ...}, got ' + describe(component));
    }
    return;
  }
  if (!isRecord(component) || component.type !== 'ByteLevel') {
    const type = isRecord(component) ? component.type : component;
    throw new ConfigError(`tokenizer.json ${field}.type must be "ByteLevel" (byte-level BPE only), got ${describe(type)}`);
  }
  if (field === 'pre_tokenizer') {
    // HF's defaults when the fields are missing are add_prefix_space: true and use_regex: true.
    if (component.add_prefix_space !== false) {
      throw new ConfigError(`tokenizer.json pre_tokenizer.add_prefix_space must be false (a prefix space would break round trips), got ${describe(component.add_prefix_space)}`);
    }
    if (component.use_regex === false) {
      throw new ConfigError('tokenizer.json pre_tokenizer.use_regex must be true (the GPT-2 split is always applied), got false');
    }
  }
}

function partsFromJSON(json: unknown): TokenizerParts {
  if (!isRecord(json)) throw new ConfigError(`tokenizer.json must be a JSON object, got ${describe(json)}`);
  const model = json.model;
  if (!isRecord(model)) throw new ConfigError(`tokenizer.json model must be an object, got ${describe(model)}`);
  if (model.type !== 'BPE') {
    throw new ConfigError(`tokenizer.json model.type must be "BPE", got ${describe(model.type)}`);
  }
  if (!isUnset(json.normalizer)) {
    const type = isRecord(json.normalizer) ? json.normalizer.type : json.normalizer;
    throw new ConfigError(`tokenizer.json normalizer must be null, got type ${describe(type)}`);
  }
  requireByteLevelComponent(json, 'pre_tokenizer');
  requireByteLevelComponent(json, 'decoder');
  requireByteLevelComponent(json, 'post_processor');
  if (!isUnset(model.dropout) && model.dropout !== 0) {
    throw new ConfigError(`tokenizer.json model.dropout must be null (no BPE dropout), got ${describe(model.dropout)}`);
  }
  for (const field of ['continuing_subword_prefix', 'end_of_word_suffix'] as const) {
    if (!isUnset(model[field]) && model[field] !== '') {
      throw new ConfigError(`tokenizer.json model.${field} must be null, got ${describe(model[field])}`);
    }
  }
  if (!isUnset(model.byte_fallback) && model.byte_fallback !== false) {
    throw new ConfigError(`tokenizer.json model.byte_fallback must be false, got ${describe(model.byte_fallback)}`);
  }
  if (!isUnset(model.ignore_merges) && typeof model.ignore_merges !== 'boolean') {
    throw new ConfigError(`tokenizer.json model.ignore_merges must be a boolean, got ${describe(model.ignore_merges)}`);
  }
  const ignoreMerges = model.ignore_merges === true;

  const specialTokens = readAddedTokens(json.added_tokens);
  const specialIds = new Map(specialTokens.map((special) => [special.id, special.content]));

  const vocab = model.vocab;
  if (!isRecord(vocab)) throw new ConfigError(`tokenizer.json model.vocab must be an object of token → id, got ${describe(vocab)}`);
  const bytesById: (Uint8Array | undefined)[] = [];
  const tokenStringById: (string | undefined)[] = [];
  const idByTokenString = new Map<string, number>();
  for (const [token, id] of Object.entries(vocab)) {
    if (!Number.isInteger(id) || (id as number) < 0) {
      throw new ConfigError(`tokenizer.json model.vocab["${token}"] must be a non-negative integer id, got ${describe(id)}`);
    }
    const tokenId = id as number;
    if (tokenStringById[tokenId] !== undefined) {
      throw new ConfigError(`tokenizer.json model.vocab gives id ${tokenId} to both "${tokenStringById[tokenId]}" and "${token}"`);
    }
    const special = specialIds.get(tokenId);
    if (special !== undefined) {
      if (special !== token) {
        throw new ConfigError(`tokenizer.json model.vocab["${token}"] has id ${tokenId}, which added_tokens gives to special token "${special}"`);
      }
    } else {
      const bytes = tokenStringToBytes(token);
      if (bytes === undefined || bytes.length === 0) {
        throw new ConfigError(`tokenizer.json model.vocab["${token}"] is not a byte-level token (characters outside the GPT-2 byte alphabet)`);
      }
      bytesById[tokenId] = bytes;
    }
    tokenStringById[tokenId] = token;
    idByTokenString.set(token, tokenId);
  }
  for (const { id, content } of specialTokens) {
    if (tokenStringById[id] === undefined) tokenStringById[id] = content;
  }
  for (let byte = 0; byte < 256; byte++) {
    const id = idByTokenString.get(BYTE_TO_CHAR[byte]);
    if (id === undefined || specialIds.has(id)) {
      throw new ConfigError(`tokenizer.json model.vocab lacks the byte token "${BYTE_TO_CHAR[byte]}" (byte 0x${byte.toString(16).padStart(2, '0')}); a byte-level BPE needs all 256`);
    }
  }

  const rawMerges = model.merges;
  if (!Array.isArray(rawMerges)) throw new ConfigError(`tokenizer.json model.merges must be an array, got ${describe(rawMerges)}`);
  const merges: [number, number, number][] = rawMerges.map((merge: unknown, index: number) => {
    let pair: [string, string];
    if (typeof merge === 'string') {
      // Byte-level tokens never contain a literal space (it is spelled "Ġ"), so one space separates the pair.
      const parts = merge.split(' ');
      if (parts.length !== 2) {
        throw new ConfigError(`tokenizer.json model.merges[${index}] must be "left right", got ${describe(merge)}`);
      }
      pair = [parts[0], parts[1]];
    } else if (Array.isArray(merge) && merge.length === 2 && typeof merge[0] === 'string' && typeof merge[1] === 'string') {
      pair = [merge[0], merge[1]];
    } else {
      throw new ConfigError(`tokenizer.json model.merges[${index}] must be "left right" or [left, right], got ${describe(merge)}`);
    }
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

  return { bytesById, tokenStringById, specialTokens, merges, ignoreMerges };
}

function readAddedTokens(addedTokens: unknown): SpecialToken[] {
  if (isUnset(addedTokens)) return [];
  if (!Array.isArray(addedTokens)) throw new ConfigError(`tokenizer.json added_tokens must be an array, got ${describe(addedTokens)}`);
  const seenIds = new Set<number>();
  const seenContents = new Set<string>();
  return addedTokens.map((added: unknown, index: number) => {
    const field = `tokenizer.json added_tokens[${index}]`;
    if (!isRecord(added)) throw new ConfigError(`${field} must be an object, got ${describe(added)}`);
    if (!Number.isInteger(added.id) || (added.id as number) < 0) {
      throw new ConfigError(`${field}.id must be a non-negative integer, got ${describe(added.id)}`);
    }
    if (typeof added.content !== 'string' || added.content.length === 0) {
      throw new ConfigError(`${field}.content must be a non-empty string, got ${describe(added.content)}`);
    }
    if (added.special !== true) {
      throw new ConfigError(`${field}.special must be true (only special added tokens are supported), got ${describe(added.special)}`);
    }
    for (const flag of ['single_word', 'lstrip', 'rstrip'] as const) {
      if (!isUnset(added[flag]) && added[flag] !== false) {
        throw new ConfigError(`${field}.${flag} must be false, got ${describe(added[flag])}`);
      }
    }
    const id = added.id as number;
    if (seenIds.has(id)) throw new ConfigError(`${field}.id ${id} is used by another added token`);
    if (seenContents.has(added.content)) throw new ConfigError(`${field}.content "${added.content}" is listed twice`);
    seenIds.add(id);
    seenContents.add(added.content);
    return { id, content: added.content };
  });
}
