// Launchers of the bilinear resize kernels (kernels/resize.cu; per-thread bodies in
// kernels/resize_body.h): resize_bilinear2d and its backward, with the semantics of the CPU ops
// (core/ops/resize.h), whose per-element arithmetic they share, so the results are equal bit for
// bit. Plain C++: T is float or double (explicitly instantiated); pointers are device memory on
// `device`, contiguous, aligned to sizeof(T), outputs never overlapping inputs; every output
// element is written. Each launcher makes `device` current, queues on `stream`, checks the
// launch, and launches nothing for an empty output.
#pragma once

#include <cstdint>

#include "cuda/stream.h"

namespace ebm::cuda {

// y [planes, Ho, Wo] = bilinear resize of x [planes, H, W] (align_corners=False).
template <class T>
void resize_bilinear2d_forward(const T* x, T* y, int64_t planes, int64_t H, int64_t W, int64_t Ho,
                               int64_t Wo, int device, StreamHandle stream);
// dx [planes, H, W] = the adjoint of the resize applied to gy [planes, Ho, Wo].
template <class T>
void resize_bilinear2d_backward(const T* gy, T* dx, int64_t planes, int64_t H, int64_t W,
                                int64_t Ho, int64_t Wo, int device, StreamHandle stream);

}  // namespace ebm::cuda
