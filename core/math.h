// Scalar math with one spelling for float and double on host and device, so EBM_HD functors can
// be templated on the element type.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/common.h"

namespace ebm::math {

template <class T> EBM_HD T max(T a, T b) { return a > b ? a : b; }
template <class T> EBM_HD T min(T a, T b) { return a < b ? a : b; }

EBM_HD float exp_portable(float x);
// float exp is exp_portable on both backends: bit-identical results, and a loop over it
// vectorises on the CPU (glibc's scalar expf does not).
EBM_HD float exp(float x) { return exp_portable(x); }
EBM_HD double exp(double x) { return ::exp(x); }
EBM_HD float log(float x) { return logf(x); }
EBM_HD double log(double x) { return ::log(x); }
EBM_HD float log1p(float x) { return log1pf(x); }
EBM_HD double log1p(double x) { return ::log1p(x); }
EBM_HD float sqrt(float x) { return sqrtf(x); }
EBM_HD double sqrt(double x) { return ::sqrt(x); }
EBM_HD float tanh(float x) { return tanhf(x); }
EBM_HD double tanh(double x) { return ::tanh(x); }
EBM_HD float pow(float x, float p) { return powf(x, p); }
EBM_HD double pow(double x, double p) { return ::pow(x, p); }
EBM_HD float abs(float x) { return fabsf(x); }
EBM_HD double abs(double x) { return ::fabs(x); }

// a * b + c with two roundings and never fused into one FMA, on the host and the device alike:
// nvcc contracts a * b + c by default, so device code uses the _rn intrinsics, which it never
// fuses. (The host build uses -ffp-contract=off.) Keeps CPU and GPU results bit-identical.
EBM_HD float mul_add_rn(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(__fmul_rn(a, b), c);
#else
  return a * b + c;
#endif
}
EBM_HD double mul_add_rn(double a, double b, double c) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(__dmul_rn(a, b), c);
#else
  return a * b + c;
#endif
}

// Single IEEE float operations, rounded to nearest and never fused, on host and device.
EBM_HD float mul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
EBM_HD float add_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
EBM_HD float div_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}
EBM_HD float sqrt_rn(float a) {
#if defined(__CUDA_ARCH__)
  return __fsqrt_rn(a);
#else
  return sqrtf(a);
#endif
}
EBM_HD uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
#endif
}
EBM_HD float bits_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}

// Natural log of a positive normal float built only from the correctly rounded operations above,
// so the CPU and the GPU return the same bits (logf differs between glibc and CUDA by an ulp).
// x = 2^e * m, m in [sqrt(1/2), sqrt(2)); log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172,
// from its series to s^9 (truncation 2 s^11 / 11 < 1e-9 relative). About 2 ulp accurate.
EBM_HD float log_portable(float x) {
  uint32_t b = float_bits(x);
  int e = static_cast<int>((b >> 23) & 0xffu) - 127;
  float m = bits_float((b & 0x7fffffu) | 0x3f800000u);  // [1, 2)
  bool high = m > 1.41421356f;  // selects, not branches, so CPU loops over this vectorise
  m = high ? mul_rn(m, 0.5f) : m;  // exact
  e = high ? e + 1 : e;
  float s = div_rn(add_rn(m, -1.0f), add_rn(m, 1.0f));
  float z = mul_rn(s, s);
  float p = mul_add_rn(z, 1.0f / 9.0f, 1.0f / 7.0f);
  p = mul_add_rn(p, z, 1.0f / 5.0f);
  p = mul_add_rn(p, z, 1.0f / 3.0f);
  p = mul_add_rn(p, z, 1.0f);
  float log_m = mul_rn(mul_rn(2.0f, s), p);
  // e * ln 2 in two parts (ln2_hi has 16 significant bits, so e * ln2_hi is exact for |e| < 256).
  const float ln2_hi = 0.693145751953125f, ln2_lo = 1.428606765330187e-06f;
  float fe = static_cast<float>(e);
  return add_rn(mul_rn(fe, ln2_hi), mul_add_rn(fe, ln2_lo, log_m));
}

// e^x for float from correctly rounded operations (same bits on CPU and GPU) and branch-free
// selects (vectorises). x = n ln2 + r, |r| <= ln2 / 2 (ln2 in two parts, Cody–Waite); e^r from
// Cephes' expf minimax polynomial; 2^n from the exponent bits. About 1 ulp; results that would be
// subnormal flush to 0; NaN propagates; overflow gives inf.
EBM_HD float exp_portable(float x) {
  const float hi = 88.72283905206835f, lo = -87.33654475055310898657f;
  float xc = max(min(x, hi), lo);
  float n = floorf(mul_add_rn(xc, 1.44269504088896341f, 0.5f));
  float r = mul_add_rn(n, -0.693359375f, xc);
  r = mul_add_rn(n, 2.12194440e-4f, r);
  float p = mul_add_rn(r, 1.9875691500e-4f, 1.3981999507e-3f);
  p = mul_add_rn(p, r, 8.3334519073e-3f);
  p = mul_add_rn(p, r, 4.1665795894e-2f);
  p = mul_add_rn(p, r, 1.6666665459e-1f);
  p = mul_add_rn(p, r, 5.0000001201e-1f);
  float er = add_rn(mul_add_rn(mul_rn(p, r), r, r), 1.0f);
  int ni = static_cast<int>(n);  // in [-126, 128]
  float twice = ni > 127 ? 2.0f : 1.0f;  // 2^128 = 2 * 2^127 keeps the exponent field valid
  ni = ni > 127 ? 127 : ni;
  float scale = bits_float(static_cast<uint32_t>(ni + 127) << 23);
  float y = mul_rn(mul_rn(er, scale), twice);
  y = x > hi ? INFINITY : y;
  y = x < lo ? 0.0f : y;
  return x != x ? x : y;
}

// sin and cos of v in [0, 2*pi] (the Box–Muller angle), portable like log_portable. v is reduced
// by the nearest multiple q of pi/2 (pi/2 split in three parts, Cody–Waite) to r in [-pi/4, pi/4];
// minimax polynomials of Cephes' sinf/cosf (about 1 ulp on that interval) give sin r, cos r, and
// the quadrant q mod 4 maps them back.
EBM_HD void sincos_portable(float v, float& s, float& c) {
  float q = floorf(mul_add_rn(v, 0.63661977236758134f, 0.5f));  // nearest integer to v / (pi/2)
  float r = mul_add_rn(q, -1.5703125f, v);  // q * 1.5703125 is exact (8-bit constant, q <= 4)
  r = mul_add_rn(q, -4.837512969970703125e-4f, r);
  r = mul_add_rn(q, -7.54978995489188216e-8f, r);
  float z = mul_rn(r, r);
  float ps = mul_add_rn(z, -1.9515295891e-4f, 8.3321608736e-3f);
  ps = mul_add_rn(ps, z, -1.6666654611e-1f);
  float sin_r = mul_add_rn(mul_rn(r, z), ps, r);
  float pc = mul_add_rn(z, 2.443315711809948e-5f, -1.388731625493765e-3f);
  pc = mul_add_rn(pc, z, 4.166664568298827e-2f);
  float cos_r = add_rn(mul_add_rn(z, -0.5f, 1.0f), mul_rn(mul_rn(z, z), pc));
  int quadrant = static_cast<int>(q) & 3;  // selects, not a switch, so CPU loops vectorise
  bool swap = quadrant & 1;
  float s0 = swap ? cos_r : sin_r, c0 = swap ? sin_r : cos_r;
  s = (quadrant & 2) ? -s0 : s0;
  c = (quadrant == 1 || quadrant == 2) ? -c0 : c0;
}


// Logistic sigmoid without overflow for large |x|: one exp of -|x| and a select (vectorises).
template <class T> EBM_HD T sigmoid(T x) {
  T e = exp(-abs(x));
  T r = T(1) / (T(1) + e);
  return x >= T(0) ? r : e * r;
}

// log(1 + e^x), stable for large |x| (PyTorch's beta=1 softplus without its threshold shortcut,
// which differs from this by less than 2e-9 at the threshold).
template <class T> EBM_HD T softplus(T x) { return max(x, T(0)) + log1p(exp(-abs(x))); }

}  // namespace ebm::math
