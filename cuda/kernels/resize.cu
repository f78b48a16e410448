// Bilinear resize kernels (+ backward). The per-thread arithmetic is resize_body.h, shared with
// the CPU loops through core/ops/resize.h. Kernels first, then the launchers.
#include <cstdint>

#include "core/common.h"
#include "cuda/check.h"
#include "cuda/device.h"
#include "cuda/kernels/resize_body.h"
#include "cuda/pool.h"
#include "cuda/resize.h"

namespace ebm::cuda {

using kernels::PlainOut;

namespace {

template <class T>
__global__ void __launch_bounds__(kernels::kPoolBlock)
    resize_forward_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t planes, int64_t H,
                          int64_t W, int64_t Ho, int64_t Wo) {
  kernels::resize_forward_body(x, PlainOut<T>{y}, planes, H, W, Ho, Wo, blockIdx.x, threadIdx.x,
                               gridDim.x, blockDim.x);
}

template <class T>
__global__ void __launch_bounds__(kernels::kPoolBlock)
    resize_backward_kernel(const T* __restrict__ gy, T* __restrict__ dx, int64_t planes,
                           int64_t H, int64_t W, int64_t Ho, int64_t Wo) {
  kernels::resize_backward_body(gy, PlainOut<T>{dx}, planes, H, W, Ho, Wo, blockIdx.x,
                                threadIdx.x, gridDim.x, blockDim.x);
}

// ------------------------------------------------------------------------------------------------
// launchers

// Checks shared by both launchers; false when there is nothing to launch.
template <class T>
bool check_resize_args(const char* name, int64_t planes, int64_t H, int64_t W, int64_t Ho,
                       int64_t Wo, const T* in, const T* out) {
  EBM_CHECK(planes >= 0 && H >= 1 && W >= 1 && Ho >= 1 && Wo >= 1, ValueError, name,
            ": bad sizes (planes ", planes, ", ", H, "x", W, " -> ", Ho, "x", Wo, ")");
  if (planes == 0) return false;
  EBM_CHECK(in != nullptr && out != nullptr, ValueError, name, ": null pointer");
  EBM_CHECK(reinterpret_cast<uintptr_t>(in) % alignof(T) == 0 &&
                reinterpret_cast<uintptr_t>(out) % alignof(T) == 0,
            ValueError, name, ": pointers must be ", alignof(T), "-byte aligned");
  return true;
}

}  // namespace

template <class T>
void resize_bilinear2d_forward(const T* x, T* y, int64_t planes, int64_t H, int64_t W, int64_t Ho,
                               int64_t Wo, int device, StreamHandle stream) {
  const char* name = "resize_bilinear2d_forward (cuda)";
  if (!check_resize_args(name, planes, H, W, Ho, Wo, x, y)) return;
  DeviceGuard guard(device);
  const PoolLaunch d = pool_launch_for(device, planes * Ho * Wo, planes * H * W);
  resize_forward_kernel<T><<<d.grid, d.block, 0, stream>>>(x, y, planes, H, W, Ho, Wo);
  EBM_CUDA_CHECK_LAUNCH();
}

template <class T>
void resize_bilinear2d_backward(const T* gy, T* dx, int64_t planes, int64_t H, int64_t W,
                                int64_t Ho, int64_t Wo, int device, StreamHandle stream) {
  const char* name = "resize_bilinear2d_backward (cuda)";
  if (!check_resize_args(name, planes, H, W, Ho, Wo, gy, dx)) return;
  DeviceGuard guard(device);
  const PoolLaunch d = pool_launch_for(device, planes * H * W, planes * Ho * Wo);
  resize_backward_kernel<T><<<d.grid, d.block, 0, stream>>>(gy, dx, planes, H, W, Ho, Wo);
  EBM_CUDA_CHECK_LAUNCH();
}

#define EBM_INSTANTIATE_RESIZE(T)                                                              \
  template void resize_bilinear2d_forward<T>(const T*, T*, int64_t, int64_t, int64_t, int64_t, \
                                             int64_t, int, StreamHandle);                      \
  template void resize_bilinear2d_backward<T>(const T*, T*, int64_t, int64_t, int64_t,         \
                                              int64_t, int64_t, int, StreamHandle);

EBM_INSTANTIATE_RESIZE(float)
EBM_INSTANTIATE_RESIZE(double)
#undef EBM_INSTANTIATE_RESIZE

}  // namespace ebm::cuda
