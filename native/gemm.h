/*
 * mtsa_sgemm: a self-contained, bitwise-reproducible single-precision GEMM (row-major, CBLAS-like).
 *
 * Reproducibility contract: every element C[i,j] is computed by the same sequence of float operations
 * regardless of the rectangle / thread partition it is computed in and of the instruction set
 * (AVX-512, AVX2+FMA or scalar fmaf):
 *   K is split into nkb = ceil(K / 256) blocks of kcb = ceil(K / nkb) (last block shorter), in order;
 *   for each block an accumulator starts at 0.0f and does acc = fma(a[i,k], b[k,j], acc) for k increasing;
 *   block 0:   C = (beta == 0) ? alpha*acc : fma(alpha, acc, beta*C)
 *   block > 0: C = fma(alpha, acc, C)
 *   K == 0:    C = (beta == 0) ? 0 : beta*C
 */
#ifndef MTSA_GEMM_H
#define MTSA_GEMM_H

#ifdef __cplusplus
extern "C" {
#endif

/* Row-major C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, op(X) = X or X^T (ta/tb nonzero = transposed).
 * Leading dimensions are row strides in floats, as in CBLAS row-major. beta == 0 means C is not read (NaN in C is ignored). */
void mtsa_sgemm(int ta, int tb, long M, long N, long K, float alpha,
                const float *A, long lda, const float *B, long ldb, float beta, float *C, long ldc);

/* The same product restricted to rows [m0, m1) and columns [n0, n1) of C (other entries untouched). */
void mtsa_sgemm_rect(int ta, int tb, long M, long N, long K, float alpha,
                     const float *A, long lda, const float *B, long ldb, float beta, float *C, long ldc,
                     long m0, long m1, long n0, long n1);

/* Partition of C for `parts` threads: writes part `part`'s rectangle; parts cover C exactly, disjoint,
 * aligned to the micro-tile. Some parts may be empty (m0 == m1 or n0 == n1) when C is small. */
void mtsa_sgemm_partition(long M, long N, long K, int parts, int part, long *m0, long *m1, long *n0, long *n1);

/* Name of the compiled kernel path ("avx512", "avx2", "scalar"), for diagnostics. */
const char *mtsa_sgemm_isa(void);

#ifdef __cplusplus
}
#endif
#endif
