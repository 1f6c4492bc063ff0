/*
 * mtsa_kernels: the native half of the engine's kernel interface.
 * It is only a bridge from Float32Arrays to the system CBLAS (OpenBLAS): one sgemm with offsets
 * and leading dimensions, so that strided views (one attention head inside a (B, T, H, D) buffer)
 * need no copies. Everything else stays in TypeScript; see src/engine/kernels/.
 */
#include <node_api.h>
#include <cblas.h>
#include <stdbool.h>
#include <stdint.h>

#define CHECK(call) do { if ((call) != napi_ok) { napi_throw_error(env, NULL, "mtsa_kernels: N-API call failed: " #call); return NULL; } } while (0)

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
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              (int)M, (int)N, (int)K, alpha, A + ao, (int)lda, B + bo, (int)ldb, beta, C + co, (int)ldc);
  return NULL;
}

static napi_value set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value a[1];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  openblas_set_num_threads((int)int_arg(env, a[0]));
  return NULL;
}

static napi_value config(napi_env env, napi_callback_info info) {
  napi_value out; CHECK(napi_create_string_utf8(env, openblas_get_config(), NAPI_AUTO_LENGTH, &out));
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"sgemm", NULL, sgemm, NULL, NULL, NULL, napi_default, NULL},
    {"setThreads", NULL, set_threads, NULL, NULL, NULL, napi_default, NULL},
    {"config", NULL, config, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
