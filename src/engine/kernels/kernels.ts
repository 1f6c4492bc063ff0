/**
 * The kernel interface: the dense math the engine delegates. Two implementations exist, portable
 * TypeScript (`js`) and C through a small addon (`native`: native/); tests check they agree.
 * Matrix products live here because native code wins by 20–50× on them; so do the other loops of
 * a training step (norms, rotary positions, softmaxes, attention, the optimiser), because in
 * TypeScript they cost a third of the step once the products were native
 * (docs/decisions/0001-own-engine.md, 0015-own-kernels.md). The native kernels may split work over
 * threads; results never depend on how many.
 */

export type KernelName = 'native' | 'js';

export interface AttentionDims {
  batch: number;
  seqLen: number;
  heads: number;
  kvHeads: number;
  headDim: number;
}

/** AdamW's scalars for one update: gᵢ·clip feeds the moments; w ← w·decay − stepSize·m / (√(v/correction2) + eps). */
export interface AdamWStep {
  clip: number;
  beta1: number;
  beta2: number;
  stepSize: number;
  correction2: number;
  eps: number;
  decay: number;
}

export interface Kernels {
  readonly name: KernelName;
  /**
   * Row-major C[M,N] = alpha · op(A)[M,K] · op(B)[K,N] + beta · C, where op(X) is X or Xᵀ.
   * Offsets and leading dimensions let a caller address one head of a (B, T, H, D) buffer in place.
   * With beta = 0, C's previous contents are ignored (NaN included), as in BLAS.
   */
  sgemm(
    transA: boolean,
    transB: boolean,
    M: number,
    N: number,
    K: number,
    alpha: number,
    A: Float32Array,
    aOffset: number,
    lda: number,
    B: Float32Array,
    bOffset: number,
    ldb: number,
    beta: number,
    C: Float32Array,
    cOffset: number,
    ldc: number,
  ): void;

  /** In place: softmax of each of `rows` rows of length `cols`; lse[r] = log Σ exp(row r) when given. */
  softmaxRows(data: Float32Array, offset: number, rows: number, cols: number, lse: Float32Array | null): void;

  /**
   * In place: `blocks` consecutive T×T attention-score blocks become probabilities; row t keeps
   * columns start..t (causal, keys before `start` are padding), every other entry becomes 0.
   */
  causalSoftmax(data: Float32Array, offset: number, blocks: number, T: number, start: number): void;

  /** SwiGLU forward: out = gate·σ(gate)·up and sigmoid = σ(gate), for n entries. */
  swigluForward(gate: Float32Array, up: Float32Array, out: Float32Array, sigmoid: Float32Array, n: number): void;

  /** SwiGLU backward, accumulating: dUp += g·gate·σ, dGate += g·up·σ·(1 + gate·(1 − σ)). */
  swigluBackward(grad: Float32Array, gate: Float32Array, up: Float32Array, sigmoid: Float32Array, dGate: Float32Array | null, dUp: Float32Array | null, n: number): void;

  /**
   * One decoding step of attention for a whole batch: q and out are (B, H·D); keys and values are
   * a cache (B, capacity, KV·D); sequence b attends to positions start[b] .. length−1.
   */
  attendCached(
    q: Float32Array,
    keys: Float32Array,
    values: Float32Array,
    out: Float32Array,
    start: Int32Array,
    shape: { batch: number; heads: number; kvHeads: number; headDim: number; capacity: number; length: number },
    scale: number,
  ): void;

  /** RMSNorm rows: out = x · inv[r] · w with inv[r] = 1/√(mean(x_r²) + eps). */
  rmsNormForward(x: Float32Array, weight: Float32Array, out: Float32Array, inv: Float32Array, rows: number, cols: number, eps: number): void;

  /** RMSNorm backward, accumulating into dx and dWeight (either may be null). */
  rmsNormBackward(grad: Float32Array, x: Float32Array, weight: Float32Array, inv: Float32Array, dx: Float32Array | null, dWeight: Float32Array | null, rows: number, cols: number): void;

  /**
   * Rotates every head of each row (rows, heads·headDim) of input by its position into output
   * (which may be input), dimension i with i + headDim/2; cos/sin are (positions, headDim/2)
   * tables. `inverse` rotates back.
   */
  rope(input: Float32Array, output: Float32Array, rows: number, heads: number, headDim: number, positions: Int32Array, cos: Float32Array, sin: Float32Array, inverse: boolean): void;

  /** probs = softmax of each logits row; out[r] = log p(targets[r]), 0 where the target is negative. */
  tokenLogProbs(logits: Float32Array, probs: Float32Array, targets: Int32Array, out: Float32Array, rows: number, vocab: number): void;

  /**
   * dLogits (+)= g[r]·(onehot(targets[r]) − probs[r]) over rows with a target; with `overwrite`
   * dLogits is written, not accumulated (rows without a target become 0), and may be probs itself.
   */
  tokenLogProbsBackward(grad: Float32Array, probs: Float32Array, targets: Int32Array, dLogits: Float32Array, rows: number, vocab: number, overwrite: boolean): void;

  /**
   * Causal attention of q (B·T, H·D) over k, v (B·T, KV·D): probs (B, H, T, T) are written and
   * kept for the backward, out (B·T, H·D) = softmax(QKᵀ·scale + mask)·V; keys before keyStart[b]
   * are padding.
   */
  attentionForward(q: Float32Array, k: Float32Array, v: Float32Array, probs: Float32Array, out: Float32Array, dims: AttentionDims, keyStart: Int32Array | null, scale: number): void;

  /** The backward of attentionForward, accumulating into dq, dk, dv (any may be null). */
  attentionBackward(
    grad: Float32Array,
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    probs: Float32Array,
    dq: Float32Array | null,
    dk: Float32Array | null,
    dv: Float32Array | null,
    dims: AttentionDims,
    keyStart: Int32Array | null,
    scale: number,
  ): void;

  /** out = a + b over n entries (out may be a or b). */
  add(a: Float32Array, b: Float32Array, out: Float32Array, n: number): void;

  /** target row indices[r] += source row r, rows of `cols` floats, in row order (indices may repeat). */
  scatterAddRows(source: Float32Array, indices: Int32Array, target: Float32Array, rows: number, cols: number): void;

  /** Σ x² over n entries, in double precision. */
  sumSquares(x: Float32Array, n: number): number;

  /** One AdamW update of n parameters in double precision (stored as float32); zeroes grad. */
  adamw(weights: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, n: number, step: AdamWStep): void;
}
