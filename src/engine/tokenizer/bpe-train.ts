/**
 * Byte-level BPE training (GPT-2 / HF `tokenizers` style): count pre-tokens, then repeatedly merge
 * the most frequent adjacent pair (ties: smaller left id, then smaller right id) until the vocabulary
 * is full or no pair reaches minFrequency. Pair counts live in a max-priority queue with lazy
 * deletion; only the words that contain the merged pair are re-counted.
 */

import TinyQueue from 'tinyqueue';
import { ConfigError } from '../../core/errors.js';
import { byteChar, bytesToTokenString, concatBytes, encodeUtf8, forEachPreToken, isByteChar, specialTokenPattern } from './byte-level.js';
import type { SpecialToken, TokenizerParts } from './tokenizer-parts.js';

export interface TrainBpeOptions {
  /** total vocabulary size including special tokens and the 256 byte tokens */
  vocabSize: number;
  /** special tokens, e.g. ['<|pad|>', '<|end|>', '<|user|>', '<|assistant|>', '<|system|>']; they get ids 0..n-1 in this order */
  specialTokens: string[];
  /** pairs seen fewer times are never merged (default 2) */
  minFrequency?: number;
}

/** A queued pair count; the count may be stale (lazy deletion), checked when it is popped. */
interface QueuedPair {
  count: number;
  /** left id * keyBase + right id */
  key: number;
}

/** Most frequent first; equal counts pop the smaller key (smaller left id, then right id). */
const mostFrequentFirst = (a: QueuedPair, b: QueuedPair): number => b.count - a.count || a.key - b.key;

export function trainBpe(corpus: Iterable<string>, options: TrainBpeOptions): TokenizerParts {
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
    bytesById[id] = Uint8Array.of(byte);
    tokenStringById[id] = byteChar(byte);
    idByTokenString.set(byteChar(byte), id);
  }

  // Special tokens are cut out of the corpus first: they are always encoded as themselves,
  // so their text must not shape the merges.
  const specialSplitter = specialTokenPattern(specialContents);
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
    const bytes = encodeUtf8(preToken);
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

  const queue = new TinyQueue<QueuedPair>([], mostFrequentFirst);
  for (const [key, count] of pairCounts) queue.push({ count, key });

  const merges: [number, number, number][] = [];
  const blockedPairs = new Set<number>();
  // Marks words already rewritten in the current merge, since a word can be listed more than once.
  const lastVisitedInMerge = new Int32Array(words.length).fill(-1);
  let nextId = specialCount + 256;

  while (nextId < targetSize && queue.length > 0) {
    const { count: queuedCount, key } = queue.pop()!;
    const currentCount = pairCounts.get(key) ?? 0;
    // Counts only fall between pushes (rises are always re-pushed), so a mismatch means stale.
    if (currentCount !== queuedCount) {
      if (currentCount > 0) queue.push({ count: currentCount, key });
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
      if (count !== undefined) queue.push({ count, key: pair });
    }
  }

  return { bytesById, tokenStringById, specialTokens, merges, ignoreMerges: false };
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
    if (isByteChar(special)) {
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
