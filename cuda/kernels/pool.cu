// Spatial kernels: avg_pool2d and max_pool2d (+ backwards), upsample_nearest2d (+ backward) and
// the per-channel bias add. The per-thread arithmetic is pool_body.h (shared with the CPU test);
// the kernels only pass in their coordinates. Kernels first, then the launchers.
#include <algorithm>
#include <cstdint>

#include "core/common.h"
#include "cuda/check.h"
#include "cuda/device.h"
#include "cuda/kernels/pool_body.h"
#include "cuda/pool.h"

namespace ebm::cuda {

using kernels::PlainOut;

namespace {

template <class T, class Index>
__global__ void __launch_bounds__(kernels::kPoolBlock)
    avg_pool_forward_kernel(PoolGeom g, const T* __restrict__ x, T* __restrict__ y) {
  kernels::avg_pool_forward_body<Index>(g, x, PlainOut<T>{y}, blockIdx.x, threadIdx.x, gridDim.x,
                                        blockDim.x);
}

template <class T, class Index>
__global__ void __launch_bounds__(kernels::kPoolBlock)
    avg_pool_backward_kernel(PoolGeom g, const T* __restrict__ gy, T* __restrict__ dx) {
  kernels::avg_pool_backward_body<Index>(g, gy, PlainOut<T>{dx}, blockIdx.x, threadIdx.x,
                                         gridDim.x, blockDim.x);
}

template <class T>
__global__ void __launch_bounds__(kernels::kPoolBlock)
    max_pool_forward_kernel(PoolGeom g, const T* __restrict__ x, T* __restrict__ y) {
  kernels::max_pool_forward_body(g, x, PlainOut<T>{y}, blockIdx.x, threadIdx.x, gridDim.x,
                                 blockDim.x);
}

template <class T>
__global__ void __launch_bounds__(kernels::kPoolBlock)
    max_pool_backward_kernel(PoolGeom g, const T* __restrict__ gy, const T* __restrict__ x,
                             T* __restrict__ dx) {
  kernels::max_pool_backward_body(g, gy, x, PlainOut<T>{dx}, blockIdx.x, threadIdx.x, gridDim.x,
                                  blockDim.x);
}

template <class T, class Index>
__global__ void __launch_bounds__(kernels::kPoolBlock)
    upsample_forward_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t planes, int64_t H,
                            int64_t W, int64_t s) {
  kernels::upsample_forward_body<Index>(x, PlainOut<T>{y}, planes, H, W, s, blockIdx.x,
                                        threadIdx.x, gridDim.x, blockDim.x);
}

template <class T, class Index>
__global__ void __launch_bounds__(kernels::kPoolBlock)
    upsample_backward_kernel(const T* __restrict__ gy, T* __restrict__ dx, int64_t planes,
                             int64_t H, int64_t W, int64_t s) {
  kernels::upsample_backward_body<Index>(gy, PlainOut<T>{dx}, planes, H, W, s, blockIdx.x,
                                         threadIdx.x, gridDim.x, blockDim.x);
}

// In place (y_in == y), so no __restrict__ on y.
template <class T, class Index>
__global__ void __launch_bounds__(kernels::kPoolBlock)
    add_channel_bias_kernel(T* y, const T* __restrict__ b, int64_t outer, int64_t channels,
                            int64_t inner) {
  kernels::add_channel_bias_body<Index>(y, b, PlainOut<T>{y}, outer, channels, inner, blockIdx.x,
                                        threadIdx.x, gridDim.x, blockDim.x);
}

// ------------------------------------------------------------------------------------------------
// launchers

// Resident blocks per SM times a few waves; the grid-stride loop covers bigger outputs.
constexpr int64_t kWavesPerSm = 8;

// Checks shared by all launchers; false when there is nothing to launch.
template <class T>
bool check_args(const char* name, int64_t n_out, const T* in, const T* out) {
  EBM_CHECK(n_out >= 0, ValueError, name, ": negative output size ", n_out);
  if (n_out == 0) return false;
  EBM_CHECK(in != nullptr && out != nullptr, ValueError, name, ": null pointer for ", n_out,
            " outputs");
  EBM_CHECK(reinterpret_cast<uintptr_t>(in) % alignof(T) == 0 &&
                reinterpret_cast<uintptr_t>(out) % alignof(T) == 0,
            ValueError, name, ": pointers must be ", alignof(T), "-byte aligned");
  return true;
}

void check_geom(const char* name, const PoolGeom& g) {
  EBM_CHECK(g.planes >= 0 && g.H >= 1 && g.W >= 1 && g.k >= 1 && g.s >= 1 && g.p >= 0 &&
                2 * g.p <= g.k && g.Ho == (g.H + 2 * g.p - g.k) / g.s + 1 &&
                g.Wo == (g.W + 2 * g.p - g.k) / g.s + 1 && g.Ho >= 1 && g.Wo >= 1,
            ValueError, name, ": inconsistent pooling geometry (planes ", g.planes, ", ", g.H,
            "x", g.W, " -> ", g.Ho, "x", g.Wo, ", kernel ", g.k, ", stride ", g.s, ", padding ",
            g.p, ")");
}

}  // namespace

PoolLaunch pool_launch_for(int device, int64_t n, int64_t n_max) {
  const kernels::PoolLaunchDims d =
      kernels::pool_launch_dims(n, multiprocessor_count(device) * kWavesPerSm);
  return PoolLaunch{d.grid, d.block, kernels::pool_fits_int32(std::max(n, n_max), d)};
}

template <class T>
void avg_pool2d_forward(const T* x, T* y, const PoolGeom& g, int device, StreamHandle stream) {
  const char* name = "avg_pool2d_forward (cuda)";
  check_geom(name, g);
  const int64_t n = g.planes * g.Ho * g.Wo;
  if (!check_args(name, n, x, y)) return;
  DeviceGuard guard(device);
  const PoolLaunch d = pool_launch_for(device, n, g.planes * g.H * g.W);
  if (d.use_int32)
    avg_pool_forward_kernel<T, int32_t><<<d.grid, d.block, 0, stream>>>(g, x, y);
  else
    avg_pool_forward_kernel<T, int64_t><<<d.grid, d.block, 0, stream>>>(g, x, y);
  EBM_CUDA_CHECK_LAUNCH();
}

template <class T>
void avg_pool2d_backward(const T* gy, T* dx, const PoolGeom& g, int device, StreamHandle stream) {
  const char* name = "avg_pool2d_backward (cuda)";
  check_geom(name, g);
  const int64_t n = g.planes * g.H * g.W;
  if (!check_args(name, n, gy, dx)) return;
  DeviceGuard guard(device);
  const PoolLaunch d = pool_launch_for(device, n, g.planes * g.Ho * g.Wo);
  if (d.use_int32)
    avg_pool_backward_kernel<T, int32_t><<<d.grid, d.block, 0, stream>>>(g, gy, dx);
  else
    avg_pool_backward_kernel<T, int64_t><<<d.grid, d.block, 0, stream>>>(g, gy, dx);
  EBM_CUDA_CHECK_LAUNCH();
}

template <class T>
void max_pool2d_forward(const T* x, T* y, const PoolGeom& g, int device, StreamHandle stream) {
  const char* name = "max_pool2d_forward (cuda)";
  check_geom(name, g);
  const int64_t n = g.planes * g.Ho * g.Wo;
  if (!check_args(name, n, x, y)) return;
  DeviceGuard guard(device);
  const PoolLaunch d = pool_launch_for(device, n, g.planes * g.H * g.W);
  max_pool_forward_kernel<T><<<d.grid, d.block, 0, stream>>>(g, x, y);
  EBM_CUDA_CHECK_LAUNCH();
}

template <class T>
void max_pool2d_backward(const T* gy, const T* x, T* dx, const PoolGeom& g, int device,
                         StreamHandle stream) {
  const char* name = "max_pool2d_backward (cuda)";
  check_geom(name, g);
  const int64_t n = g.planes * g.H * g.W;
  if (!check_args(name, n, gy, dx) || !check_args(name, n, x, dx)) return;
  DeviceGuard guard(device);
  const PoolLaunch d = pool_launch_for(device, n, g.planes * g.Ho * g.Wo);
  max_pool_backward_kernel<T><<<d.grid, d.block, 0, stream>>>(g, gy, x, dx);
  EBM_CUDA_CHECK_LAUNCH();
}

template <class T>
void upsample_nearest2d_forward(const T* x, T* y, int64_t planes, int64_t H, int64_t W,
                                int64_t scale, int device, StreamHandle stream) {
  const char* name = "upsample_nearest2d_forward (cuda)";
  EBM_CHECK(planes >= 0 && H >= 0 && W >= 0 && scale >= 1, ValueError, name, ": bad sizes (planes ",
            planes, ", ", H, "x", W, ", scale ", scale, ")");
  const int64_t n = planes * H * scale * W * scale;
  if (!check_args(name, n, x, y)) return;
  DeviceGuard guard(device);
  const PoolLaunch d = pool_launch_for(device, n, n);
  if (d.use_int32)
    upsample_forward_kernel<T, int32_t><<<d.grid, d.block, 0, stream>>>(x, y, planes, H, W, scale);
  else
    upsample_forward_kernel<T, int64_t><<<d.grid, d.block, 0, stream>>>(x, y, planes, H, W, scale);
  EBM_CUDA_CHECK_LAUNCH();
}

template <class T>
void upsample_nearest2d_backward(const T* gy, T* dx, int64_t planes, int64_t H, int64_t W,
                                 int64_t scale, int device, StreamHandle stream) {
  const char* name = "upsample_nearest2d_backward (cuda)";
  EBM_CHECK(planes >= 0 && H >= 0 && W >= 0 && scale >= 1, ValueError, name, ": bad sizes (planes ",
            planes, ", ", H, "x", W, ", scale ", scale, ")");
  const int64_t n = planes * H * W;
  if (!check_args(name, n, gy, dx)) return;
  DeviceGuard guard(device);
  const PoolLaunch d = pool_launch_for(device, n, n * scale * scale);
  if (d.use_int32)
    upsample_backward_kernel<T, int32_t><<<d.grid, d.block, 0, stream>>>(gy, dx, planes, H, W,
                                                                          scale);
  else
    upsample_backward_kernel<T, int64_t><<<d.grid, d.block, 0, stream>>>(gy, dx, planes, H, W,
                                                                          scale);
  EBM_CUDA_CHECK_LAUNCH();
}

template <class T>
void add_channel_bias(T* y, const T* b, int64_t outer, int64_t channels, int64_t inner,
                      int device, StreamHandle stream) {
  const char* name = "add_channel_bias (cuda)";
  EBM_CHECK(outer >= 0 && channels >= 0 && inner >= 0, ValueError, name, ": negative size (",
            outer, ", ", channels, ", ", inner, ")");
  const int64_t n = outer * channels * inner;
  if (!check_args(name, n, b, y)) return;
  DeviceGuard guard(device);
  const PoolLaunch d = pool_launch_for(device, n, n);
  if (d.use_int32)
    add_channel_bias_kernel<T, int32_t><<<d.grid, d.block, 0, stream>>>(y, b, outer, channels,
                                                                         inner);
  else
    add_channel_bias_kernel<T, int64_t><<<d.grid, d.block, 0, stream>>>(y, b, outer, channels,
                                                                         inner);
  EBM_CUDA_CHECK_LAUNCH();
}

#define EBM_INSTANTIATE_POOL(T)                                                                 \
  template void avg_pool2d_forward<T>(const T*, T*, const PoolGeom&, int, StreamHandle);        \
  template void avg_pool2d_backward<T>(const T*, T*, const PoolGeom&, int, StreamHandle);       \
  template void max_pool2d_forward<T>(const T*, T*, const PoolGeom&, int, StreamHandle);        \
  template void max_pool2d_backward<T>(const T*, const T*, T*, const PoolGeom&, int,            \
                                       StreamHandle);                                           \
  template void upsample_nearest2d_forward<T>(const T*, T*, int64_t, int64_t, int64_t, int64_t, \
                                              int, StreamHandle);                               \
  template void upsample_nearest2d_backward<T>(const T*, T*, int64_t, int64_t, int64_t,         \
                                               int64_t, int, StreamHandle);                     \
  template void add_channel_bias<T>(T*, const T*, int64_t, int64_t, int64_t, int, StreamHandle);

EBM_INSTANTIATE_POOL(float)
EBM_INSTANTIATE_POOL(double)
#undef EBM_INSTANTIATE_POOL

}  // namespace ebm::cuda
