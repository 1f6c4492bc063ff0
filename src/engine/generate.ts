/**
 * Batched sampling with a key/value cache. Prompts are left-padded to a common length (keys before
 * a sequence's start are masked and its positions start at 0), prefilled in one forward, then
 * decoded one token per step for the whole batch. Each sequence has its own temperature, top-p,
 * token budget and stop tokens, so one batch can hold MTSA's four regeneration temperatures.
 * The forward itself is the model's (LlamaModel.forwardHidden with a KvCache); this file only
 * batches and samples. Stop *strings* are the caller's (it owns the tokenizer).
 */
import { assert } from '../core/errors.js';
import type { Rng } from '../core/rng.js';
import { kernels } from './kernels/index.js';
import { withBufferScope } from './memory.js';
import { KvCache, type LlamaModel } from './nn/llama.js';
import type { PrefixMatch, PrefixStore } from './prefix-store.js';
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

/**
 * Runs n new tokens per sequence (B, n) through the model's forward with the cache, and returns the
 * final-norm hidden state of each sequence's last new token (B, C).
 */
export function lastHidden(model: LlamaModel, cache: KvCache, ids: Int32Array, n: number): Float32Array {
  const C = model.config.hiddenSize;
  const B = cache.batch;
  return withBufferScope(() => {
    const hidden = model.forwardHidden({ ids, batch: B, seqLen: n }, cache).data;
    const last = new Float32Array(B * C);
    for (let b = 0; b < B; b++) last.set(hidden.subarray((b * n + n - 1) * C, (b * n + n) * C), b * C);
    return last;
  });
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
  /**
   * Reuse the key/value rows of stored sequences that share a prefix with a prompt, and store
   * every finished sequence (prompt and sampled tokens) for later calls.
   */
  prefixes?: PrefixStore;
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
  // Prefix reuse: each row takes what the store shares with its prompt (never the last prompt
  // token, whose hidden state starts sampling), and the batch prefills from the first position
  // some row lacks. Positions are relative to each row's start, so stored rows fit any padding.
  const store = options.prefixes;
  const matches: (PrefixMatch | null)[] = prompts.map((p) => store?.match(p, p.length - 1) ?? null);
  const past = Math.min(...prompts.map((_, b) => start[b] + (matches[b]?.length ?? 0)));
  matches.forEach((match, b) => {
    if (match && past > start[b]) store!.restore(match, cache, b, start[b], past - start[b]);
  });
  cache.length = past;
  const n = promptLength - past;
  const ids = new Int32Array(B * n).fill(options.padId);
  prompts.forEach((p, b) => {
    for (let t = Math.max(past, start[b]); t < promptLength; t++) ids[b * n + t - past] = p[t - start[b]];
  });
  if (store) store.counts.prefilled += B * n;
  const V = model.config.vocabSize;
  const results: GenerationResult[] = prompts.map(() => ({ tokens: [], finishReason: 'length' }));
  const done = new Uint8Array(B);
  // Row r of the cache, about to leave the batch, is stored: its prompt and every sampled token
  // but the last (which was never fed), i.e. cache positions start..length−1.
  const save = (r: number, b: number) => store?.save([...prompts[b], ...results[b].tokens.slice(0, -1)], prompts[b].length, cache, r, cache.start[r], matches[b]);
  // rows[r] is the prompt index held in row r of the cache; finished rows are compacted away
  // once they are half of the batch, so the decoding cost follows the sequences still running.
  let rows = prompts.map((_, b) => b);
  // forced[b]: tokens still to feed without sampling; forceUsed[b]: the one insertion happened
  const forced: number[][] = prompts.map(() => []);
  const forceUsed = new Uint8Array(B);
  let hidden = lastHidden(model, cache, ids, n);
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
      if (done[b]) save(r, b);
    });
    if (running.length === 0) break;
    if (running.length <= rows.length / 2 && rows.length > 4) {
      cache = cache.keepRows(running);
      rows = running.map((r) => rows[r]);
      hidden = lastHidden(
        model,
        cache,
        Int32Array.from(running, (r) => next[r]),
        1,
      );
      continue;
    }
    hidden = lastHidden(model, cache, next, 1);
  }
  return results;
}
