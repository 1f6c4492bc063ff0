/**
 * The kernel interface: the dense math the engine delegates. Two implementations exist, portable
 * TypeScript (`js`) and OpenBLAS through a small addon (`blas`); tests check they agree.
 * Only matrix products live here, because they are the one place where native code wins by 20–50×.
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
}
