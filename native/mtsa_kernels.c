/*
 * mtsa_kernels: the native half of the engine's kernel interface (src/engine/kernels/kernels.ts).
 * A bridge from Float32Arrays to the system CBLAS (OpenBLAS) — one sgemm with offsets and leading
 * dimensions, so strided views (one attention head inside a (B, T, H, D) buffer) need no copies —
 * plus the three exp-heavy loops of a training step (softmax rows, causal attention softmax,
 * SwiGLU), where V8's scalar Math.exp (~13 ns) costs more than all the matrix products.
 * docs/decisions/0001-own-engine.md has the measurements.
 */
#include <node_api.h>
#include <cblas.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* exp(x) for float32 that GCC vectorises: x = k·ln2 + r, |r| ≤ ln2/2, 2^k from the exponent bits,
 * e^r from a degree-6 Taylor/minimax polynomial. Relative error < 2e-7 over [-87, 88]. */
static inline float exp_approx(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  float k = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
  float r = x - k * 0.693145751953125f - k * 1.428606765330187045e-06f;
  float p = 1.0f + r * (1.0f + r * (0.5f + r * (0.16666666666666666f + r * (0.041666666666666664f + r * (0.008333333333333333f + r * 0.001388888888888889f)))));
  int32_t bits = ((int32_t)k + 127) << 23;
  float scale; memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

#define CHECK(call) do { if ((call) != napi_ok) { napi_throw_error(env, NULL, "mtsa_kernels: N-API call failed: " #call); return NULL; } } while (0)

static int max_threads = 0, current_threads = 0;
static int64_t small_product = 1 << 21;

static float *f32_arg(napi_env env, napi_value v, size_t *length) {
  bool is_typed = false;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed) return NULL;
  napi_typedarray_type type; size_t len; void *data; napi_value buf; size_t off;
  if (napi_get_typedarray_info(env, v, &type, &len, &data, &buf, &off) != napi_ok) return NULL;
  if (type != napi_float32_array) return NULL;
  *length = len;
  return (float *)data;
}

static int64_t int_arg(napi_env env, napi_value v) {
  int64_t out = 0; napi_get_value_int64(env, v, &out); return out;
}

static double num_arg(napi_env env, napi_value v) {
  double out = 0; napi_get_value_double(env, v, &out); return out;
}

/* sgemm(transA, transB, M, N, K, alpha, A, aOffset, lda, B, bOffset, ldb, beta, C, cOffset, ldc)
 * Row-major C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C. Bounds are checked here, once. */
static napi_value sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 16; napi_value a[16];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
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
  if (M <= 0 || N <= 0 || K <= 0) return NULL;
  /* last element touched by each operand, row-major with leading dimensions */
  int64_t aRows = ta ? K : M, aCols = ta ? M : K, bRows = tb ? N : K, bCols = tb ? K : N;
  if (lda < aCols || ldb < bCols || ldc < N ||
      ao < 0 || bo < 0 || co < 0 ||
      ao + (aRows - 1) * lda + aCols > (int64_t)la ||
      bo + (bRows - 1) * ldb + bCols > (int64_t)lb ||
      co + (M - 1) * ldc + N > (int64_t)lc) {
    napi_throw_range_error(env, NULL, "sgemm: operand out of bounds");
    return NULL;
  }
  /* Waking OpenBLAS's worker threads costs tens of microseconds when JS work ran in between, more
   * than a small product takes on one core: run small products single-threaded. */
  int want = (M * N * K < small_product) ? 1 : max_threads;
  if (want != current_threads) { openblas_set_num_threads(want); current_threads = want; }
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              (int)M, (int)N, (int)K, alpha, A + ao, (int)lda, B + bo, (int)ldb, beta, C + co, (int)ldc);
  return NULL;
}

static bool range_ok(size_t length, int64_t offset, int64_t count) {
  return offset >= 0 && count >= 0 && offset + count <= (int64_t)length;
}

/* softmaxRows(data, offset, rows, cols, lse | null): in-place row softmax; lse[r] = log Σ exp(x_r). */
static napi_value softmax_rows(napi_env env, napi_callback_info info) {
  size_t argc = 5; napi_value a[5];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  size_t n = 0, nl = 0;
  float *x = f32_arg(env, a[0], &n);
  int64_t off = int_arg(env, a[1]), rows = int_arg(env, a[2]), cols = int_arg(env, a[3]);
  float *lse = argc > 4 ? f32_arg(env, a[4], &nl) : NULL;
  if (!x || !range_ok(n, off, rows * cols) || (lse && (int64_t)nl < rows)) { napi_throw_range_error(env, NULL, "softmaxRows: out of bounds"); return NULL; }
  for (int64_t r = 0; r < rows; r++) {
    float *row = x + off + r * cols;
    float max = row[0];
    for (int64_t c = 1; c < cols; c++) max = row[c] > max ? row[c] : max;
    float sum = 0;
    for (int64_t c = 0; c < cols; c++) { float e = exp_approx(row[c] - max); row[c] = e; sum += e; }
    float inv = 1.0f / sum;
    for (int64_t c = 0; c < cols; c++) row[c] *= inv;
    if (lse) lse[r] = max + logf(sum);
  }
  return NULL;
}

/* causalSoftmax(data, offset, blocks, T, start): `blocks` consecutive T×T score blocks; row t keeps
 * columns start..t, normalised; everything else becomes 0 (rows before start are all 0). */
static napi_value causal_softmax(napi_env env, napi_callback_info info) {
  size_t argc = 5; napi_value a[5];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  size_t n = 0;
  float *x = f32_arg(env, a[0], &n);
  int64_t off = int_arg(env, a[1]), blocks = int_arg(env, a[2]), T = int_arg(env, a[3]), start = int_arg(env, a[4]);
  if (!x || !range_ok(n, off, blocks * T * T) || start < 0) { napi_throw_range_error(env, NULL, "causalSoftmax: out of bounds"); return NULL; }
  for (int64_t b = 0; b < blocks; b++) {
    for (int64_t t = 0; t < T; t++) {
      float *row = x + off + (b * T + t) * T;
      if (t < start) { memset(row, 0, T * sizeof(float)); continue; }
      float max = row[start];
      for (int64_t j = start + 1; j <= t; j++) max = row[j] > max ? row[j] : max;
      float sum = 0;
      for (int64_t j = start; j <= t; j++) { float e = exp_approx(row[j] - max); row[j] = e; sum += e; }
      float inv = 1.0f / sum;
      for (int64_t j = start; j <= t; j++) row[j] *= inv;
      if (start > 0) memset(row, 0, start * sizeof(float));
      if (t + 1 < T) memset(row + t + 1, 0, (T - t - 1) * sizeof(float));
    }
  }
  return NULL;
}

/* swigluForward(gate, up, out, sigmoid, n): out = gate·σ(gate)·up, sigmoid = σ(gate). */
static napi_value swiglu_forward(napi_env env, napi_callback_info info) {
  size_t argc = 5; napi_value a[5];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  size_t ng = 0, nu = 0, no = 0, ns = 0;
  float *g = f32_arg(env, a[0], &ng), *u = f32_arg(env, a[1], &nu), *o = f32_arg(env, a[2], &no), *sg = f32_arg(env, a[3], &ns);
  int64_t n = int_arg(env, a[4]);
  if (!g || !u || !o || !sg || (int64_t)ng < n || (int64_t)nu < n || (int64_t)no < n || (int64_t)ns < n) { napi_throw_range_error(env, NULL, "swigluForward: out of bounds"); return NULL; }
  for (int64_t i = 0; i < n; i++) {
    float s = 1.0f / (1.0f + exp_approx(-g[i]));
    sg[i] = s;
    o[i] = g[i] * s * u[i];
  }
  return NULL;
}

/* attendCached(q, keys, values, out, start, B, H, KV, D, capacity, length, scale): one decoding step
 * of attention for every sequence and head at once. q/out are (B, H·D); keys/values are
 * (B, capacity, KV·D); sequence b attends to cached positions start[b] .. length−1. */
#define LANES 8

static napi_value attend_cached(napi_env env, napi_callback_info info) {
  size_t argc = 12; napi_value a[12];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
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
        float lane[LANES] = {0};
        int64_t d = 0;
        for (; d + LANES <= D; d += LANES)
          for (int l = 0; l < LANES; l++) lane[l] += qh[d + l] * kj[d + l];
        float dot = 0;
        for (; d < D; d++) dot += qh[d] * kj[d];
        for (int l = 0; l < LANES; l++) dot += lane[l];
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

/* swigluBackward(grad, gate, up, sigmoid, dGate | null, dUp | null, n): accumulates
 * dUp += g·gate·σ and dGate += g·up·σ·(1 + gate·(1 − σ)). */
static napi_value swiglu_backward(napi_env env, napi_callback_info info) {
  size_t argc = 7; napi_value a[7];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  size_t n0 = 0, n1 = 0, n2 = 0, n3 = 0, n4 = 0, n5 = 0;
  float *g = f32_arg(env, a[0], &n0), *gate = f32_arg(env, a[1], &n1), *up = f32_arg(env, a[2], &n2), *sg = f32_arg(env, a[3], &n3);
  float *dg = f32_arg(env, a[4], &n4), *du = f32_arg(env, a[5], &n5);
  int64_t n = int_arg(env, a[6]);
  if (!g || !gate || !up || !sg || (int64_t)n0 < n || (int64_t)n1 < n || (int64_t)n2 < n || (int64_t)n3 < n || (dg && (int64_t)n4 < n) || (du && (int64_t)n5 < n)) {
    napi_throw_range_error(env, NULL, "swigluBackward: out of bounds"); return NULL;
  }
  if (du) for (int64_t i = 0; i < n; i++) du[i] += g[i] * gate[i] * sg[i];
  if (dg) for (int64_t i = 0; i < n; i++) { float s = sg[i]; dg[i] += g[i] * up[i] * s * (1.0f + gate[i] * (1.0f - s)); }
  return NULL;
}

static napi_value set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value a[1];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  max_threads = (int)int_arg(env, a[0]);
  openblas_set_num_threads(max_threads);
  current_threads = max_threads;
  return NULL;
}

static napi_value config(napi_env env, napi_callback_info info) {
  napi_value out; CHECK(napi_create_string_utf8(env, openblas_get_config(), NAPI_AUTO_LENGTH, &out));
  return out;
}

static napi_value set_small_product(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value a[1];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  small_product = int_arg(env, a[0]);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  max_threads = current_threads = openblas_get_num_threads();
  napi_property_descriptor props[] = {
    {"sgemm", NULL, sgemm, NULL, NULL, NULL, napi_default, NULL},
    {"setThreads", NULL, set_threads, NULL, NULL, NULL, napi_default, NULL},
    {"setSmallProduct", NULL, set_small_product, NULL, NULL, NULL, napi_default, NULL},
    {"softmaxRows", NULL, softmax_rows, NULL, NULL, NULL, napi_default, NULL},
    {"causalSoftmax", NULL, causal_softmax, NULL, NULL, NULL, napi_default, NULL},
    {"attendCached", NULL, attend_cached, NULL, NULL, NULL, napi_default, NULL},
    {"swigluBackward", NULL, swiglu_backward, NULL, NULL, NULL, napi_default, NULL},
    {"swigluForward", NULL, swiglu_forward, NULL, NULL, NULL, napi_default, NULL},
    {"config", NULL, config, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
