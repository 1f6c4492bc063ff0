/*
 * Checks of native/gemm.c, built and run by test/native/gemm-check.test.ts: every transpose
 * combination against a double-precision reference (odd sizes, strides, offsets, alpha/beta, NaN in C
 * with beta 0, K = 0, K split into blocks), partitions for 1–4 parts and concurrent threads equal to
 * one call bit for bit, and a hash of every result, which must be the same for the AVX-512, AVX2 and
 * scalar builds. `--no-bench` skips the timing table of the training step's shapes.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "gemm.h"
#include <pthread.h>

struct job { int ta, tb; long M, N, K; float alpha; const float *A; long lda; const float *B; long ldb; float beta; float *C; long ldc; int parts, part; };
static void *thr(void *p) {
  struct job *j = p;
  long m0, m1, n0, n1;
  mtsa_sgemm_partition(j->M, j->N, j->K, j->parts, j->part, &m0, &m1, &n0, &n1);
  mtsa_sgemm_rect(j->ta, j->tb, j->M, j->N, j->K, j->alpha, j->A, j->lda, j->B, j->ldb, j->beta, j->C, j->ldc, m0, m1, n0, n1);
  return NULL;
}
/* run `parts` threads concurrently */
static void par_gemm(int parts, int ta, int tb, long M, long N, long K, float alpha, const float *A, long lda, const float *B, long ldb, float beta, float *C, long ldc) {
  pthread_t t[8]; struct job j[8];
  for (int p = 0; p < parts; p++) {
    j[p] = (struct job){ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, parts, p};
    pthread_create(&t[p], NULL, thr, &j[p]);
  }
  for (int p = 0; p < parts; p++) pthread_join(t[p], NULL);
}

static uint64_t rng = 88172645463325252ull;
static float frand(void) { /* deterministic, ISA independent */
  rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
  return (float)((int32_t)(rng >> 40) - (1 << 23)) / (float)(1 << 23);
}
static uint64_t hash = 1469598103934665603ull;
static void hash_buf(const float *p, size_t n) {
  const unsigned char *b = (const unsigned char *)p;
  for (size_t i = 0; i < n * 4; i++) { hash ^= b[i]; hash *= 1099511628211ull; }
}
static int fails = 0, checks = 0;
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }

/* One full test: random A,B,C inside larger buffers with offsets and padded leading dims. */
static void run_test(int ta, int tb, long M, long N, long K, float alpha, float beta, int pad, int nanfill, int doparts) {
  long ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
  long lda = ac + (pad ? 5 : 0), ldb = bc + (pad ? 3 : 0), ldc = N + (pad ? 7 : 0);
  if (lda < 1) lda = 1;
  if (ldb < 1) ldb = 1;
  if (ldc < 1) ldc = 1;
  long offa = pad ? 11 : 0, offb = pad ? 13 : 0, offc = pad ? 17 : 0, guard = 64;
  size_t na = offa + ar * lda + guard, nb = offb + br * ldb + guard, nc = offc + M * ldc + guard;
  float *A = malloc(na * 4), *B = malloc(nb * 4), *C0 = malloc(nc * 4), *C = malloc(nc * 4), *C2 = malloc(nc * 4);
  for (size_t i = 0; i < na; i++) A[i] = frand();
  for (size_t i = 0; i < nb; i++) B[i] = frand();
  for (size_t i = 0; i < nc; i++) C0[i] = frand();
  if (nanfill)
    for (long i = 0; i < M; i++) for (long j = 0; j < N; j++) C0[offc + i * ldc + j] = NAN;
  memcpy(C, C0, nc * 4);
  mtsa_sgemm(ta, tb, M, N, K, alpha, A + offa, lda, B + offb, ldb, beta, C + offc, ldc);
  checks++;
  /* reference */
  double tol = 1e-5 * sqrt((double)K + 1.0) + 1e-6;
  int bad = 0;
  for (long i = 0; i < M && bad < 3; i++)
    for (long j = 0; j < N; j++) {
      double s = 0, sa = 0;
      for (long k = 0; k < K; k++) {
        double a = ta ? A[offa + k * lda + i] : A[offa + i * lda + k];
        double b = tb ? B[offb + j * ldb + k] : B[offb + k * ldb + j];
        s += a * b; sa += fabs(a * b);
      }
      double c0 = C0[offc + i * ldc + j];
      double ref = alpha * s + (beta == 0.0f ? 0.0 : beta * c0);
      double mag = fabs(alpha) * sa + (beta == 0.0f ? 0.0 : fabs(beta * c0));
      double got = C[offc + i * ldc + j];
      if (!(fabs(got - ref) <= tol * mag + 1e-30) ) {
        if (bad < 3) fprintf(stderr, "FAIL ta=%d tb=%d M=%ld N=%ld K=%ld a=%g b=%g pad=%d nan=%d at (%ld,%ld): got %.9g ref %.9g\n",
                             ta, tb, M, N, K, alpha, beta, pad, nanfill, i, j, got, ref);
        bad++;
      }
    }
  /* entries outside C untouched */
  for (size_t x = 0; x < nc; x++) {
    long r = ((long)x - offc) / ldc, cc = ((long)x - offc) % ldc;
    int inside = (long)x >= offc && r < M && cc < N && cc >= 0;
    if (!inside && memcmp(&C[x], &C0[x], 4) != 0) { if (!bad) fprintf(stderr, "FAIL: wrote outside C (x=%zu) M=%ld N=%ld K=%ld\n", x, M, N, K); bad++; break; }
  }
  if (bad) fails++;
  hash_buf(C + offc, (size_t)(M > 0 ? (M - 1) * ldc + N : 0));
  if (doparts) {
    /* partition identity, parts 1..4, run sequentially, plus an arbitrary (unaligned) 3x2 grid */
    for (int parts = 1; parts <= 5; parts++) {
      memcpy(C2, C0, nc * 4);
      if (parts == 5) {
        long ms[4] = {0, M / 3 + (M > 2), M - M / 5, M}, ns[3] = {0, N / 2 + (N > 1), N};
        for (int a = 0; a < 3; a++) for (int b = 0; b < 2; b++)
          mtsa_sgemm_rect(ta, tb, M, N, K, alpha, A + offa, lda, B + offb, ldb, beta, C2 + offc, ldc,
                          ms[a] < ms[a + 1] ? ms[a] : ms[a + 1], ms[a + 1], ns[b], ns[b + 1]);
        /* ms may not be monotone for tiny M: recompute any missing with full call would hide bugs; guard: */
        if (!(ms[1] <= ms[2] && ns[1] <= ns[2])) continue;
      } else {
        long cover = 0;
        for (int p = 0; p < parts; p++) {
          long m0, m1, n0, n1;
          mtsa_sgemm_partition(M, N, K, parts, p, &m0, &m1, &n0, &n1);
          if (m1 > m0 && n1 > n0) cover += (m1 - m0) * (n1 - n0);
          mtsa_sgemm_rect(ta, tb, M, N, K, alpha, A + offa, lda, B + offb, ldb, beta, C2 + offc, ldc, m0, m1, n0, n1);
        }
        if (cover != M * N) { fprintf(stderr, "FAIL partition cover %ld != %ld (M=%ld N=%ld parts=%d)\n", cover, M * N, M, N, parts); fails++; }
      }
      checks++;
      if (memcmp(C2, C, nc * 4) != 0) {
        fprintf(stderr, "FAIL rect/partition identity parts=%d ta=%d tb=%d M=%ld N=%ld K=%ld\n", parts, ta, tb, M, N, K);
        fails++;
      }
    }
  }
  free(A); free(B); free(C0); free(C); free(C2);
}

/* partition disjointness/coverage exhaustive check (cheap, no gemm) */
static void check_partitions(void) {
  long sizes[] = {1, 2, 3, 7, 12, 13, 31, 32, 33, 64, 100, 128, 129, 344, 2048};
  int ns = sizeof sizes / sizeof *sizes;
  for (int a = 0; a < ns; a++) for (int b = 0; b < ns; b++) for (int parts = 1; parts <= 8; parts++) {
    long M = sizes[a], N = sizes[b];
    unsigned char *cov = calloc(M * N, 1);
    for (int p = 0; p < parts; p++) {
      long m0, m1, n0, n1;
      mtsa_sgemm_partition(M, N, 64, parts, p, &m0, &m1, &n0, &n1);
      for (long i = m0; i < m1; i++) for (long j = n0; j < n1; j++) cov[i * N + j]++;
    }
    for (long x = 0; x < M * N; x++) if (cov[x] != 1) { fprintf(stderr, "FAIL partition M=%ld N=%ld parts=%d\n", M, N, parts); fails++; break; }
    checks++;
    free(cov);
  }
}

struct shape { const char *name; int ta, tb; long M, N, K; float alpha, beta; long lda, ldb, ldc; };

static void bench(int timing) {
  const float isq = 0.17677669529663687f;
  struct shape sh[] = {
    {"fwd  x.W^T", 0, 1, 2048, 128, 128, 1, 0, 0, 0, 0},
    {"fwd  x.W^T", 0, 1, 2048, 344, 128, 1, 0, 0, 0, 0},
    {"fwd  x.W^T", 0, 1, 2048, 128, 344, 1, 0, 0, 0, 0},
    {"fwd  x.W^T", 0, 1, 2048, 2048, 128, 1, 0, 0, 0, 0},
    {"bwd  dx", 0, 0, 2048, 128, 128, 1, 1, 0, 0, 0},
    {"bwd  dx", 0, 0, 2048, 128, 344, 1, 1, 0, 0, 0},
    {"bwd  dx", 0, 0, 2048, 344, 128, 1, 1, 0, 0, 0},
    {"bwd  dx", 0, 0, 2048, 128, 2048, 1, 1, 0, 0, 0},
    {"bwd  dW", 1, 0, 128, 128, 2048, 1, 1, 0, 0, 0},
    {"bwd  dW", 1, 0, 344, 128, 2048, 1, 1, 0, 0, 0},
    {"bwd  dW", 1, 0, 128, 344, 2048, 1, 1, 0, 0, 0},
    {"bwd  dW", 1, 0, 2048, 128, 2048, 1, 1, 0, 0, 0},
    {"attn q.k^T", 0, 1, 128, 128, 32, isq, 0, 128, 128, 128},
    {"attn p.v", 0, 0, 128, 32, 128, 1, 0, 128, 128, 128},
    {"attn p^T.dO", 1, 0, 128, 32, 128, 1, 1, 128, 128, 128},
    {"attn dO.v^T", 0, 1, 128, 128, 32, 1, 0, 128, 128, 128},
  };
  int nsh = sizeof sh / sizeof *sh;
  if (timing) printf("%-12s %2s %2s %5s %5s %5s %6s  %9s %9s %9s\n", "shape", "ta", "tb", "M", "N", "K", "beta", "GFLOP/s", "us/call", "2thr*");
  double tot_flop = 0, tot_t = 0;
  for (int s = 0; s < nsh; s++) {
    struct shape x = sh[s];
    long ar = x.ta ? x.K : x.M, ac = x.ta ? x.M : x.K, br = x.tb ? x.N : x.K, bc = x.tb ? x.K : x.N;
    long lda = x.lda ? x.lda : ac, ldb = x.ldb ? x.ldb : bc, ldc = x.ldc ? x.ldc : x.N;
    size_t na = ar * lda, nb = br * ldb, nc = x.M * ldc;
    float *A = aligned_alloc(64, (na * 4 + 63) / 64 * 64), *B = aligned_alloc(64, (nb * 4 + 63) / 64 * 64),
          *C = aligned_alloc(64, (nc * 4 + 63) / 64 * 64), *C0 = malloc(nc * 4);
    for (size_t i = 0; i < na; i++) A[i] = frand();
    for (size_t i = 0; i < nb; i++) B[i] = frand();
    for (size_t i = 0; i < nc; i++) C0[i] = frand();
    memcpy(C, C0, nc * 4);
    mtsa_sgemm(x.ta, x.tb, x.M, x.N, x.K, x.alpha, A, lda, B, ldb, x.beta, C, ldc);
    hash_buf(C, nc);
    /* 2 parts run sequentially must equal the single call bit for bit */
    float *C2 = malloc(nc * 4);
    memcpy(C2, C0, nc * 4);
    for (int p = 0; p < 2; p++) {
      long m0, m1, n0, n1;
      mtsa_sgemm_partition(x.M, x.N, x.K, 2, p, &m0, &m1, &n0, &n1);
      mtsa_sgemm_rect(x.ta, x.tb, x.M, x.N, x.K, x.alpha, A, lda, B, ldb, x.beta, C2, ldc, m0, m1, n0, n1);
    }
    checks++;
    if (memcmp(C, C2, nc * 4)) { fprintf(stderr, "FAIL 2-part identity on bench shape %d\n", s); fails++; }
    for (int parts = 2; parts <= 4; parts++) { /* real concurrent threads */
      memcpy(C2, C0, nc * 4);
      par_gemm(parts, x.ta, x.tb, x.M, x.N, x.K, x.alpha, A, lda, B, ldb, x.beta, C2, ldc);
      checks++;
      if (memcmp(C, C2, nc * 4)) { fprintf(stderr, "FAIL %d-thread identity on bench shape %d\n", parts, s); fails++; }
    }
    free(C2);
    if (timing) {
      double flop = 2.0 * x.M * x.N * x.K;
      int inner = (int)(2e8 / flop) + 1;
      double best = 1e30;
      for (int r = 0; r < 15; r++) {
        double t0 = now();
        for (int it = 0; it < inner; it++)
          mtsa_sgemm(x.ta, x.tb, x.M, x.N, x.K, x.alpha, A, lda, B, ldb, x.beta, C, ldc);
        double t = (now() - t0) / inner;
        if (t < best) best = t;
        if (x.beta != 0) memcpy(C, C0, nc * 4); /* keep values bounded */
      }
      double best2 = 1e30;
      for (int r = 0; r < 7; r++) {
        double t0 = now();
        for (int it = 0; it < inner; it++)
          par_gemm(2, x.ta, x.tb, x.M, x.N, x.K, x.alpha, A, lda, B, ldb, x.beta, C, ldc);
        double t = (now() - t0) / inner;
        if (t < best2) best2 = t;
        if (x.beta != 0) memcpy(C, C0, nc * 4);
      }
      tot_flop += flop; tot_t += best;
      printf("%-12s %2d %2d %5ld %5ld %5ld %6g  %9.1f %9.1f %9.1f\n", x.name, x.ta, x.tb, x.M, x.N, x.K, x.beta, flop / best * 1e-9, best * 1e6, flop / best2 * 1e-9);
    }
    free(A); free(B); free(C); free(C0);
  }
  if (timing) printf("whole step (sum of shapes, attention counted once): %.1f GFLOP/s\n", tot_flop / tot_t * 1e-9);
}

int main(int argc, char **argv) {
  int timing = !(argc > 1 && !strcmp(argv[1], "--no-bench"));
  int only_bench = argc > 1 && !strcmp(argv[1], "--bench-only");
  printf("isa: %s\n", mtsa_sgemm_isa());
  if (!only_bench) {
    long sz[] = {1, 2, 3, 7, 13, 31, 33, 64, 100, 129, 344};
    long ksz[] = {0, 1, 2, 3, 7, 13, 31, 33, 64, 100, 129, 344};
    int n = sizeof sz / sizeof *sz, nk = sizeof ksz / sizeof *ksz;
    float betas[3] = {0.0f, 1.0f, 0.5f};
    int cnt = 0;
    double t0 = now();
    for (int ta = 0; ta < 2; ta++) for (int tb = 0; tb < 2; tb++)
      for (int a = 0; a < n; a++) for (int b = 0; b < n; b++) for (int c = 0; c < nk; c++) {
        cnt++;
        long M = sz[a], N = sz[b], K = ksz[c];
        if (M * N * K > 400000 && (cnt % 5)) continue; /* thin out the biggest */
        float beta = betas[cnt % 3];
        float alpha = (cnt % 4 == 0) ? 1.0f : (cnt % 4 == 1 ? -0.75f : (cnt % 4 == 2 ? 0.17677669f : 2.5f));
        int pad = (cnt / 3) % 2, nanfill = beta == 0.0f && (cnt / 7) % 2;
        run_test(ta, tb, M, N, K, alpha, beta, pad, nanfill, (cnt % 3) == 0 || M * N * K < 20000);
      }
    /* multi-K-block and exact-multiple sizes */
    long big[][3] = {{12, 32, 256}, {24, 64, 257}, {37, 45, 512}, {50, 70, 700}, {129, 33, 1000}, {13, 100, 2048}, {128, 128, 2048}, {2048, 17, 40}, {5, 600, 64}, {300, 1100, 20}};
    for (int i = 0; i < 10; i++) for (int t = 0; t < 4; t++)
      run_test(t >> 1, t & 1, big[i][0], big[i][1], big[i][2], i % 2 ? 0.5f : 1.0f, betas[(i + t) % 3], (i + t) % 2, (i + t) % 3 == 0, 1);
    check_partitions();
    printf("correctness: %d checks, %d failures (%.1f s)\n", checks, fails, now() - t0);
  }
  bench(timing && !(argc > 1 && !strcmp(argv[1], "--no-bench")));
  printf("result hash: %016llx\n", (unsigned long long)hash);
  printf("%s\n", fails ? "SOME TESTS FAILED" : "ALL OK");
  return fails != 0;
}
