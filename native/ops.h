/* The engine's non-product kernels in C (ops.c): every loop of a training step that is not a
 * matrix product, split into thread-pool tasks whose results do not depend on the thread count. */
#ifndef MTSA_OPS_H
#define MTSA_OPS_H
#include <stdint.h>

/* C = alpha·op(A)·op(B) + beta·C split over the pool (gemm.h's rectangles) when it is large enough */
void mtsa_sgemm_threaded(int ta, int tb, long M, long N, long K, float alpha, const float *A, long lda, const float *B, long ldb, float beta, float *C, long ldc);

void mtsa_softmax_rows(float *x, long rows, long cols, float *lse);
void mtsa_causal_softmax(float *x, long blocks, long T, long start);
void mtsa_swiglu_forward(const float *g, const float *u, float *o, float *sg, long n);
void mtsa_swiglu_backward(const float *grad, const float *gate, const float *up, const float *sg, float *dg, float *du, long n);
void mtsa_rms_norm_forward(const float *x, const float *w, float *y, float *inv, long rows, long cols, float eps);
void mtsa_rms_norm_backward(const float *g, const float *x, const float *w, const float *inv, float *gx, float *gw, long rows, long cols);
void mtsa_rope(const float *in, float *out, long rows, long heads, long head_dim, const int32_t *positions, const float *cos_table, const float *sin_table, int inverse);
void mtsa_token_log_probs(const float *logits, float *probs, const int32_t *targets, float *out, long rows, long vocab);
void mtsa_token_log_probs_backward(const float *g, const float *probs, const int32_t *targets, float *gx, long rows, long vocab, int overwrite);
void mtsa_attention_forward(const float *q, const float *k, const float *v, float *probs, float *out, long B, long T, long H, long KV, long D, const int32_t *key_start, float scale);
void mtsa_attention_backward(const float *g, const float *q, const float *k, const float *v, const float *probs, float *dq, float *dk, float *dv, long B, long T, long H, long KV, long D, const int32_t *key_start, float scale);
void mtsa_add(const float *a, const float *b, float *out, long n);
/* target[indices[r]] += source[r] for rows of `cols` floats, in row order (indices may repeat) */
void mtsa_scatter_add_rows(const float *source, const int32_t *indices, float *target, long rows, long cols);
double mtsa_sum_squares(const float *x, long n);
void mtsa_adamw(float *w, float *g, float *m, float *v, long n, double clip, double beta1, double beta2, double step_size, double correction2, double eps, double decay);

#endif
