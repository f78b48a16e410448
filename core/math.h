// Scalar math with one spelling for float and double on host and device, so EBM_HD functors can
// be templated on the element type.
#pragma once

#include <cmath>

#include "core/common.h"

namespace ebm::math {

EBM_HD float exp(float x) { return expf(x); }
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

template <class T> EBM_HD T max(T a, T b) { return a > b ? a : b; }
template <class T> EBM_HD T min(T a, T b) { return a < b ? a : b; }

// Logistic sigmoid without overflow for large |x|.
template <class T> EBM_HD T sigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + exp(-x));
  T e = exp(x);
  return e / (T(1) + e);
}

// log(1 + e^x), stable for large |x| (PyTorch's beta=1 softplus without its threshold shortcut,
// which differs from this by less than 2e-9 at the threshold).
template <class T> EBM_HD T softplus(T x) { return max(x, T(0)) + log1p(exp(-abs(x))); }

}  // namespace ebm::math
