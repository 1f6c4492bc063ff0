/**
 * A Llama-style causal decoder (RMSNorm, rotary positions, grouped-query attention, SwiGLU MLP,
 * no biases, optional tied embeddings) whose parameters carry Hugging Face `LlamaForCausalLM`
 * names, so checkpoints move between this engine and transformers unchanged.
 * One forward serves training (taped, all positions at once) and sampling (with a key/value cache,
 * a few new positions at a time); batching and sampling live in ../generate.ts.
 */
import { assert } from '../../core/errors.js';
import { Rng } from '../../core/rng.js';
import * as ops from '../ops/index.js';
import { Tensor, noGrad } from '../tensor.js';

export interface LlamaConfig {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  /** longest sequence (prompt + completion) the model is trained and sampled with */
  maxPositions: number;
  rmsNormEps: number;
  ropeTheta: number;
  tieWordEmbeddings: boolean;
}

export function defaultLlamaConfig(overrides: Partial<LlamaConfig> & Pick<LlamaConfig, 'vocabSize'>): LlamaConfig {
  return {
    hiddenSize: 128,
    intermediateSize: 344,
    numLayers: 4,
    numHeads: 4,
    numKvHeads: 4,
    maxPositions: 512,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    tieWordEmbeddings: true,
    ...overrides,
  };
}

export function validateLlamaConfig(config: LlamaConfig): void {
  const { hiddenSize: C, numHeads: H, numKvHeads: KV } = config;
  assert(C % H === 0, `hiddenSize ${C} is not divisible by numHeads ${H}`);
  assert((C / H) % 2 === 0, `head size ${C / H} must be even for rotary embeddings`);
  assert(H % KV === 0, `numHeads ${H} is not a multiple of numKvHeads ${KV}`);
  for (const key of ['vocabSize', 'intermediateSize', 'numLayers', 'maxPositions'] as const) {
    assert(Number.isInteger(config[key]) && config[key] > 0, `${key} must be a positive integer, got ${config[key]}`);
  }
}

export interface LayerParams {
  inputNorm: Tensor;
  q: Tensor;
  k: Tensor;
  v: Tensor;
  o: Tensor;
  postNorm: Tensor;
  gate: Tensor;
  up: Tensor;
  down: Tensor;
}

/** A token batch: B sequences of T ids, row-major; keyStart[b] > 0 marks left padding. */
export interface TokenBatch {
  ids: Int32Array;
  batch: number;
  seqLen: number;
  keyStart?: Int32Array;
}

export class LlamaModel {
  readonly params = new Map<string, Tensor>();
  readonly embed: Tensor;
  readonly layers: LayerParams[] = [];
  readonly finalNorm: Tensor;
  /** the LM head: the embedding matrix itself when embeddings are tied */
  readonly head: Tensor;

  constructor(
    readonly config: LlamaConfig,
    rng: Rng | null = new Rng(0),
  ) {
    validateLlamaConfig(config);
    const { vocabSize: V, hiddenSize: C, intermediateSize: F, numHeads: H, numKvHeads: KV, numLayers: L } = config;
    const D = C / H;
    // GPT-2 style init: N(0, 0.02), residual output projections scaled by 1/√(2L).
    const init = (name: string, shape: number[], std: number) => {
      const t = Tensor.parameter(new Float32Array(shape[0] * shape[1]), shape, name);
      if (rng) for (let i = 0; i < t.size; i++) t.data[i] = rng.normal() * std;
      this.params.set(name, t);
      return t;
    };
    const ones = (name: string, size: number) => {
      const t = Tensor.parameter(new Float32Array(size).fill(1), [size], name);
      this.params.set(name, t);
      return t;
    };
    const std = 0.02;
    const residualStd = std / Math.sqrt(2 * L);
    this.embed = init('model.embed_tokens.weight', [V, C], std);
    for (let l = 0; l < L; l++) {
      const p = `model.layers.${l}.`;
      this.layers.push({
        inputNorm: ones(`${p}input_layernorm.weight`, C),
        q: init(`${p}self_attn.q_proj.weight`, [H * D, C], std),
        k: init(`${p}self_attn.k_proj.weight`, [KV * D, C], std),
        v: init(`${p}self_attn.v_proj.weight`, [KV * D, C], std),
        o: init(`${p}self_attn.o_proj.weight`, [C, H * D], residualStd),
        postNorm: ones(`${p}post_attention_layernorm.weight`, C),
        gate: init(`${p}mlp.gate_proj.weight`, [F, C], std),
        up: init(`${p}mlp.up_proj.weight`, [F, C], std),
        down: init(`${p}mlp.down_proj.weight`, [C, F], residualStd),
      });
    }
    this.finalNorm = ones('model.norm.weight', C);
    this.head = config.tieWordEmbeddings ? this.embed : init('lm_head.weight', [V, C], std);
  }

  get headDim(): number {
    return this.config.hiddenSize / this.config.numHeads;
  }

  parameterCount(): number {
    let n = 0;
    for (const t of this.params.values()) n += t.size;
    return n;
  }

  /**
   * Final-norm hidden states (B·T, C) of a token batch: the model's one forward.
   * Without a cache it is the training forward: every position at once, taped when gradients are
   * on, `keyStart` marking left padding. With a cache, the batch holds the next T tokens of the
   * cache's B sequences: they take positions cache.length.., their keys and values are appended to
   * the cache, and they attend to everything cached (left padding is the cache's `start`). The
   * cached forward is inference only and never tapes.
   */
  forwardHidden(batch: TokenBatch, cache?: KvCache): Tensor {
    return cache ? noGrad(() => this.forwardLayers(batch, cache)) : this.forwardLayers(batch);
  }

  private forwardLayers(batch: TokenBatch, cache?: KvCache): Tensor {
    const { ids, batch: B, seqLen: T } = batch;
    const { numHeads: H, numKvHeads: KV, rmsNormEps: eps, ropeTheta: theta } = this.config;
    assert(ids.length === B * T, () => `forward: ${ids.length} ids for batch ${B} × ${T}`);
    assert(!cache || (cache.batch === B && !batch.keyStart), () => `forward: a cache of ${cache!.batch} sequences given a batch of ${B}${batch.keyStart ? ' with its own keyStart' : ''}`);
    const past = cache ? cache.length : 0;
    const keyStart = cache ? cache.start : batch.keyStart;
    assert(!cache || past + T <= cache.capacity, () => `forward: ${past + T} positions exceed the cache capacity ${cache!.capacity}`);
    assert(past + T <= this.config.maxPositions, () => `forward: ${past + T} positions exceed maxPositions ${this.config.maxPositions}`);
    // positions count from each sequence's first real token, so left padding shifts nothing
    const positions = new Int32Array(B * T);
    for (let b = 0; b < B; b++) {
      const start = keyStart ? keyStart[b] : 0;
      for (let t = 0; t < T; t++) positions[b * T + t] = Math.max(0, past + t - start);
    }
    const shape = { batch: B, seqLen: T, heads: H, kvHeads: KV, headDim: this.headDim };
    let x = ops.embedding(this.embed, ids); // (B·T, C)
    this.layers.forEach((layer, l) => {
      const h = ops.rmsNorm(x, layer.inputNorm, eps);
      const q = ops.rope(ops.linear(h, layer.q), H, positions, theta); // (B·T, H·D)
      const k = ops.rope(ops.linear(h, layer.k), KV, positions, theta); // (B·T, KV·D)
      const v = ops.linear(h, layer.v);
      const attention = cache ? cache.attend(l, q.data, k.data, v.data, T) : ops.causalAttention(q, k, v, shape, keyStart);
      x = ops.add(x, ops.linear(attention, layer.o));
      const h2 = ops.rmsNorm(x, layer.postNorm, eps);
      const mlp = ops.swiglu(ops.linear(h2, layer.gate), ops.linear(h2, layer.up)); // (B·T, F)
      x = ops.add(x, ops.linear(mlp, layer.down));
    });
    if (cache) cache.length = past + T;
    return ops.rmsNorm(x, this.finalNorm, eps);
  }

  /** Logits (N, V) for hidden rows (N, C). */
  logits(hidden: Tensor): Tensor {
    return ops.linear(hidden, this.head);
  }

  /** Copies every parameter's values from another model of the same config. */
  copyFrom(other: LlamaModel): void {
    for (const [name, t] of this.params) {
      const source = other.params.get(name);
      assert(source && source.size === t.size, () => `copyFrom: parameter ${name} missing or of another size`);
      t.data.set(source.data);
    }
  }

  clone(): LlamaModel {
    const copy = new LlamaModel(this.config, null);
    copy.copyFrom(this);
    return copy;
  }

  zeroGrad(): void {
    for (const t of this.params.values()) t.grad = null;
  }
}

/**
 * Key/value cache of a batch of sequences for `forwardHidden`: per layer (B, capacity, KV·D).
 * Sequences are left-padded to a common length, so `length` (positions filled) is shared and
 * start[b] is sequence b's first real position; its keys were rotated by position − start[b].
 */
export class KvCache {
  readonly keys: Float32Array[];
  readonly values: Float32Array[];
  /** positions filled so far, the same for every sequence */
  length = 0;

  constructor(
    readonly model: LlamaModel,
    readonly batch: number,
    readonly capacity: number,
    /** first real (non-padding) position of each sequence */
    readonly start: Int32Array,
  ) {
    assert(start.length === batch, () => `KvCache: ${start.length} start positions for ${batch} sequences`);
    this.keys = model.layers.map(() => new Float32Array(batch * capacity * this.width));
    this.values = model.layers.map(() => new Float32Array(batch * capacity * this.width));
  }

  /** floats per position of one sequence in one layer (KV·D) */
  get width(): number {
    return this.model.config.numKvHeads * this.model.headDim;
  }

  /** Stores layer l's keys and values of n new positions per sequence, then attends to the cache. */
  attend(l: number, q: Float32Array, k: Float32Array, v: Float32Array, n: number): Tensor {
    const width = this.width;
    const base = this.length;
    for (let b = 0; b < this.batch; b++) {
      const at = (b * this.capacity + base) * width;
      this.keys[l].set(k.subarray(b * n * width, (b + 1) * n * width), at);
      this.values[l].set(v.subarray(b * n * width, (b + 1) * n * width), at);
    }
    const { numHeads: heads, numKvHeads: kvHeads } = this.model.config;
    return ops.cachedAttention(
      q,
      { keys: this.keys[l], values: this.values[l], capacity: this.capacity, start: this.start },
      { batch: this.batch, heads, kvHeads, headDim: this.model.headDim },
      base,
      n,
    );
  }

  /** A cache holding only the given rows (finished sequences leave the batch). */
  keepRows(keep: readonly number[]): KvCache {
    const next = new KvCache(
      this.model,
      keep.length,
      this.capacity,
      Int32Array.from(keep, (r) => this.start[r]),
    );
    const width = this.width;
    const used = this.length * width;
    for (let l = 0; l < this.keys.length; l++) {
      keep.forEach((row, i) => {
        const from = row * this.capacity * width;
        const to = i * this.capacity * width;
        next.keys[l].set(this.keys[l].subarray(from, from + used), to);
        next.values[l].set(this.values[l].subarray(from, from + used), to);
      });
    }
    next.length = this.length;
    return next;
  }
}
