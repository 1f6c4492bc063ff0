/*
 * The non-product loops of a training step (ops.h), vectorised by GCC and split over the thread
 * pool. Every split is fixed by the data's shape (rows or element chunks of a fixed size), each
 * task writes its own outputs, and reductions across tasks are summed in task order afterwards, so
 * results are the same bytes with one thread or many.
 */
#include "ops.h"
#include "gemm.h"
#include "mathx.h"
#include "pool.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* elements per task of an elementwise loop, and the row-task target size */
#define CHUNK 16384L
#define LANES 16

static long rows_per_task(long cols) {
  long r = CHUNK / (cols > 0 ? cols : 1);
  return r > 0 ? r : 1;
}

static long ceil_div(long a, long b) { return (a + b - 1) / b; }

/* the end of a task's span: its nominal end, or the data's end for the last task */
static inline long least(long a, long b) { return a < b ? a : b; }

/* A kernel cannot report an error to JavaScript from a helper thread; memory for scratch buffers
 * running out is not recoverable here, so it ends the process with a message (a run's stored
 * steps survive: see --resume). */
static void *checked(void *p, size_t bytes) {
  if (!p && bytes) {
    fprintf(stderr, "mtsa kernels: out of memory (%zu bytes of scratch)\n", bytes);
    abort();
  }
  return p;
}

/* rows per task of a reduction over rows: at least rows_per_task, and at most REDUCTION_TASKS tasks,
 * so the partial results stay small (fixed by the shape, so the sums' order is too) */
#define REDUCTION_TASKS 64L

/* a per-thread scratch buffer, grown on demand and kept */
static float *scratch(long n) {
  static __thread float *buffer = NULL;
  static __thread long capacity = 0;
  if (n > capacity) {
    free(buffer);
    long bytes = ((n * (long)sizeof(float)) + 63) / 64 * 64;
    buffer = checked(aligned_alloc(64, (size_t)bytes), (size_t)bytes);
    capacity = n;
  }
  return buffer;
}

/* Σ x[i]·y[i] with LANES fixed partial sums added in a fixed order (vectorised, reproducible) */
static inline float dot_lanes(const float *x, const float *y, long n) {
  float lane[LANES] = {0};
  long i = 0;
  for (; i + LANES <= n; i += LANES)
    for (int l = 0; l < LANES; l++) lane[l] += x[i + l] * y[i + l];
  float s = 0;
  for (; i < n; i++) s += x[i] * y[i];
  for (int l = 0; l < LANES; l++) s += lane[l];
  return s;
}

/* ---------------------------------------------------------------- products */

typedef struct {
  int ta, tb, parts;
  long M, N, K, lda, ldb, ldc;
  float alpha, beta;
  const float *A, *B;
  float *C;
} gemm_job;

static void gemm_task(void *ctx, long task) {
  gemm_job *j = ctx;
  long m0, m1, n0, n1;
  mtsa_sgemm_partition(j->M, j->N, j->K, j->parts, (int)task, &m0, &m1, &n0, &n1);
  if (m1 > m0 && n1 > n0) mtsa_sgemm_rect(j->ta, j->tb, j->M, j->N, j->K, j->alpha, j->A, j->lda, j->B, j->ldb, j->beta, j->C, j->ldc, m0, m1, n0, n1);
}

/* below this many multiply-adds a product runs on the calling thread (waking a helper costs more) */
#define PARALLEL_PRODUCT (1L << 19)

void mtsa_sgemm_threaded(int ta, int tb, long M, long N, long K, float alpha, const float *A, long lda, const float *B, long ldb, float beta, float *C, long ldc) {
  int threads = mtsa_get_threads();
  if (threads <= 1 || M * N * K < PARALLEL_PRODUCT) {
    mtsa_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  /* more parts than threads, so a thread that was descheduled holds up only a small share */
  gemm_job j = {ta, tb, threads, M, N, K, lda, ldb, ldc, alpha, beta, A, B, C};
  mtsa_parallel(j.parts, gemm_task, &j);
}

/* ---------------------------------------------------------------- softmax family */

static inline void softmax_row(const float *in, float *out, long n, float *lse) {
  float max = in[0];
  for (long c = 1; c < n; c++) max = in[c] > max ? in[c] : max;
  float lane[LANES] = {0};
  long c = 0;
  for (; c + LANES <= n; c += LANES)
    for (int l = 0; l < LANES; l++) {
      float e = exp_approx(in[c + l] - max);
      out[c + l] = e;
      lane[l] += e;
    }
  float sum = 0;
  for (; c < n; c++) {
    float e = exp_approx(in[c] - max);
    out[c] = e;
    sum += e;
  }
  for (int l = 0; l < LANES; l++) sum += lane[l];
  float inv = 1.0f / sum;
  for (long k = 0; k < n; k++) out[k] *= inv;
  if (lse) *lse = max + logf(sum);
}

typedef struct { float *x; long rows, cols; float *lse; long per; } rows_job;

static void softmax_task(void *ctx, long task) {
  rows_job *j = ctx;
  long r1 = least((task + 1) * j->per, j->rows);
  for (long r = task * j->per; r < r1; r++) softmax_row(j->x + r * j->cols, j->x + r * j->cols, j->cols, j->lse ? j->lse + r : NULL);
}

void mtsa_softmax_rows(float *x, long rows, long cols, float *lse) {
  rows_job j = {x, rows, cols, lse, rows_per_task(cols)};
  mtsa_parallel(ceil_div(rows, j.per), softmax_task, &j);
}

/* one T×T block: row t keeps columns start..t, normalised; everything else becomes 0 */
static void causal_block(float *x, long T, long start) {
  for (long t = 0; t < T; t++) {
    float *row = x + t * T;
    if (t < start) {
      memset(row, 0, (size_t)T * sizeof(float));
      continue;
    }
    softmax_row(row + start, row + start, t + 1 - start, NULL);
    if (start > 0) memset(row, 0, (size_t)start * sizeof(float));
    if (t + 1 < T) memset(row + t + 1, 0, (size_t)(T - t - 1) * sizeof(float));
  }
}

typedef struct { float *x; long T, start; } causal_job;

static void causal_task(void *ctx, long task) {
  causal_job *j = ctx;
  causal_block(j->x + task * j->T * j->T, j->T, j->start);
}

void mtsa_causal_softmax(float *x, long blocks, long T, long start) {
  causal_job j = {x, T, start};
  mtsa_parallel(blocks, causal_task, &j);
}

/* ---------------------------------------------------------------- token log-probs */

typedef struct {
  const float *logits, *g;
  float *probs, *out, *gx;
  const int32_t *targets;
  long rows, vocab, per;
  int overwrite;
} logprob_job;

static void logprob_task(void *ctx, long task) {
  logprob_job *j = ctx;
  long r1 = least((task + 1) * j->per, j->rows);
  for (long r = task * j->per; r < r1; r++) {
    float lse;
    softmax_row(j->logits + r * j->vocab, j->probs + r * j->vocab, j->vocab, &lse);
    int32_t t = j->targets[r];
    j->out[r] = t >= 0 ? j->logits[r * j->vocab + t] - lse : 0.0f;
  }
}

void mtsa_token_log_probs(const float *logits, float *probs, const int32_t *targets, float *out, long rows, long vocab) {
  logprob_job j = {.logits = logits, .probs = probs, .out = out, .targets = targets, .rows = rows, .vocab = vocab, .per = rows_per_task(vocab)};
  mtsa_parallel(ceil_div(rows, j.per), logprob_task, &j);
}

static void logprob_backward_task(void *ctx, long task) {
  logprob_job *j = ctx;
  long r1 = least((task + 1) * j->per, j->rows);
  for (long r = task * j->per; r < r1; r++) {
    const float *p = j->probs + r * j->vocab;
    float *gx = j->gx + r * j->vocab;
    int32_t t = j->targets[r];
    float gr = j->g[r];
    if (t < 0 || gr == 0.0f) {
      if (j->overwrite) memset(gx, 0, (size_t)j->vocab * sizeof(float));
      continue;
    }
    if (j->overwrite)
      for (long c = 0; c < j->vocab; c++) gx[c] = -(gr * p[c]);
    else
      for (long c = 0; c < j->vocab; c++) gx[c] -= gr * p[c];
    gx[t] += gr;
  }
}

void mtsa_token_log_probs_backward(const float *g, const float *probs, const int32_t *targets, float *gx, long rows, long vocab, int overwrite) {
  logprob_job j = {.g = g, .probs = (float *)probs, .gx = gx, .targets = targets, .rows = rows, .vocab = vocab, .per = rows_per_task(vocab), .overwrite = overwrite};
  mtsa_parallel(ceil_div(rows, j.per), logprob_backward_task, &j);
}

/* ---------------------------------------------------------------- SwiGLU */

typedef struct { const float *g, *u, *grad, *sg; float *o, *sgw, *dg, *du; long n; } swiglu_job;

static void swiglu_forward_task(void *ctx, long task) {
  swiglu_job *j = ctx;
  long i1 = least((task + 1) * CHUNK, j->n);
  for (long i = task * CHUNK; i < i1; i++) {
    float s = 1.0f / (1.0f + exp_approx(-j->g[i]));
    j->sgw[i] = s;
    j->o[i] = j->g[i] * s * j->u[i];
  }
}

void mtsa_swiglu_forward(const float *g, const float *u, float *o, float *sg, long n) {
  swiglu_job j = {.g = g, .u = u, .o = o, .sgw = sg, .n = n};
  mtsa_parallel(ceil_div(n, CHUNK), swiglu_forward_task, &j);
}

static void swiglu_backward_task(void *ctx, long task) {
  swiglu_job *j = ctx;
  long i0 = task * CHUNK, i1 = least((task + 1) * CHUNK, j->n);
  const float *g = j->grad, *gate = j->g, *up = j->u, *sg = j->sg;
  if (j->du) for (long i = i0; i < i1; i++) j->du[i] += g[i] * gate[i] * sg[i];
  if (j->dg) for (long i = i0; i < i1; i++) { float s = sg[i]; j->dg[i] += g[i] * up[i] * s * (1.0f + gate[i] * (1.0f - s)); }
}

void mtsa_swiglu_backward(const float *grad, const float *gate, const float *up, const float *sg, float *dg, float *du, long n) {
  swiglu_job j = {.g = gate, .u = up, .grad = grad, .sg = sg, .dg = dg, .du = du, .n = n};
  mtsa_parallel(ceil_div(n, CHUNK), swiglu_backward_task, &j);
}

/* ---------------------------------------------------------------- RMSNorm */

typedef struct { const float *x, *w, *g, *inv; float *y, *invw, *gx, *gw_parts; long rows, cols, per; float eps; } norm_job;

static void norm_forward_task(void *ctx, long task) {
  norm_job *j = ctx;
  long C = j->cols, r1 = least((task + 1) * j->per, j->rows);
  for (long r = task * j->per; r < r1; r++) {
    const float *x = j->x + r * C;
    float *y = j->y + r * C;
    float ss = dot_lanes(x, x, C);
    float s = (float)(1.0 / sqrt((double)ss / (double)C + (double)j->eps));
    j->invw[r] = s;
    for (long c = 0; c < C; c++) y[c] = x[c] * s * j->w[c];
  }
}

void mtsa_rms_norm_forward(const float *x, const float *w, float *y, float *inv, long rows, long cols, float eps) {
  norm_job j = {.x = x, .w = w, .y = y, .invw = inv, .rows = rows, .cols = cols, .per = rows_per_task(cols), .eps = eps};
  mtsa_parallel(ceil_div(rows, j.per), norm_forward_task, &j);
}

static void norm_backward_task(void *ctx, long task) {
  norm_job *j = ctx;
  long C = j->cols, r1 = least((task + 1) * j->per, j->rows);
  float *gw = j->gw_parts ? j->gw_parts + task * C : NULL;
  if (gw) memset(gw, 0, (size_t)C * sizeof(float));
  for (long r = task * j->per; r < r1; r++) {
    const float *x = j->x + r * C, *g = j->g + r * C;
    float s = j->inv[r];
    if (gw) for (long c = 0; c < C; c++) gw[c] += g[c] * x[c] * s;
    if (j->gx) {
      /* dx = s·(w∘g) − s³/C · x · Σ(w∘g∘x) */
      float lane[LANES] = {0};
      long c = 0;
      for (; c + LANES <= C; c += LANES)
        for (int l = 0; l < LANES; l++) lane[l] += j->w[c + l] * g[c + l] * x[c + l];
      float dot = 0;
      for (; c < C; c++) dot += j->w[c] * g[c] * x[c];
      for (int l = 0; l < LANES; l++) dot += lane[l];
      float k = s * s * s * dot / (float)C;
      float *gx = j->gx + r * C;
      for (long i = 0; i < C; i++) gx[i] += s * j->w[i] * g[i] - k * x[i];
    }
  }
}

void mtsa_rms_norm_backward(const float *g, const float *x, const float *w, const float *inv, float *gx, float *gw, long rows, long cols) {
  long per = rows_per_task(cols);
  if (ceil_div(rows, per) > REDUCTION_TASKS) per = ceil_div(rows, REDUCTION_TASKS);
  long tasks = ceil_div(rows, per);
  size_t bytes = (size_t)(tasks * cols) * sizeof(float);
  float *parts = gw ? checked(malloc(bytes), bytes) : NULL;
  norm_job j = {.x = x, .w = w, .g = g, .inv = inv, .gx = gx, .gw_parts = parts, .rows = rows, .cols = cols, .per = per};
  mtsa_parallel(tasks, norm_backward_task, &j);
  if (parts) {
    for (long t = 0; t < tasks; t++)
      for (long c = 0; c < cols; c++) gw[c] += parts[t * cols + c];
    free(parts);
  }
}

/* ---------------------------------------------------------------- rotary positions */

typedef struct { const float *in; float *out; long rows, heads, D, per; const int32_t *pos; const float *cos, *sin; float sign; } rope_job;

static void rope_task(void *ctx, long task) {
  rope_job *j = ctx;
  long half = j->D / 2, width = j->heads * j->D;
  long r1 = least((task + 1) * j->per, j->rows);
  for (long r = task * j->per; r < r1; r++) {
    long t = (j->pos[r] > 0 ? j->pos[r] : 0) * half;
    const float *cs = j->cos + t, *sn = j->sin + t;
    for (long h = 0; h < j->heads; h++) {
      const float *a = j->in + r * width + h * j->D, *b = a + half;
      float *oa = j->out + r * width + h * j->D, *ob = oa + half;
      for (long i = 0; i < half; i++) {
        float c = cs[i], s = j->sign * sn[i], ai = a[i], bi = b[i];
        oa[i] = ai * c - bi * s;
        ob[i] = bi * c + ai * s;
      }
    }
  }
}

void mtsa_rope(const float *in, float *out, long rows, long heads, long head_dim, const int32_t *positions, const float *cos_table, const float *sin_table, int inverse) {
  rope_job j = {in, out, rows, heads, head_dim, rows_per_task(heads * head_dim), positions, cos_table, sin_table, inverse ? -1.0f : 1.0f};
  mtsa_parallel(ceil_div(rows, j.per), rope_task, &j);
}

/* ---------------------------------------------------------------- causal attention */

typedef struct {
  const float *q, *k, *v, *g;
  float *probs, *out, *dq, *dk, *dv;
  const float *probs_in;
  long B, T, H, KV, D;
  const int32_t *key_start;
  float scale;
} attention_job;

/* Causal attention skips the products' upper triangle: queries go in blocks of CAUSAL_BLOCK rows,
 * and a block reads only the keys up to its last row (and, for dK and dV, a block of keys only the
 * queries from its first row on). Entries left out are exact zeros in the full products, so each
 * result is the full product's value with its zero terms dropped. */
#define CAUSAL_BLOCK 32

static void attention_forward_task(void *ctx, long task) {
  attention_job *j = ctx;
  long b = task / j->H, h = task % j->H, T = j->T, D = j->D;
  long ldq = j->H * D, ldk = j->KV * D, kvh = h / (j->H / j->KV);
  long start = j->key_start ? j->key_start[b] : 0;
  float *P = j->probs + task * T * T;
  const float *q = j->q + b * T * ldq + h * D, *k = j->k + b * T * ldk + kvh * D, *v = j->v + b * T * ldk + kvh * D;
  float *out = j->out + b * T * ldq + h * D;
  for (long r0 = 0; r0 < T; r0 += CAUSAL_BLOCK) {
    long r1 = least(r0 + CAUSAL_BLOCK, T);
    mtsa_sgemm(0, 1, r1 - r0, r1, D, j->scale, q + r0 * ldq, ldq, k, ldk, 0.0f, P + r0 * T, T);
  }
  causal_block(P, T, start); /* writes every entry, the skipped ones as 0 */
  for (long r0 = 0; r0 < T; r0 += CAUSAL_BLOCK) {
    long r1 = least(r0 + CAUSAL_BLOCK, T);
    mtsa_sgemm(0, 0, r1 - r0, D, r1, 1.0f, P + r0 * T, T, v, ldk, 0.0f, out + r0 * ldq, ldq);
  }
}

void mtsa_attention_forward(const float *q, const float *k, const float *v, float *probs, float *out, long B, long T, long H, long KV, long D, const int32_t *key_start, float scale) {
  attention_job j = {.q = q, .k = k, .v = v, .probs = probs, .out = out, .B = B, .T = T, .H = H, .KV = KV, .D = D, .key_start = key_start, .scale = scale};
  mtsa_parallel(B * H, attention_forward_task, &j);
}

/* one task per (sequence, key/value head): the heads that share a key/value head accumulate into
 * its dK and dV in head order, on one thread */
static void attention_backward_task(void *ctx, long task) {
  attention_job *j = ctx;
  long group = j->H / j->KV, b = task / j->KV, kvh = task % j->KV, T = j->T, D = j->D;
  long ldq = j->H * D, ldk = j->KV * D;
  long start = j->key_start ? j->key_start[b] : 0;
  float *dp = scratch(T * T);
  long kOff = b * T * ldk + kvh * D;
  const float *k = j->k + kOff, *v = j->v + kOff;
  for (long h = kvh * group; h < (kvh + 1) * group; h++) {
    long qOff = b * T * ldq + h * D;
    const float *P = j->probs_in + (b * j->H + h) * T * T, *g = j->g + qOff, *q = j->q + qOff;
    /* dV = Pᵀ·dO: keys j0..j1 get contributions from queries j0.. only */
    if (j->dv)
      for (long j0 = 0; j0 < T; j0 += CAUSAL_BLOCK) {
        long j1 = least(j0 + CAUSAL_BLOCK, T);
        mtsa_sgemm(1, 0, j1 - j0, D, T - j0, 1.0f, P + j0 * T + j0, T, g + j0 * ldq, ldq, 1.0f, j->dv + kOff + j0 * ldk, ldk);
      }
    if (!j->dq && !j->dk) continue;
    /* dP = dO·Vᵀ on and below the diagonal blocks */
    for (long r0 = 0; r0 < T; r0 += CAUSAL_BLOCK) {
      long r1 = least(r0 + CAUSAL_BLOCK, T);
      mtsa_sgemm(0, 1, r1 - r0, r1, D, 1.0f, g + r0 * ldq, ldq, v, ldk, 0.0f, dp + r0 * T, T);
    }
    /* dS = P∘(dP − rowsum(dP∘P)) over dp; masked entries have P = 0 and become 0 */
    for (long t = 0; t < T; t++) {
      float *row = dp + t * T;
      const float *p = P + t * T;
      if (t < start) {
        memset(row, 0, (size_t)T * sizeof(float));
        continue;
      }
      float dot = dot_lanes(row + start, p + start, t + 1 - start);
      for (long c = start; c <= t; c++) row[c] = p[c] * (row[c] - dot);
      if (start > 0) memset(row, 0, (size_t)start * sizeof(float));
      if (t + 1 < T) memset(row + t + 1, 0, (size_t)(T - t - 1) * sizeof(float));
    }
    /* dQ = dS·K·scale (keys up to the block's last row), dK = dSᵀ·Q·scale (queries from the block's first row) */
    if (j->dq)
      for (long r0 = 0; r0 < T; r0 += CAUSAL_BLOCK) {
        long r1 = least(r0 + CAUSAL_BLOCK, T);
        mtsa_sgemm(0, 0, r1 - r0, D, r1, j->scale, dp + r0 * T, T, k, ldk, 1.0f, j->dq + qOff + r0 * ldq, ldq);
      }
    if (j->dk)
      for (long j0 = 0; j0 < T; j0 += CAUSAL_BLOCK) {
        long j1 = least(j0 + CAUSAL_BLOCK, T);
        mtsa_sgemm(1, 0, j1 - j0, D, T - j0, j->scale, dp + j0 * T + j0, T, q + j0 * ldq, ldq, 1.0f, j->dk + kOff + j0 * ldk, ldk);
      }
  }
}

void mtsa_attention_backward(const float *g, const float *q, const float *k, const float *v, const float *probs, float *dq, float *dk, float *dv, long B, long T, long H, long KV, long D, const int32_t *key_start, float scale) {
  attention_job j = {.q = q, .k = k, .v = v, .g = g, .probs_in = probs, .dq = dq, .dk = dk, .dv = dv, .B = B, .T = T, .H = H, .KV = KV, .D = D, .key_start = key_start, .scale = scale};
  mtsa_parallel(B * KV, attention_backward_task, &j);
}

/* ---------------------------------------------------------------- elementwise and optimiser */

typedef struct { const float *a, *b; float *out; long n; } add_job;

static void add_task(void *ctx, long task) {
  add_job *j = ctx;
  long i1 = least((task + 1) * CHUNK, j->n);
  for (long i = task * CHUNK; i < i1; i++) j->out[i] = j->a[i] + j->b[i];
}

void mtsa_add(const float *a, const float *b, float *out, long n) {
  add_job j = {a, b, out, n};
  mtsa_parallel(ceil_div(n, CHUNK), add_task, &j);
}

void mtsa_scatter_add_rows(const float *source, const int32_t *indices, float *target, long rows, long cols) {
  for (long r = 0; r < rows; r++) {
    float *t = target + (long)indices[r] * cols;
    const float *s = source + r * cols;
    for (long c = 0; c < cols; c++) t[c] += s[c];
  }
}

typedef struct { const float *x; double *parts; long n; } squares_job;

static void squares_task(void *ctx, long task) {
  squares_job *j = ctx;
  long i0 = task * CHUNK, i1 = least((task + 1) * CHUNK, j->n);
  double lane[8] = {0};
  long i = i0;
  for (; i + 8 <= i1; i += 8)
    for (int l = 0; l < 8; l++) lane[l] += (double)j->x[i + l] * (double)j->x[i + l];
  double s = 0;
  for (; i < i1; i++) s += (double)j->x[i] * (double)j->x[i];
  for (int l = 0; l < 8; l++) s += lane[l];
  j->parts[task] = s;
}

double mtsa_sum_squares(const float *x, long n) {
  long tasks = ceil_div(n, CHUNK);
  if (tasks == 0) return 0;
  double *parts = checked(malloc((size_t)tasks * sizeof(double)), (size_t)tasks * sizeof(double));
  squares_job j = {x, parts, n};
  mtsa_parallel(tasks, squares_task, &j);
  double s = 0;
  for (long t = 0; t < tasks; t++) s += parts[t];
  free(parts);
  return s;
}

typedef struct { float *w, *g, *m, *v; long n; double clip, beta1, beta2, step_size, correction2, eps, decay; } adamw_job;

/* the same double-precision arithmetic as the TypeScript optimiser, so both give the same bytes
 * (no fused multiply-adds: JavaScript rounds every product) */
__attribute__((optimize("fp-contract=off"))) static void adamw_task(void *ctx, long task) {
  adamw_job *j = ctx;
  long i1 = least((task + 1) * CHUNK, j->n);
  for (long i = task * CHUNK; i < i1; i++) {
    double gi = (double)j->g[i] * j->clip;
    double mi = j->beta1 * (double)j->m[i] + (1 - j->beta1) * gi;
    double vi = j->beta2 * (double)j->v[i] + (1 - j->beta2) * gi * gi;
    j->m[i] = (float)mi;
    j->v[i] = (float)vi;
    j->w[i] = (float)((double)j->w[i] * j->decay - (j->step_size * mi) / (sqrt(vi / j->correction2) + j->eps));
    j->g[i] = 0;
  }
}

void mtsa_adamw(float *w, float *g, float *m, float *v, long n, double clip, double beta1, double beta2, double step_size, double correction2, double eps, double decay) {
  adamw_job j = {w, g, m, v, n, clip, beta1, beta2, step_size, correction2, eps, decay};
  mtsa_parallel(ceil_div(n, CHUNK), adamw_task, &j);
}
