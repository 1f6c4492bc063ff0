/**
 * Batched sampling with a key/value cache. Prompts are left-padded to a common length (keys before
 * a sequence's start are masked and its positions start at 0), prefilled in one forward, then
 * decoded one token per step for the whole batch. Each sequence has its own temperature, top-p,
 * token budget and stop tokens, so one batch can hold MTSA's four regeneration temperatures.
 * No tape: this is inference only. Stop *strings* are the caller's (it owns the tokenizer).
 */
import { assert } from '../core/errors.js';
import type { Rng } from '../core/rng.js';
import { kernels } from './kernels/index.js';
import { withBufferScope } from './memory.js';
import type { LlamaModel } from './nn/llama.js';
import * as ops from './ops/index.js';
import { applyRopeInPlace } from './ops/rope.js';
import { Tensor, noGrad } from './tensor.js';

export interface SamplingSettings {
  /** 0 means greedy */
  temperature: number;
  /** nucleus sampling mass in (0, 1]; 1 disables it */
  topP: number;
  maxNewTokens: number;
  /** generation ends after emitting one of these (the token is kept in the output) */
  stopTokenIds: readonly number[];
  /**
   * Once, right after the first sampled token that is one of `after`, the sequence continues with
   * `tokens`, fed without sampling (a mid-reply prefill: the attacker's question marker after its
   * thought line). They count towards maxNewTokens and cannot stop the sequence.
   */
  force?: { after: ReadonlySet<number>; tokens: readonly number[] };
}

export interface GenerationResult {
  tokens: number[];
  finishReason: 'stop' | 'length' | 'context';
}

/** Key/value cache for a batch: per layer (B, capacity, KV·D). */
export class KvCache {
  readonly keys: Float32Array[];
  readonly values: Float32Array[];
  /** positions filled so far (the same for every sequence: prompts are left-padded) */
  length = 0;

  constructor(
    readonly model: LlamaModel,
    readonly batch: number,
    readonly capacity: number,
    /** first real (non-padding) position of each sequence */
    readonly start: Int32Array,
  ) {
    const width = model.config.numKvHeads * model.headDim;
    this.keys = model.layers.map(() => new Float32Array(batch * capacity * width));
    this.values = model.layers.map(() => new Float32Array(batch * capacity * width));
  }
}

/** A cache holding only the given rows of `cache` (finished sequences leave the batch). */
export function compactCache(cache: KvCache, keep: readonly number[]): KvCache {
  const next = new KvCache(
    cache.model,
    keep.length,
    cache.capacity,
    Int32Array.from(keep, (r) => cache.start[r]),
  );
  const width = cache.model.config.numKvHeads * cache.model.headDim;
  const used = cache.length * width;
  for (let l = 0; l < cache.keys.length; l++) {
    keep.forEach((row, i) => {
      const from = row * cache.capacity * width;
      const to = i * cache.capacity * width;
      next.keys[l].set(cache.keys[l].subarray(from, from + used), to);
      next.values[l].set(cache.values[l].subarray(from, from + used), to);
    });
  }
  next.length = cache.length;
  return next;
}

/**
 * Runs new tokens (B, n) through the model at cache positions length..length+n−1, stores their
 * keys/values, and returns the final-norm hidden state of each sequence's last new token (B, C).
 */
export function forwardCached(model: LlamaModel, cache: KvCache, ids: Int32Array, n: number): Float32Array {
  const { numHeads: H, numKvHeads: KV, rmsNormEps: eps, ropeTheta: theta, hiddenSize: C } = model.config;
  const D = model.headDim;
  const B = cache.batch;
  const L0 = cache.length;
  const L = L0 + n;
  assert(ids.length === B * n, () => `forwardCached: ${ids.length} ids for batch ${B} × ${n}`);
  assert(L <= cache.capacity, () => `forwardCached: ${L} positions exceed the cache capacity ${cache.capacity}`);
  assert(L <= model.config.maxPositions, () => `generation reached ${L} positions, beyond maxPositions ${model.config.maxPositions}`);
  const positions = new Int32Array(B * n);
  for (let b = 0; b < B; b++) for (let t = 0; t < n; t++) positions[b * n + t] = Math.max(0, L0 + t - cache.start[b]);
  const kern = kernels();
  const width = KV * D;
  const group = H / KV;
  const scale = 1 / Math.sqrt(D);
  return noGrad(() =>
    withBufferScope(() => {
      let x = ops.embedding(model.embed, ids); // (B·n, C)
      const scores = new Float32Array(n * L);
      model.layers.forEach((layer, l) => {
        const h = ops.rmsNorm(x, layer.inputNorm, eps);
        const q = ops.linear(h, layer.q).data; // (B·n, H·D)
        const k = ops.linear(h, layer.k).data; // (B·n, KV·D)
        const v = ops.linear(h, layer.v).data;
        applyRopeInPlace(q, B * n, H, D, positions, theta);
        applyRopeInPlace(k, B * n, KV, D, positions, theta);
        const keys = cache.keys[l];
        const values = cache.values[l];
        for (let b = 0; b < B; b++) {
          const base = (b * cache.capacity + L0) * width;
          keys.set(k.subarray(b * n * width, (b + 1) * n * width), base);
          values.set(v.subarray(b * n * width, (b + 1) * n * width), base);
        }
        const attention = Tensor.zeros([B * n, H * D]);
        if (n === 1) {
          kern.attendCached(q, keys, values, attention.data, cache.start, { batch: B, heads: H, kvHeads: KV, headDim: D, capacity: cache.capacity, length: L }, scale);
        } else {
          for (let b = 0; b < B; b++) {
            const start = cache.start[b];
            const cacheBase = b * cache.capacity * width;
            for (let hd = 0; hd < H; hd++) {
              const kvOffset = cacheBase + Math.floor(hd / group) * D;
              const qOffset = b * n * H * D + hd * D;
              // scores (n, L) = q (n, D) · Kᵀ over every cached position, then causal softmax
              kern.sgemm(false, true, n, L, D, scale, q, qOffset, H * D, keys, kvOffset, width, 0, scores, 0, L);
              for (let t = 0; t < n; t++) {
                const row = t * L;
                const last = L0 + t; // causal: query t sees keys start..L0+t
                const from = Math.min(start, last);
                scores.fill(-Infinity, row, row + from);
                scores.fill(-Infinity, row + last + 1, row + L);
              }
              kern.softmaxRows(scores, 0, n, L, null);
              kern.sgemm(false, false, n, D, L, 1, scores, 0, L, values, kvOffset, width, 0, attention.data, qOffset, H * D);
            }
          }
        }
        x = ops.add(x, ops.linear(attention, layer.o));
        const h2 = ops.rmsNorm(x, layer.postNorm, eps);
        x = ops.add(x, ops.linear(ops.swiglu(ops.linear(h2, layer.gate), ops.linear(h2, layer.up)), layer.down));
      });
      cache.length = L;
      const last = new Float32Array(B * C);
      for (let b = 0; b < B; b++) last.set(x.data.subarray((b * n + n - 1) * C, (b * n + n) * C), b * C);
      return ops.rmsNorm(new Tensor(last, [B, C]), model.finalNorm, eps).data.slice();
    }),
  );
}

/** Next-token logits (B, V) from hidden states (B, C). */
export function headLogits(model: LlamaModel, hidden: Float32Array, batch: number): Float32Array {
  return noGrad(() => model.logits(new Tensor(hidden, [batch, model.config.hiddenSize])).data);
}

/**
 * Draws a token from logits with temperature and nucleus (top-p) truncation. The nucleus is every
 * token whose probability is at least the threshold τ where the descending cumulative mass first
 * reaches topP (ties at τ are all kept). τ is found by sorting a typed copy of the probabilities
 * (native sort, no comparator), or only of those above 1e-3 when they already hold topP.
 */
export function sampleToken(logits: Float32Array, offset: number, V: number, settings: Pick<SamplingSettings, 'temperature' | 'topP'>, rng: Rng): number {
  if (settings.temperature <= 0) {
    let best = 0;
    for (let i = 1; i < V; i++) if (logits[offset + i] > logits[offset + best]) best = i;
    return best;
  }
  const probs = new Float32Array(V);
  const inverseTemperature = 1 / settings.temperature;
  for (let i = 0; i < V; i++) probs[i] = logits[offset + i] * inverseTemperature;
  kernels().softmaxRows(probs, 0, 1, V, null);
  return sampleFromProbabilities(probs, settings.topP, rng);
}

const BUCKETS = 1024;
const bucketMass = new Float64Array(BUCKETS);

/**
 * Samples from a probability row with nucleus truncation. The threshold τ is found without sorting
 * the vocabulary: probabilities are binned linearly in [0, max], the bins are accumulated from the
 * top until they hold topP, and only the boundary bin is sorted.
 */
export function sampleFromProbabilities(probs: Float32Array, topP: number, rng: Rng): number {
  const V = probs.length;
  let threshold = 0;
  if (topP < 1) {
    let max = 0;
    for (let i = 0; i < V; i++) if (probs[i] > max) max = probs[i];
    const toBucket = (BUCKETS - 1) / max;
    bucketMass.fill(0);
    for (let i = 0; i < V; i++) bucketMass[Math.floor(probs[i] * toBucket)] += probs[i];
    let cumulative = 0;
    let boundary = BUCKETS - 1;
    for (; boundary > 0; boundary--) {
      if (cumulative + bucketMass[boundary] >= topP) break;
      cumulative += bucketMass[boundary];
    }
    const members: number[] = [];
    for (let i = 0; i < V; i++) if (Math.floor(probs[i] * toBucket) === boundary) members.push(probs[i]);
    const sorted = Float32Array.from(members).sort();
    threshold = sorted[0] ?? 0;
    for (let k = sorted.length - 1; k >= 0; k--) {
      cumulative += sorted[k];
      threshold = sorted[k];
      if (cumulative >= topP) break;
    }
  }
  let total = 0;
  for (let i = 0; i < V; i++) if (probs[i] >= threshold) total += probs[i];
  let r = rng.next() * total;
  let last = 0;
  for (let i = 0; i < V; i++) {
    if (probs[i] < threshold) continue;
    r -= probs[i];
    last = i;
    if (r < 0) return i;
  }
  return last;
}

export interface GenerateOptions {
  padId: number;
  /** per-sequence sampling settings (one entry per prompt, or one shared) */
  settings: SamplingSettings | readonly SamplingSettings[];
  /** one generator per sequence makes each result independent of what else is in the batch */
  rng: Rng | readonly Rng[];
  /** called after each new token; return true to stop that sequence (stop strings) */
  shouldStop?: (index: number, tokens: readonly number[]) => boolean;
}

/** Samples continuations of a batch of prompts. */
export function generate(model: LlamaModel, prompts: readonly (readonly number[])[], options: GenerateOptions): GenerationResult[] {
  const B = prompts.length;
  if (B === 0) return [];
  const settingsOf = (b: number): SamplingSettings => (Array.isArray(options.settings) ? (options.settings as SamplingSettings[])[b] : (options.settings as SamplingSettings));
  const promptLength = Math.max(...prompts.map((p) => p.length));
  assert(
    prompts.every((p) => p.length > 0),
    'generate: empty prompt',
  );
  const budget = Math.max(...prompts.map((_, b) => settingsOf(b).maxNewTokens));
  const capacity = Math.min(model.config.maxPositions, promptLength + budget);
  assert(promptLength < model.config.maxPositions, () => `generate: prompt of ${promptLength} tokens leaves no room below maxPositions ${model.config.maxPositions}`);
  const start = Int32Array.from(prompts, (p) => promptLength - p.length);
  let cache = new KvCache(model, B, capacity, start);
  const ids = new Int32Array(B * promptLength).fill(options.padId);
  prompts.forEach((p, b) => ids.set(p, b * promptLength + start[b]));
  const V = model.config.vocabSize;
  const results: GenerationResult[] = prompts.map(() => ({ tokens: [], finishReason: 'length' }));
  const done = new Uint8Array(B);
  // rows[r] is the prompt index held in row r of the cache; finished rows are compacted away
  // once they are half of the batch, so the decoding cost follows the sequences still running.
  let rows = prompts.map((_, b) => b);
  // forced[b]: tokens still to feed without sampling; forceUsed[b]: the one insertion happened
  const forced: number[][] = prompts.map(() => []);
  const forceUsed = new Uint8Array(B);
  let hidden = forwardCached(model, cache, ids, promptLength);
  for (;;) {
    const logits = headLogits(model, hidden, rows.length);
    const next = new Int32Array(rows.length).fill(options.padId);
    const running: number[] = [];
    rows.forEach((b, r) => {
      if (done[b]) return;
      const settings = settingsOf(b);
      const result = results[b];
      const isForced = forced[b].length > 0;
      let token: number;
      if (isForced) token = forced[b].shift()!;
      else {
        const rng = Array.isArray(options.rng) ? (options.rng as Rng[])[b] : (options.rng as Rng);
        token = sampleToken(logits, r * V, V, settings, rng);
        if (settings.force && !forceUsed[b] && settings.force.after.has(token)) {
          forced[b] = [...settings.force.tokens];
          forceUsed[b] = 1;
        }
      }
      result.tokens.push(token);
      next[r] = token;
      if (!isForced && (settings.stopTokenIds.includes(token) || options.shouldStop?.(b, result.tokens))) {
        result.finishReason = 'stop';
        done[b] = 1;
      } else if (result.tokens.length >= settings.maxNewTokens) {
        done[b] = 1;
      } else if (cache.length >= capacity) {
        result.finishReason = 'context';
        done[b] = 1;
      } else running.push(r);
    });
    if (running.length === 0) break;
    if (running.length <= rows.length / 2 && rows.length > 4) {
      cache = compactCache(cache, running);
      rows = running.map((r) => rows[r]);
      hidden = forwardCached(
        model,
        cache,
        Int32Array.from(running, (r) => next[r]),
        1,
      );
      continue;
    }
    hidden = forwardCached(model, cache, next, 1);
  }
  return results;
}
