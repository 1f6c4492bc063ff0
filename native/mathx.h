/* exp(x) for float32 that GCC vectorises: x = k·ln2 + r, |r| ≤ ln2/2, 2^k from the exponent bits,
 * e^r from a degree-6 Taylor polynomial. Relative error < 2e-7 over [-87, 88]. */
#ifndef MTSA_MATHX_H
#define MTSA_MATHX_H
#include <stdint.h>
#include <string.h>

static inline float exp_approx(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  float k = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
  float r = x - k * 0.693145751953125f - k * 1.428606765330187045e-06f;
  float p = 1.0f + r * (1.0f + r * (0.5f + r * (0.16666666666666666f + r * (0.041666666666666664f + r * (0.008333333333333333f + r * 0.001388888888888889f)))));
  int32_t bits = ((int32_t)k + 127) << 23;
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

#endif
