/**
 * Byte-level BPE tokenizer (GPT-2 style): encodes and decodes; trains on a corpus (bpe-train.ts) and
 * reads/writes the Hugging Face `tokenizer.json` format for that one model family (tokenizer-json.ts).
 * It is deliberately not a general HF tokenizers port: no normalizers, no other models (WordPiece,
 * Unigram), no add_prefix_space, no dropout, no offsets, no non-special added tokens.
 */

import TinyQueue from 'tinyqueue';
import { MtsaError } from '../../core/errors.js';
import { type TrainBpeOptions, trainBpe } from './bpe-train.js';
import { bytesToTokenString, decodeUtf8, encodeUtf8, forEachPreToken, specialTokenPattern } from './byte-level.js';
import { readTokenizerJson, writeTokenizerJson } from './tokenizer-json.js';
import type { TokenizerParts } from './tokenizer-parts.js';

/** Past this many distinct pre-tokens the cache is dropped, so memory stays bounded on open-ended text. */
const ENCODE_CACHE_LIMIT = 100_000;

export class ByteLevelBpeTokenizer {
  readonly vocabSize: number;
  readonly specialTokens: readonly string[];

  private readonly parts: TokenizerParts;
  private readonly bytesById: (Uint8Array | undefined)[];
  private readonly specialIdByContent: Map<string, number>;
  private readonly specialContentById: Map<number, string>;
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
    this.parts = parts;
    this.bytesById = parts.bytesById;
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

    this.specialPattern = specialTokenPattern(this.specialTokens);
  }

  /** Trains on `corpus` (see bpe-train.ts); the same corpus and options give the same tokenizer.json bytes. */
  static train(corpus: Iterable<string>, options: TrainBpeOptions): ByteLevelBpeTokenizer {
    return new ByteLevelBpeTokenizer(trainBpe(corpus, options));
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
    return decodeUtf8(joined);
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
    return writeTokenizerJson(this.parts);
  }

  /** Reads a tokenizer.json object produced by toJSON() or by HF `tokenizers` for a byte-level BPE (merges as "a b" strings or as [a, b] pairs); unsupported or malformed fields give a ConfigError that names the field (see tokenizer-json.ts). */
  static fromJSON(json: unknown): ByteLevelBpeTokenizer {
    return new ByteLevelBpeTokenizer(readTokenizerJson(json));
  }

  private pairKey(left: number, right: number): number {
    return left * this.vocabSize + right;
  }

  private bytesOf(id: number): Uint8Array {
    const special = this.specialContentById.get(id);
    if (special !== undefined) return encodeUtf8(special);
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
    const bytes = encodeUtf8(preToken);
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
    const heap = new TinyQueue<number>([], (a, b) => a - b);
    const consider = (position: number): void => {
      const after = next[position];
      if (after === -1) return;
      const rank = this.mergeRankByPair.get(this.pairKey(ids[position], ids[after]));
      if (rank !== undefined) heap.push(rank * length + position);
    };
    for (let i = 0; i + 1 < length; i++) consider(i);

    while (heap.length > 0) {
      const entry = heap.pop()!;
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
