/*
 * Self-contained, bitwise-reproducible SGEMM (see gemm.h for the exact per-element operation sequence).
 * GotoBLAS/BLIS-style: op(B) is packed into KC x NR column panels (zero-padded), op(A) into MR x KC
 * row panels (zero-padded, k-major), and an MR x NR register-blocked micro-kernel does the FMAs.
 * Padding rows/columns are computed but never stored, so edge elements follow exactly the same
 * operation sequence as interior ones.
 */
#include "gemm.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

/* ---- ISA-independent blocking of K (the only blocking that affects results; do NOT make it tunable) ---- */
#define KC_MAX 256L

static inline void k_blocking(long K, long *nkb, long *kcb) {
  long n = (K + KC_MAX - 1) / KC_MAX;
  if (n < 1) n = 1;
  *nkb = n;
  *kcb = (K + n - 1) / n;
}

/* ---- ISA-specific micro-tile ---- */
#if defined(__AVX512F__)
#define MTSA_ISA "avx512"
#define MR 12
#define NR 32
#elif defined(__AVX2__) && defined(__FMA__)
#define MTSA_ISA "avx2"
#define MR 6
#define NR 16
#else
#define MTSA_ISA "scalar"
#define MR 4
#define NR 8
#endif

/* columns of C per packed B block: KC_MAX * NC * 4 bytes should sit comfortably in L2 */
#ifndef NC
#define NC 512L
#endif
/* rows of C per packed A block (multiple of MR) */
#ifndef MC
#define MC (MR * 8)
#endif

const char *mtsa_sgemm_isa(void) { return MTSA_ISA; }

#ifndef PF_DIST
#define PF_DIST 8
#endif

/* ---- per-thread packing buffers (grown, never freed) ---- */
static __thread float *tls_abuf, *tls_bbuf;
static __thread size_t tls_acap, tls_bcap;

static float *grow(float **buf, size_t *cap, size_t nfloats) {
  if (*cap < nfloats) {
    size_t bytes = (nfloats * sizeof(float) + 4095) & ~(size_t)4095;
    float *p = (float *)aligned_alloc(64, bytes);
    if (!p) return NULL;
    free(*buf);
    *buf = p;
    *cap = bytes / sizeof(float);
  }
  return *buf;
}

#if defined(__AVX512F__)
/* In-place 16x16 transpose: on return r[k][j] = old r[j][k]. */
static inline __attribute__((always_inline)) void tr16(__m512 r[16]) {
  __m512 t[16];
  for (int j = 0; j < 16; j += 2) {
    t[j] = _mm512_unpacklo_ps(r[j], r[j + 1]);
    t[j + 1] = _mm512_unpackhi_ps(r[j], r[j + 1]);
  }
  for (int j = 0; j < 16; j += 4) {
    r[j] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[j]), _mm512_castps_pd(t[j + 2])));
    r[j + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[j]), _mm512_castps_pd(t[j + 2])));
    r[j + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[j + 1]), _mm512_castps_pd(t[j + 3])));
    r[j + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[j + 1]), _mm512_castps_pd(t[j + 3])));
  }
  /* now r[4q+s], 128-bit lane l = rows 4q..4q+3 at column 4l+s; transpose the 4x4 grid of lanes */
  for (int s = 0; s < 4; s++) {
    __m512 x0 = r[s], x1 = r[4 + s], x2 = r[8 + s], x3 = r[12 + s];
    __m512 y0 = _mm512_shuffle_f32x4(x0, x1, 0x44), y1 = _mm512_shuffle_f32x4(x0, x1, 0xEE);
    __m512 y2 = _mm512_shuffle_f32x4(x2, x3, 0x44), y3 = _mm512_shuffle_f32x4(x2, x3, 0xEE);
    t[s] = _mm512_shuffle_f32x4(y0, y2, 0x88);
    t[4 + s] = _mm512_shuffle_f32x4(y0, y2, 0xDD);
    t[8 + s] = _mm512_shuffle_f32x4(y1, y3, 0x88);
    t[12 + s] = _mm512_shuffle_f32x4(y1, y3, 0xDD);
  }
  for (int j = 0; j < 16; j++) r[j] = t[j];
}
#endif

/* ---- packing ----
 * Bp: for panel p (columns j0 + p*NR ...), Bp[p*kc*NR + k*NR + j] = op(B)[k0+k][j0+p*NR+j], zero padded.
 * Ap: Ap[k*MR + i] = op(A)[i0+i][k0+k], zero padded for i >= mr. */
/* kc rows of n contiguous floats (row stride ld) into rows of `width` floats, zero-padded past n */
static void copy_rows_padded(const float *src, long ld, long kc, long n, long width, float *dst) {
  if (n == width) {
    for (long k = 0; k < kc; k++) memcpy(dst + k * width, src + k * ld, (size_t)width * sizeof(float));
    return;
  }
  for (long k = 0; k < kc; k++) {
    long j = 0;
    for (; j < n; j++) dst[k * width + j] = src[k * ld + j];
    for (; j < width; j++) dst[k * width + j] = 0.0f;
  }
}

static void pack_b(int tb, const float *B, long ldb, long k0, long kc, long j0, long nc, float *Bp) {
  for (long jp = 0; jp < nc; jp += NR) {
    long nr = nc - jp < NR ? nc - jp : NR;
    float *dst = Bp + (jp / NR) * kc * NR;
    if (!tb) {
      copy_rows_padded(B + k0 * ldb + j0 + jp, ldb, kc, nr, NR, dst);
    } else {
      /* op(B)[k][j] = B[j*ldb + k] */
      const float *src = B + (j0 + jp) * ldb + k0;
#if defined(__AVX512F__)
      if (nr == NR) {
        long k = 0;
        for (; k + 16 <= kc; k += 16) {
          /* 32 rows x 16 k  ->  16 k-rows of 32: transpose two 16x16 blocks */
          for (int h = 0; h < 2; h++) {
            __m512 r[16];
            for (int j = 0; j < 16; j++) r[j] = _mm512_loadu_ps(src + (h * 16 + j) * ldb + k);
            tr16(r);
            for (int s = 0; s < 16; s++) _mm512_store_ps(dst + (k + s) * NR + h * 16, r[s]);
          }
        }
        for (; k < kc; k++)
          for (long j = 0; j < NR; j++) dst[k * NR + j] = src[j * ldb + k];
        continue;
      }
#endif
      for (long k = 0; k < kc; k++) {
        long j = 0;
        for (; j < nr; j++) dst[k * NR + j] = src[j * ldb + k];
        for (; j < NR; j++) dst[k * NR + j] = 0.0f;
      }
    }
  }
}

static void pack_a_panel(int ta, const float *A, long lda, long i0, long mr, long k0, long kc, float *Ap) {
  if (ta) {
    /* op(A)[i][k] = A[k*lda + i]: contiguous in i */
    copy_rows_padded(A + k0 * lda + i0, lda, kc, mr, MR, Ap);
  } else {
    /* op(A)[i][k] = A[i*lda + k] */
    const float *src = A + i0 * lda + k0;
#if defined(__AVX512F__)
    for (long k = 0; k < kc; k += 16) {
      long rem = kc - k < 16 ? kc - k : 16;
      __mmask16 lm = (__mmask16)((1u << rem) - 1);
      __m512 r[16];
      for (int i = 0; i < 16; i++)
        r[i] = i < mr ? _mm512_maskz_loadu_ps(lm, src + i * lda + k) : _mm512_setzero_ps();
      tr16(r);
      for (int s = 0; s < 16; s++)
        if (s < rem) _mm512_mask_storeu_ps(Ap + (k + s) * MR, (__mmask16)((1u << MR) - 1), r[s]);
    }
#else
    long i = 0;
    for (; i < mr; i++) {
      const float *s = src + i * lda;
      for (long k = 0; k < kc; k++) Ap[k * MR + i] = s[k];
    }
    for (; i < MR; i++)
      for (long k = 0; k < kc; k++) Ap[k * MR + i] = 0.0f;
#endif
  }
}

static void pack_a(int ta, const float *A, long lda, long i0, long mc, long k0, long kc, float *Ap) {
#if defined(__AVX512F__)
  if (ta) {
    /* read each row of A once, contiguously, scattering MR-wide pieces into the panels (zero padded) */
    const __mmask16 m12 = (__mmask16)((1u << MR) - 1);
    const long mfull = mc / MR * MR;
    const __mmask16 mtail = (__mmask16)((1u << (mc - mfull)) - 1);
    for (long k = 0; k < kc; k++) {
      const float *src = A + (k0 + k) * lda + i0;
      float *dst = Ap + k * MR;
      if (k + PF_DIST < kc)
        for (long x = 0; x < mc; x += 16) _mm_prefetch((const char *)(src + PF_DIST * lda + x), _MM_HINT_T0);
      long ip = 0;
      for (; ip < mfull; ip += MR) _mm512_mask_storeu_ps(dst + ip * kc, m12, _mm512_maskz_loadu_ps(m12, src + ip));
      if (ip < mc) _mm512_mask_storeu_ps(dst + ip * kc, m12, _mm512_maskz_loadu_ps(mtail, src + ip));
    }
    return;
  }
#endif
  for (long ip = 0; ip < mc; ip += MR)
    pack_a_panel(ta, A, lda, i0 + ip, mc - ip < MR ? mc - ip : MR, k0, kc, Ap + (ip / MR) * MR * kc);
}

/* ---- micro-kernels ----
 * c[i][j] for i < mr, j < nr:
 *   first block: beta == 0 ? alpha*acc : fma(alpha, acc, beta*c);  later blocks: fma(alpha, acc, c) */
#if defined(__AVX512F__)
static void kernel(long kc, const float *restrict a, const float *restrict b, float *c, long ldc, int mr,
                   int nr, float alpha, float beta, int first) {
  __m512 acc[MR][2];
#pragma GCC unroll 12
  for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
#pragma GCC unroll 4
  for (long k = 0; k < kc; k++) {
    __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) {
      __m512 ai = _mm512_set1_ps(a[i]);
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
    }
    a += MR;
    b += NR;
  }
  __mmask16 m0 = nr >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nr) - 1);
  __mmask16 m1 = nr >= 32 ? (__mmask16)0xFFFF : nr > 16 ? (__mmask16)((1u << (nr - 16)) - 1) : (__mmask16)0;
  __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  if (first && beta == 0.0f) {
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++)
      if (i < mr) {
        _mm512_mask_storeu_ps(c + i * ldc, m0, _mm512_mul_ps(va, acc[i][0]));
        _mm512_mask_storeu_ps(c + i * ldc + 16, m1, _mm512_mul_ps(va, acc[i][1]));
      }
  } else if (first) {
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++)
      if (i < mr) {
        __m512 c0 = _mm512_maskz_loadu_ps(m0, c + i * ldc), c1 = _mm512_maskz_loadu_ps(m1, c + i * ldc + 16);
        _mm512_mask_storeu_ps(c + i * ldc, m0, _mm512_fmadd_ps(va, acc[i][0], _mm512_mul_ps(vb, c0)));
        _mm512_mask_storeu_ps(c + i * ldc + 16, m1, _mm512_fmadd_ps(va, acc[i][1], _mm512_mul_ps(vb, c1)));
      }
  } else {
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++)
      if (i < mr) {
        __m512 c0 = _mm512_maskz_loadu_ps(m0, c + i * ldc), c1 = _mm512_maskz_loadu_ps(m1, c + i * ldc + 16);
        _mm512_mask_storeu_ps(c + i * ldc, m0, _mm512_fmadd_ps(va, acc[i][0], c0));
        _mm512_mask_storeu_ps(c + i * ldc + 16, m1, _mm512_fmadd_ps(va, acc[i][1], c1));
      }
  }
}
#elif defined(__AVX2__) && defined(__FMA__)
static void kernel(long kc, const float *restrict a, const float *restrict b, float *c, long ldc, int mr,
                   int nr, float alpha, float beta, int first) {
  __m256 acc[MR][2];
#pragma GCC unroll 6
  for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
#pragma GCC unroll 4
  for (long k = 0; k < kc; k++) {
    __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
      __m256 ai = _mm256_broadcast_ss(a + i);
      acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
    }
    a += MR;
    b += NR;
  }
  __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  float tmp[MR][NR] __attribute__((aligned(32)));
  const int full = nr == NR;
#pragma GCC unroll 6
  for (int i = 0; i < MR; i++)
    if (i < mr) {
      float *ci = full ? c + i * ldc : tmp[i];
      if (!full) {
        if (first && beta == 0.0f) memset(tmp[i], 0, sizeof tmp[i]);
        else for (int j = 0; j < nr; j++) tmp[i][j] = c[i * ldc + j];
      }
      __m256 r0, r1;
      if (first && beta == 0.0f) {
        r0 = _mm256_mul_ps(va, acc[i][0]);
        r1 = _mm256_mul_ps(va, acc[i][1]);
      } else if (first) {
        r0 = _mm256_fmadd_ps(va, acc[i][0], _mm256_mul_ps(vb, _mm256_loadu_ps(ci)));
        r1 = _mm256_fmadd_ps(va, acc[i][1], _mm256_mul_ps(vb, _mm256_loadu_ps(ci + 8)));
      } else {
        r0 = _mm256_fmadd_ps(va, acc[i][0], _mm256_loadu_ps(ci));
        r1 = _mm256_fmadd_ps(va, acc[i][1], _mm256_loadu_ps(ci + 8));
      }
      _mm256_storeu_ps(ci, r0);
      _mm256_storeu_ps(ci + 8, r1);
      if (!full)
        for (int j = 0; j < nr; j++) c[i * ldc + j] = tmp[i][j];
    }
}
#else
static void kernel(long kc, const float *restrict a, const float *restrict b, float *c, long ldc, int mr,
                   int nr, float alpha, float beta, int first) {
  float acc[MR][NR];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) acc[i][j] = 0.0f;
  for (long k = 0; k < kc; k++) {
    for (int i = 0; i < MR; i++)
      for (int j = 0; j < NR; j++) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    a += MR;
    b += NR;
  }
  for (int i = 0; i < mr; i++)
    for (int j = 0; j < nr; j++) {
      float *cij = c + i * ldc + j;
      if (first && beta == 0.0f) *cij = alpha * acc[i][j];
      else if (first) *cij = fmaf(alpha, acc[i][j], beta * *cij);
      else *cij = fmaf(alpha, acc[i][j], *cij);
    }
}
#endif

/* ---- drivers ---- */
void mtsa_sgemm_rect(int ta, int tb, long M, long N, long K, float alpha, const float *A, long lda,
                     const float *B, long ldb, float beta, float *C, long ldc, long m0, long m1, long n0,
                     long n1) {
  if (m0 < 0) m0 = 0;
  if (n0 < 0) n0 = 0;
  if (m1 > M) m1 = M;
  if (n1 > N) n1 = N;
  if (m1 <= m0 || n1 <= n0) return;
  if (K <= 0) {
    for (long i = m0; i < m1; i++) {
      float *ci = C + i * ldc;
      if (beta == 0.0f)
        for (long j = n0; j < n1; j++) ci[j] = 0.0f;
      else
        for (long j = n0; j < n1; j++) ci[j] = beta * ci[j];
    }
    return;
  }
  long nkb, kcb;
  k_blocking(K, &nkb, &kcb);
  long ncmax = (n1 - n0) < NC ? (n1 - n0) : NC;
  long ncpad = (ncmax + NR - 1) / NR * NR;
  float *Bp = grow(&tls_bbuf, &tls_bcap, (size_t)(kcb * ncpad));
  float *Ap = grow(&tls_abuf, &tls_acap, (size_t)(kcb * ((MC + MR - 1) / MR * MR)));
  if (!Bp || !Ap) {
    fprintf(stderr, "mtsa kernels: out of memory for the matrix product's packing buffers\n");
    abort();
  }
  for (long jc = n0; jc < n1; jc += NC) {
    long nc = n1 - jc < NC ? n1 - jc : NC;
    for (long pb = 0; pb < nkb; pb++) {
      long k0 = pb * kcb;
      long kc = K - k0 < kcb ? K - k0 : kcb;
      pack_b(tb, B, ldb, k0, kc, jc, nc, Bp);
      for (long ic = m0; ic < m1; ic += MC) {
        long mc = m1 - ic < MC ? m1 - ic : MC;
        pack_a(ta, A, lda, ic, mc, k0, kc, Ap);
        for (long ir = 0; ir < mc; ir += MR) {
          long mr = mc - ir < MR ? mc - ir : MR;
          for (long jr = 0; jr < nc; jr += NR) {
            long nr = nc - jr < NR ? nc - jr : NR;
            kernel(kc, Ap + (ir / MR) * MR * kc, Bp + (jr / NR) * kc * NR, C + (ic + ir) * ldc + jc + jr, ldc,
                   (int)mr, (int)nr, alpha, beta, pb == 0);
          }
        }
      }
    }
  }
}

void mtsa_sgemm(int ta, int tb, long M, long N, long K, float alpha, const float *A, long lda, const float *B,
                long ldb, float beta, float *C, long ldc) {
  mtsa_sgemm_rect(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, 0, M, 0, N);
}

static void split(long units, long unit, long total, int parts, int part, long *lo, long *hi) {
  long a = units * part / parts, b = units * (part + 1) / parts;
  *lo = a * unit < total ? a * unit : total;
  *hi = b * unit < total ? b * unit : total;
}

void mtsa_sgemm_partition(long M, long N, long K, int parts, int part, long *m0, long *m1, long *n0, long *n1) {
  (void)K;
  *m0 = 0; *m1 = M; *n0 = 0; *n1 = N;
  if (parts <= 1 || M <= 0 || N <= 0) {
    if (part != 0) *m1 = 0; /* everything in part 0, the others empty */
    return;
  }
  long mu = (M + MR - 1) / MR, nu = (N + NR - 1) / NR;
  /* prefer the larger dimension (in elements); if it has fewer micro-tiles than parts and the other has enough, switch */
  int split_m = M >= N;
  if (split_m && mu < parts && nu >= parts) split_m = 0;
  else if (!split_m && nu < parts && mu >= parts) split_m = 1;
  if (split_m) split(mu, MR, M, parts, part, m0, m1);
  else split(nu, NR, N, parts, part, n0, n1);
}
