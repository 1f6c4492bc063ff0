/**
 * Key/value rows of finished sequences, kept so that a later prompt sharing a token prefix with one
 * of them prefills only the rest (prefix reuse across the turns of a dialogue: each turn's prompt
 * is the whole history again). A key or value at position j depends only on tokens 0..j, and keys
 * are rotated by their position relative to the sequence's first token, so rows copied to the same
 * relative positions of a new left-padded batch are what a prefill would compute, up to float
 * rounding (products of other shapes round differently).
 *
 * Bounded: entries are dropped least recently used first once their bytes exceed `maxBytes`. An
 * entry is dropped at once when a newer one holds all its useful rows: when its tokens begin the
 * newer entry, or when the newer entry's prompt continued it past its own prompt (the next turn of
 * the same dialogue, whose re-encoded reply may part from the sampled tokens). Everything happens
 * in call order, so a store filled by the same calls holds the same rows.
 */
import { assert } from '../core/errors.js';
import type { KvCache, LlamaModel } from './nn/llama.js';

interface Entry {
  tokens: Int32Array;
  /** how many of the tokens were the prompt (the rest were sampled) */
  promptLength: number;
  /** per layer (tokens, KV·D) */
  keys: Float32Array[];
  values: Float32Array[];
  bytes: number;
  lastUse: number;
}

/** A stored sequence sharing the first `length` tokens of a prompt. */
export interface PrefixMatch {
  readonly entry: Entry;
  readonly length: number;
}

export class PrefixStore {
  private entries: Entry[] = [];
  private bytes = 0;
  private clock = 0;
  /** positions prefilled by the model and positions copied from the store instead, since creation */
  readonly counts = { prefilled: 0, reused: 0 };

  constructor(
    readonly model: LlamaModel,
    /** the most key/value bytes kept (floats of every layer's keys and values) */
    readonly maxBytes: number,
  ) {}

  /** bytes held now (never above maxBytes) */
  get heldBytes(): number {
    return this.bytes;
  }

  /** The stored sequence sharing the longest prefix with `tokens`, capped at `limit` tokens (first found on ties). */
  match(tokens: readonly number[], limit: number): PrefixMatch | null {
    const best = this.longest(tokens, limit);
    if (best) best.entry.lastUse = ++this.clock;
    return best;
  }

  /** How many of `tokens` a prefill could skip (the longest match, capped at `limit`), without counting as a use. */
  reusable(tokens: readonly number[], limit: number): number {
    return this.longest(tokens, limit)?.length ?? 0;
  }

  private longest(tokens: readonly number[], limit: number): PrefixMatch | null {
    let best: PrefixMatch | null = null;
    for (const entry of this.entries) {
      const cap = Math.min(limit, entry.tokens.length, tokens.length);
      let n = 0;
      while (n < cap && entry.tokens[n] === tokens[n]) n++;
      if (n > 0 && n > (best?.length ?? 0)) best = { entry, length: n };
    }
    return best;
  }

  /** Copies the first `count` positions of a match into row `row` of the cache, from position `at`. */
  restore(match: PrefixMatch, cache: KvCache, row: number, at: number, count: number): void {
    assert(cache.model === this.model, 'PrefixStore.restore: the cache belongs to another model');
    assert(count <= match.length, () => `PrefixStore.restore: ${count} positions asked of a ${match.length}-token match`);
    const width = cache.width;
    const to = (row * cache.capacity + at) * width;
    for (let l = 0; l < cache.keys.length; l++) {
      cache.keys[l].set(match.entry.keys[l].subarray(0, count * width), to);
      cache.values[l].set(match.entry.values[l].subarray(0, count * width), to);
    }
    this.counts.reused += count;
  }

  /**
   * Stores row `row` of the cache, positions at..at+tokens.length−1, as the sequence `tokens`
   * whose first `promptLength` were the prompt. `continued` is the match the row's prompt was
   * restored from: if it went past that entry's prompt, the new entry replaces it.
   */
  save(tokens: readonly number[], promptLength: number, cache: KvCache, row: number, at: number, continued?: PrefixMatch | null): void {
    assert(cache.model === this.model, 'PrefixStore.save: the cache belongs to another model');
    const width = cache.width;
    const n = tokens.length;
    const bytes = 2 * cache.keys.length * n * width * 4;
    if (n === 0 || bytes > this.maxBytes) return;
    const from = (row * cache.capacity + at) * width;
    const entry: Entry = {
      tokens: Int32Array.from(tokens),
      promptLength,
      keys: cache.keys.map((k) => k.slice(from, from + n * width)),
      values: cache.values.map((v) => v.slice(from, from + n * width)),
      bytes,
      lastUse: ++this.clock,
    };
    const replaced = continued && continued.length >= continued.entry.promptLength ? continued.entry : null;
    this.entries = this.entries.filter((old) => {
      const drop = old === replaced || (old.tokens.length <= n && old.tokens.every((t, i) => t === tokens[i]));
      if (drop) this.bytes -= old.bytes;
      return !drop;
    });
    this.entries.push(entry);
    this.bytes += bytes;
    while (this.bytes > this.maxBytes) {
      let oldest = 0;
      for (let i = 1; i < this.entries.length; i++) if (this.entries[i].lastUse < this.entries[oldest].lastUse) oldest = i;
      this.bytes -= this.entries[oldest].bytes;
      this.entries.splice(oldest, 1);
    }
  }
}
