/**
 * The kernel interface: the dense math the engine delegates. Two implementations exist, portable
 * TypeScript (`js`) and OpenBLAS through a small addon (`blas`); tests check they agree.
 * Matrix products live here because native code wins by 20–50× on them; the three exp-heavy loops
 * of a training step live here because V8's scalar Math.exp (~13 ns) made them cost more than all
 * the products together (docs/decisions/0001-own-engine.md).
 */

export type KernelName = 'blas' | 'js';

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
}
