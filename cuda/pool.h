// Launchers of the spatial kernels (kernels/pool.cu; per-thread bodies in kernels/pool_body.h):
// avg_pool2d and max_pool2d and their backwards, upsample_nearest2d and its backward, and the
// per-channel bias add that conv2d and linear use after cuDNN / cuBLAS. Semantics are those of
// the CPU ops (core/ops/conv.h, core/ops/max_pool.h), and the results equal the CPU's bit for
// bit (see pool_body.h).
//
// Plain C++: T is float or double (explicitly instantiated); pointers are device memory on
// `device`, contiguous NCHW, aligned to sizeof(T); outputs never overlap inputs (except the
// in-place bias add). Every output element is written (no need to zero it first). Each launcher
// makes `device` current for the launch, queues on `stream`, checks the launch, and launches
// nothing for an empty output.
#pragma once

#include <cstdint>

#include "core/ops/pool_window.h"
#include "cuda/stream.h"

namespace ebm::cuda {

// y [g.planes, g.Ho, g.Wo] = avg_pool2d of x [g.planes, g.H, g.W].
template <class T>
void avg_pool2d_forward(const T* x, T* y, const PoolGeom& g, int device, StreamHandle stream);
// dx [g.planes, g.H, g.W] = the adjoint of avg_pool2d applied to gy [g.planes, g.Ho, g.Wo].
template <class T>
void avg_pool2d_backward(const T* gy, T* dx, const PoolGeom& g, int device, StreamHandle stream);

// y [g.planes, g.Ho, g.Wo] = max_pool2d of x [g.planes, g.H, g.W] (g.include_pad is ignored).
template <class T>
void max_pool2d_forward(const T* x, T* y, const PoolGeom& g, int device, StreamHandle stream);
// dx [g.planes, g.H, g.W] = gy [g.planes, g.Ho, g.Wo] routed to the argmax of each window of x.
template <class T>
void max_pool2d_backward(const T* gy, const T* x, T* dx, const PoolGeom& g, int device,
                         StreamHandle stream);

// y [planes, H·scale, W·scale] = nearest upsampling of x [planes, H, W].
template <class T>
void upsample_nearest2d_forward(const T* x, T* y, int64_t planes, int64_t H, int64_t W,
                                int64_t scale, int device, StreamHandle stream);
// dx [planes, H, W] = block sums of gy [planes, H·scale, W·scale].
template <class T>
void upsample_nearest2d_backward(const T* gy, T* dx, int64_t planes, int64_t H, int64_t W,
                                 int64_t scale, int device, StreamHandle stream);

// In place: y [outer, channels, inner] += b [channels] broadcast over outer and inner.
template <class T>
void add_channel_bias(T* y, const T* b, int64_t outer, int64_t channels, int64_t inner,
                      int device, StreamHandle stream);

// The launch the launchers make for n output elements on `device` when the largest tensor
// involved has n_max elements (for tests and benchmarks): grid, block, and whether the kernel's
// index arithmetic is 32-bit.
struct PoolLaunch {
  uint32_t grid = 0, block = 0;
  bool use_int32 = false;
};
PoolLaunch pool_launch_for(int device, int64_t n, int64_t n_max);

}  // namespace ebm::cuda
