/*
 * mtsa_kernels: the native half of the engine's kernel interface (src/engine/kernels/kernels.ts).
 * N-API bindings from Float32Arrays to the kernels in C: our own matrix product (gemm.c, AVX-512
 * where the CPU has it; docs/decisions/0015-own-kernels.md says why not OpenBLAS), the non-product
 * loops of a training step (ops.c) and one decoding step of cached attention. Work is split over a
 * small thread pool (pool.c) in a way that never changes the bytes of a result.
 * Every binding checks its operands' bounds here, once; the C kernels trust them.
 */
#include <node_api.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "gemm.h"
#include "mathx.h"
#include "ops.h"
#include "pool.h"

#define CHECK(call) do { if ((call) != napi_ok) { napi_throw_error(env, NULL, "mtsa_kernels: N-API call failed: " #call); return NULL; } } while (0)
#define FAIL(message) do { napi_throw_range_error(env, NULL, message); return NULL; } while (0)
/* the first lines of every binding: up to `count` arguments in a[] (missing ones are undefined) */
#define ARGS(count) size_t argc = count; napi_value a[count]; CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL))

static float *f32_arg(napi_env env, napi_value v, size_t *length) {
  bool is_typed = false;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed) return NULL;
  napi_typedarray_type type; size_t len; void *data; napi_value buf; size_t off;
  if (napi_get_typedarray_info(env, v, &type, &len, &data, &buf, &off) != napi_ok) return NULL;
  if (type != napi_float32_array) return NULL;
  *length = len;
  static float empty[1];
  return len == 0 ? empty : (float *)data; /* an empty array may have no storage */
}

static int32_t *i32_arg(napi_env env, napi_value v, size_t *length) {
  bool is_typed = false;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed) return NULL;
  napi_typedarray_type type; size_t len; void *data; napi_value buf; size_t off;
  if (napi_get_typedarray_info(env, v, &type, &len, &data, &buf, &off) != napi_ok) return NULL;
  if (type != napi_int32_array) return NULL;
  *length = len;
  static int32_t empty[1];
  return len == 0 ? empty : (int32_t *)data;
}

static bool is_null(napi_env env, napi_value v) {
  napi_valuetype t; return napi_typeof(env, v, &t) == napi_ok && (t == napi_null || t == napi_undefined);
}

static int64_t int_arg(napi_env env, napi_value v) {
  int64_t out = 0; napi_get_value_int64(env, v, &out); return out;
}

static double num_arg(napi_env env, napi_value v) {
  double out = 0; napi_get_value_double(env, v, &out); return out;
}

/* A Float32Array argument with at least `need` entries (NULL when `optional` and null/undefined). */
#define F32(name, index, need, optional) \
  float *name = NULL; \
  if (!((optional) && is_null(env, a[index]))) { \
    size_t name##_n = 0; name = f32_arg(env, a[index], &name##_n); \
    if (!name || (int64_t)name##_n < (int64_t)(need)) FAIL(#name ": not a Float32Array of the needed length"); \
  }
#define I32(name, index, need, optional) \
  int32_t *name = NULL; \
  if (!((optional) && is_null(env, a[index]))) { \
    size_t name##_n = 0; name = i32_arg(env, a[index], &name##_n); \
    if (!name || (int64_t)name##_n < (int64_t)(need)) FAIL(#name ": not an Int32Array of the needed length"); \
  }

/* sgemm(transA, transB, M, N, K, alpha, A, aOffset, lda, B, bOffset, ldb, beta, C, cOffset, ldc)
 * Row-major C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C. */
static napi_value sgemm(napi_env env, napi_callback_info info) {
  ARGS(16);
  if (argc != 16) { napi_throw_type_error(env, NULL, "sgemm expects 16 arguments"); return NULL; }
  bool ta, tb; CHECK(napi_get_value_bool(env, a[0], &ta)); CHECK(napi_get_value_bool(env, a[1], &tb));
  int64_t M = int_arg(env, a[2]), N = int_arg(env, a[3]), K = int_arg(env, a[4]);
  float alpha = (float)num_arg(env, a[5]);
  size_t la = 0, lb = 0, lc = 0;
  float *A = f32_arg(env, a[6], &la); int64_t ao = int_arg(env, a[7]), lda = int_arg(env, a[8]);
  float *B = f32_arg(env, a[9], &lb); int64_t bo = int_arg(env, a[10]), ldb = int_arg(env, a[11]);
  float beta = (float)num_arg(env, a[12]);
  float *C = f32_arg(env, a[13], &lc); int64_t co = int_arg(env, a[14]), ldc = int_arg(env, a[15]);
  if (!A || !B || !C) { napi_throw_type_error(env, NULL, "sgemm: A, B and C must be Float32Arrays"); return NULL; }
  if (M <= 0 || N <= 0 || K < 0) return NULL;
  /* last element touched by each operand, row-major with leading dimensions */
  int64_t aRows = ta ? K : M, aCols = ta ? M : K, bRows = tb ? N : K, bCols = tb ? K : N;
  if (lda < aCols || ldb < bCols || ldc < N || ao < 0 || bo < 0 || co < 0 ||
      (K > 0 && (ao + (aRows - 1) * lda + aCols > (int64_t)la || bo + (bRows - 1) * ldb + bCols > (int64_t)lb)) ||
      co + (M - 1) * ldc + N > (int64_t)lc)
    FAIL("sgemm: operand out of bounds");
  mtsa_sgemm_threaded(ta, tb, M, N, K, alpha, A + ao, lda, B + bo, ldb, beta, C + co, ldc);
  return NULL;
}

static bool range_ok(size_t length, int64_t offset, int64_t count) {
  return offset >= 0 && count >= 0 && offset + count <= (int64_t)length;
}

/* softmaxRows(data, offset, rows, cols, lse | null): in-place row softmax; lse[r] = log Σ exp(x_r). */
static napi_value softmax_rows(napi_env env, napi_callback_info info) {
  ARGS(5);
  size_t n = 0, nl = 0;
  float *x = f32_arg(env, a[0], &n);
  int64_t off = int_arg(env, a[1]), rows = int_arg(env, a[2]), cols = int_arg(env, a[3]);
  float *lse = argc > 4 ? f32_arg(env, a[4], &nl) : NULL;
  if (!x || rows < 0 || cols <= 0 || !range_ok(n, off, rows * cols) || (lse && (int64_t)nl < rows)) FAIL("softmaxRows: out of bounds");
  mtsa_softmax_rows(x + off, rows, cols, lse);
  return NULL;
}

/* causalSoftmax(data, offset, blocks, T, start): `blocks` consecutive T×T score blocks; row t keeps
 * columns start..t, normalised; everything else becomes 0 (rows before start are all 0). */
static napi_value causal_softmax(napi_env env, napi_callback_info info) {
  ARGS(5);
  size_t n = 0;
  float *x = f32_arg(env, a[0], &n);
  int64_t off = int_arg(env, a[1]), blocks = int_arg(env, a[2]), T = int_arg(env, a[3]), start = int_arg(env, a[4]);
  if (!x || blocks < 0 || T <= 0 || !range_ok(n, off, blocks * T * T) || start < 0) FAIL("causalSoftmax: out of bounds");
  mtsa_causal_softmax(x + off, blocks, T, start);
  return NULL;
}

/* swigluForward(gate, up, out, sigmoid, n): out = gate·σ(gate)·up, sigmoid = σ(gate). */
static napi_value swiglu_forward(napi_env env, napi_callback_info info) {
  ARGS(5);
  int64_t n = int_arg(env, a[4]);
  if (n < 0) FAIL("swigluForward: negative size");
  F32(gate, 0, n, false) F32(up, 1, n, false) F32(out, 2, n, false) F32(sig, 3, n, false)
  mtsa_swiglu_forward(gate, up, out, sig, n);
  return NULL;
}

/* swigluBackward(grad, gate, up, sigmoid, dGate | null, dUp | null, n): accumulates
 * dUp += g·gate·σ and dGate += g·up·σ·(1 + gate·(1 − σ)). */
static napi_value swiglu_backward(napi_env env, napi_callback_info info) {
  ARGS(7);
  int64_t n = int_arg(env, a[6]);
  if (n < 0) FAIL("swigluBackward: negative size");
  F32(g, 0, n, false) F32(gate, 1, n, false) F32(up, 2, n, false) F32(sig, 3, n, false) F32(dg, 4, n, true) F32(du, 5, n, true)
  mtsa_swiglu_backward(g, gate, up, sig, dg, du, n);
  return NULL;
}

/* rmsNormForward(x, weight, out, inv, rows, cols, eps): out = x / rms(x) · weight, inv[r] = 1/rms(row r) */
static napi_value rms_norm_forward(napi_env env, napi_callback_info info) {
  ARGS(7);
  int64_t rows = int_arg(env, a[4]), cols = int_arg(env, a[5]);
  if (rows < 0 || cols <= 0) FAIL("rmsNormForward: bad shape");
  F32(x, 0, rows * cols, false) F32(w, 1, cols, false) F32(y, 2, rows * cols, false) F32(inv, 3, rows, false)
  mtsa_rms_norm_forward(x, w, y, inv, rows, cols, (float)num_arg(env, a[6]));
  return NULL;
}

/* rmsNormBackward(grad, x, weight, inv, dx | null, dWeight | null, rows, cols): accumulates both */
static napi_value rms_norm_backward(napi_env env, napi_callback_info info) {
  ARGS(8);
  int64_t rows = int_arg(env, a[6]), cols = int_arg(env, a[7]);
  if (rows < 0 || cols <= 0) FAIL("rmsNormBackward: bad shape");
  F32(g, 0, rows * cols, false) F32(x, 1, rows * cols, false) F32(w, 2, cols, false) F32(inv, 3, rows, false)
  F32(gx, 4, rows * cols, true) F32(gw, 5, cols, true)
  mtsa_rms_norm_backward(g, x, w, inv, gx, gw, rows, cols);
  return NULL;
}

/* rope(input, output, rows, heads, headDim, positions, cos, sin, inverse): rotates every head of each
 * row by its position (output may be input); cos/sin are (positions, headDim/2) tables that cover
 * every position used */
static napi_value rope(napi_env env, napi_callback_info info) {
  ARGS(9);
  int64_t rows = int_arg(env, a[2]), heads = int_arg(env, a[3]), D = int_arg(env, a[4]);
  if (rows < 0 || heads <= 0 || D <= 0 || D % 2) FAIL("rope: bad shape");
  F32(x, 0, rows * heads * D, false) F32(y, 1, rows * heads * D, false) I32(pos, 5, rows, false)
  size_t nc = 0, ns = 0;
  float *cs = f32_arg(env, a[6], &nc), *sn = f32_arg(env, a[7], &ns);
  if (!cs || !sn || nc != ns) FAIL("rope: cos and sin must be Float32Arrays of one length");
  for (int64_t r = 0; r < rows; r++) {
    int64_t p = pos[r] > 0 ? pos[r] : 0;
    if ((p + 1) * (D / 2) > (int64_t)nc) FAIL("rope: a position is beyond the cos/sin tables");
  }
  bool inverse; CHECK(napi_get_value_bool(env, a[8], &inverse));
  mtsa_rope(x, y, rows, heads, D, pos, cs, sn, inverse);
  return NULL;
}

/* tokenLogProbs(logits, probs, targets, out, rows, vocab): probs = softmax rows of logits,
 * out[r] = log p(targets[r]) (0 where the target is negative) */
static napi_value token_log_probs(napi_env env, napi_callback_info info) {
  ARGS(6);
  int64_t rows = int_arg(env, a[4]), vocab = int_arg(env, a[5]);
  if (rows < 0 || vocab <= 0) FAIL("tokenLogProbs: bad shape");
  F32(logits, 0, rows * vocab, false) F32(probs, 1, rows * vocab, false) I32(targets, 2, rows, false) F32(out, 3, rows, false)
  for (int64_t r = 0; r < rows; r++) if (targets[r] >= vocab) FAIL("tokenLogProbs: a target id is outside the vocabulary");
  mtsa_token_log_probs(logits, probs, targets, out, rows, vocab);
  return NULL;
}

/* tokenLogProbsBackward(grad, probs, targets, dLogits, rows, vocab, overwrite): dLogits (+)= g·(onehot − p);
 * dLogits may be probs itself when overwriting */
static napi_value token_log_probs_backward(napi_env env, napi_callback_info info) {
  ARGS(7);
  int64_t rows = int_arg(env, a[4]), vocab = int_arg(env, a[5]);
  if (rows < 0 || vocab <= 0) FAIL("tokenLogProbsBackward: bad shape");
  F32(g, 0, rows, false) F32(probs, 1, rows * vocab, false) I32(targets, 2, rows, false) F32(gx, 3, rows * vocab, false)
  for (int64_t r = 0; r < rows; r++) if (targets[r] >= vocab) FAIL("tokenLogProbsBackward: a target id is outside the vocabulary");
  bool overwrite; CHECK(napi_get_value_bool(env, a[6], &overwrite));
  mtsa_token_log_probs_backward(g, probs, targets, gx, rows, vocab, overwrite);
  return NULL;
}

/* attentionForward(q, k, v, probs, out, B, T, H, KV, D, keyStart | null, scale) */
static napi_value attention_forward(napi_env env, napi_callback_info info) {
  ARGS(12);
  int64_t B = int_arg(env, a[5]), T = int_arg(env, a[6]), H = int_arg(env, a[7]), KV = int_arg(env, a[8]), D = int_arg(env, a[9]);
  if (B < 0 || T <= 0 || KV <= 0 || H % KV || D <= 0) FAIL("attentionForward: bad shape");
  F32(q, 0, B * T * H * D, false) F32(k, 1, B * T * KV * D, false) F32(v, 2, B * T * KV * D, false) F32(probs, 3, B * H * T * T, false) F32(out, 4, B * T * H * D, false)
  I32(start, 10, B, true)
  mtsa_attention_forward(q, k, v, probs, out, B, T, H, KV, D, start, (float)num_arg(env, a[11]));
  return NULL;
}

/* attentionBackward(grad, q, k, v, probs, dq | null, dk | null, dv | null, B, T, H, KV, D, keyStart | null, scale): accumulates */
static napi_value attention_backward(napi_env env, napi_callback_info info) {
  ARGS(15);
  int64_t B = int_arg(env, a[8]), T = int_arg(env, a[9]), H = int_arg(env, a[10]), KV = int_arg(env, a[11]), D = int_arg(env, a[12]);
  if (B < 0 || T <= 0 || KV <= 0 || H % KV || D <= 0) FAIL("attentionBackward: bad shape");
  F32(g, 0, B * T * H * D, false) F32(q, 1, B * T * H * D, false) F32(k, 2, B * T * KV * D, false) F32(v, 3, B * T * KV * D, false) F32(probs, 4, B * H * T * T, false)
  F32(dq, 5, B * T * H * D, true) F32(dk, 6, B * T * KV * D, true) F32(dv, 7, B * T * KV * D, true) I32(start, 13, B, true)
  mtsa_attention_backward(g, q, k, v, probs, dq, dk, dv, B, T, H, KV, D, start, (float)num_arg(env, a[14]));
  return NULL;
}

/* add(a, b, out, n): out = a + b (out may be a or b) */
static napi_value add(napi_env env, napi_callback_info info) {
  ARGS(4);
  int64_t n = int_arg(env, a[3]);
  if (n < 0) FAIL("add: negative size");
  F32(x, 0, n, false) F32(y, 1, n, false) F32(out, 2, n, false)
  mtsa_add(x, y, out, n);
  return NULL;
}

/* scatterAddRows(source, indices, target, rows, cols): target row indices[r] += source row r */
static napi_value scatter_add_rows(napi_env env, napi_callback_info info) {
  ARGS(5);
  int64_t rows = int_arg(env, a[3]), cols = int_arg(env, a[4]);
  if (rows < 0 || cols <= 0) FAIL("scatterAddRows: bad shape");
  F32(source, 0, rows * cols, false) I32(indices, 1, rows, false)
  size_t nt = 0;
  float *target = f32_arg(env, a[2], &nt);
  if (!target) FAIL("target: not a Float32Array");
  for (int64_t r = 0; r < rows; r++) if (indices[r] < 0 || (indices[r] + 1) * cols > (int64_t)nt) FAIL("scatterAddRows: an index is outside the target");
  mtsa_scatter_add_rows(source, indices, target, rows, cols);
  return NULL;
}

/* sumSquares(x, n) → Σ x² in double precision */
static napi_value sum_squares(napi_env env, napi_callback_info info) {
  ARGS(2);
  int64_t n = int_arg(env, a[1]);
  if (n < 0) FAIL("sumSquares: negative size");
  F32(x, 0, n, false)
  napi_value out; CHECK(napi_create_double(env, mtsa_sum_squares(x, n), &out));
  return out;
}

/* adamw(w, g, m, v, n, clip, beta1, beta2, stepSize, correction2, eps, decay): one AdamW update; zeroes g */
static napi_value adamw(napi_env env, napi_callback_info info) {
  ARGS(12);
  int64_t n = int_arg(env, a[4]);
  if (n < 0) FAIL("adamw: negative size");
  F32(w, 0, n, false) F32(g, 1, n, false) F32(m, 2, n, false) F32(v, 3, n, false)
  mtsa_adamw(w, g, m, v, n, num_arg(env, a[5]), num_arg(env, a[6]), num_arg(env, a[7]), num_arg(env, a[8]), num_arg(env, a[9]), num_arg(env, a[10]), num_arg(env, a[11]));
  return NULL;
}

/* attendCached(q, keys, values, out, start, B, H, KV, D, capacity, length, scale): one decoding step
 * of attention for every sequence and head at once. q/out are (B, H·D); keys/values are
 * (B, capacity, KV·D); sequence b attends to cached positions start[b] .. length−1. */
#define ATTEND_LANES 8

static napi_value attend_cached(napi_env env, napi_callback_info info) {
  ARGS(12);
  size_t nq = 0, nk = 0, nv = 0, no = 0;
  float *q = f32_arg(env, a[0], &nq), *keys = f32_arg(env, a[1], &nk), *values = f32_arg(env, a[2], &nv), *out = f32_arg(env, a[3], &no);
  bool is_typed = false; napi_is_typedarray(env, a[4], &is_typed);
  napi_typedarray_type type; size_t ns = 0; void *sdata = NULL; napi_value sbuf; size_t soff;
  if (is_typed) napi_get_typedarray_info(env, a[4], &type, &ns, &sdata, &sbuf, &soff);
  int64_t B = int_arg(env, a[5]), H = int_arg(env, a[6]), KV = int_arg(env, a[7]), D = int_arg(env, a[8]), cap = int_arg(env, a[9]), L = int_arg(env, a[10]);
  float scale = (float)num_arg(env, a[11]);
  if (!q || !keys || !values || !out || !is_typed || type != napi_int32_array || (int64_t)ns < B || KV <= 0 || H % KV != 0 ||
      (int64_t)nq < B * H * D || (int64_t)no < B * H * D || (int64_t)nk < B * cap * KV * D || (int64_t)nv < B * cap * KV * D || L > cap || L <= 0) {
    napi_throw_range_error(env, NULL, "attendCached: bad arguments"); return NULL;
  }
  const int32_t *start = (const int32_t *)sdata;
  float scores[L];
  int64_t group = H / KV, width = KV * D;
  for (int64_t b = 0; b < B; b++) {
    int64_t from = start[b] < L ? start[b] : L - 1;
    if (from < 0) from = 0;
    for (int64_t h = 0; h < H; h++) {
      const float *qh = q + (b * H + h) * D;
      const float *kb = keys + b * cap * width + (h / group) * D;
      const float *vb = values + b * cap * width + (h / group) * D;
      float max = -3.0e38f;
      for (int64_t j = from; j < L; j++) {
        const float *kj = kb + j * width;
        /* LANES independent partial sums (vectorised without reassociating), added in a fixed
         * order: a serial sum over D was latency-bound and made this the slowest decoding kernel */
        float lane[ATTEND_LANES] = {0};
        int64_t d = 0;
        for (; d + ATTEND_LANES <= D; d += ATTEND_LANES)
          for (int l = 0; l < ATTEND_LANES; l++) lane[l] += qh[d + l] * kj[d + l];
        float dot = 0;
        for (; d < D; d++) dot += qh[d] * kj[d];
        for (int l = 0; l < ATTEND_LANES; l++) dot += lane[l];
        dot *= scale;
        scores[j] = dot;
        max = dot > max ? dot : max;
      }
      float sum = 0;
      for (int64_t j = from; j < L; j++) { float e = exp_approx(scores[j] - max); scores[j] = e; sum += e; }
      float inv = 1.0f / sum;
      float *oh = out + (b * H + h) * D;
      for (int64_t d = 0; d < D; d++) oh[d] = 0;
      for (int64_t j = from; j < L; j++) {
        const float *vj = vb + j * width;
        float p = scores[j] * inv;
        for (int64_t d = 0; d < D; d++) oh[d] += p * vj[d];
      }
    }
  }
  return NULL;
}


static napi_value set_threads(napi_env env, napi_callback_info info) {
  ARGS(1);
  mtsa_set_threads((int)int_arg(env, a[0]));
  return NULL;
}

static napi_value get_threads(napi_env env, napi_callback_info info) {
  napi_value out; CHECK(napi_create_int32(env, mtsa_get_threads(), &out));
  return out;
}

static napi_value config(napi_env env, napi_callback_info info) {
  char text[160];
  snprintf(text, sizeof text, "mtsa kernels: %s products, %d thread(s)", mtsa_sgemm_isa(), mtsa_get_threads());
  napi_value out; CHECK(napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &out));
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"sgemm", NULL, sgemm, NULL, NULL, NULL, napi_default, NULL},
    {"setThreads", NULL, set_threads, NULL, NULL, NULL, napi_default, NULL},
    {"threads", NULL, get_threads, NULL, NULL, NULL, napi_default, NULL},
    {"softmaxRows", NULL, softmax_rows, NULL, NULL, NULL, napi_default, NULL},
    {"causalSoftmax", NULL, causal_softmax, NULL, NULL, NULL, napi_default, NULL},
    {"attendCached", NULL, attend_cached, NULL, NULL, NULL, napi_default, NULL},
    {"swigluBackward", NULL, swiglu_backward, NULL, NULL, NULL, napi_default, NULL},
    {"swigluForward", NULL, swiglu_forward, NULL, NULL, NULL, napi_default, NULL},
    {"rmsNormForward", NULL, rms_norm_forward, NULL, NULL, NULL, napi_default, NULL},
    {"rmsNormBackward", NULL, rms_norm_backward, NULL, NULL, NULL, napi_default, NULL},
    {"rope", NULL, rope, NULL, NULL, NULL, napi_default, NULL},
    {"tokenLogProbs", NULL, token_log_probs, NULL, NULL, NULL, napi_default, NULL},
    {"tokenLogProbsBackward", NULL, token_log_probs_backward, NULL, NULL, NULL, napi_default, NULL},
    {"attentionForward", NULL, attention_forward, NULL, NULL, NULL, napi_default, NULL},
    {"attentionBackward", NULL, attention_backward, NULL, NULL, NULL, napi_default, NULL},
    {"add", NULL, add, NULL, NULL, NULL, napi_default, NULL},
    {"scatterAddRows", NULL, scatter_add_rows, NULL, NULL, NULL, napi_default, NULL},
    {"sumSquares", NULL, sum_squares, NULL, NULL, NULL, napi_default, NULL},
    {"adamw", NULL, adamw, NULL, NULL, NULL, napi_default, NULL},
    {"config", NULL, config, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
