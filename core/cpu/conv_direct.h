// Direct stride-1 convolution for float32 on the CPU (no im2col): the conv2d forward, its
// backward-input (a stride-1 correlation of the padded grad_out with the flipped, transposed
// kernel) and, for 3×3 kernels, its backward-weight, as register-blocked SIMD loops over a
// zero-padded copy of each image. See
// conv_direct.cpp for the scheme; core/cpu/conv.cpp decides when to use it.
#pragma once

#include <cstdint>

namespace ebm::cpu {

// Whether this build has the SIMD kernels (AVX-512F, or AVX2 + FMA).
bool direct_conv_available();

// y [N, Co, Ho, Wo] = conv2d(x [N, C, H, W], w [Co, C, kh, kw], bias b [Co] or null), stride 1,
// padding p on every side (p < kh and p < kw), Ho = H + 2p - kh + 1, Wo = W + 2p - kw + 1.
void direct_conv2d_forward(const float* x, const float* w, const float* b, float* y, int64_t N,
                           int64_t C, int64_t H, int64_t W, int64_t Co, int64_t kh, int64_t kw,
                           int64_t p);

// dx [N, C, H, W] = the adjoint of the forward above applied to gy [N, Co, Ho, Wo] (same w, p).
void direct_conv2d_backward_input(const float* gy, const float* w, float* dx, int64_t N, int64_t C,
                                  int64_t H, int64_t W, int64_t Co, int64_t kh, int64_t kw,
                                  int64_t p);

// dw [Co, C, kh, kw] = the weight gradient of the forward above for grad_out gy [N, Co, Ho, Wo].
// Only 3×3 kernels; returns false (and writes nothing) for others.
bool direct_conv2d_backward_weight(const float* gy, const float* x, float* dw, int64_t N,
                                   int64_t C, int64_t H, int64_t W, int64_t Co, int64_t kh,
                                   int64_t kw, int64_t p);

}  // namespace ebm::cpu
