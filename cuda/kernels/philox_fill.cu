// Philox fill kernels: words, uniforms and normals of the core/philox.h stream written to device
// memory (raw float32 fills), and the op fills of core/ops/random.h (ops::fill_uniform_,
// fill_normal_, dropout_mask in float32 and float64). The per-thread arithmetic is
// philox_fill_body.h (shared with the CPU test; the op fills call the CPU loop's group
// functors); the kernels only pass in their coordinates. Kernels first, then the launchers.
#include <cstdint>

#include "core/common.h"
#include "cuda/check.h"
#include "cuda/device.h"
#include "cuda/kernels/philox_fill_body.h"
#include "cuda/philox_fill.h"

namespace ebm::cuda {

using kernels::PhiloxDist;
using kernels::PhiloxFillArgs;

namespace {

template <PhiloxDist Dist, class T>
__global__ void __launch_bounds__(kernels::kPhiloxBlock)
    philox_fill_kernel(PhiloxFillArgs args, T* out) {
  kernels::philox_fill_body<Dist>(args, kernels::PtrOut<T>{out}, blockIdx.x, threadIdx.x,
                                  gridDim.x, blockDim.x);
}

template <kernels::GroupFill Kind, class T>
__global__ void __launch_bounds__(kernels::kPhiloxBlock)
    group_fill_kernel(kernels::GroupFillArgs<T> args) {
  kernels::group_fill_body(args.n, kernels::GroupFillOp<Kind, T>{args}, blockIdx.x, threadIdx.x,
                           gridDim.x, blockDim.x);
}

// ------------------------------------------------------------------------------------------------
// launchers

// Enough blocks for a few waves of resident blocks on every SM; the grid-stride loop covers the
// rest, so huge fills launch a bounded grid.
constexpr int kWavesPerSm = 8;

template <PhiloxDist Dist, class T>
void launch(const char* name, T* out, int64_t n, PhiloxFillArgs args, StreamHandle stream) {
  EBM_CHECK(n >= 0, ValueError, name, ": negative element count ", n);
  if (n == 0) return;
  EBM_CHECK(out != nullptr, ValueError, name, ": null output pointer for ", n, " elements");
  EBM_CHECK(reinterpret_cast<uintptr_t>(out) % alignof(T) == 0, ValueError, name,
            ": output pointer ", static_cast<const void*>(out), " is not ", alignof(T),
            "-byte aligned");
  args.n = n;
  if (device_count() == 0) check_device(0);  // DeviceError with the reason
  const int64_t max_blocks =
      static_cast<int64_t>(multiprocessor_count(current_device())) * kWavesPerSm;
  const kernels::PhiloxLaunchDims d = kernels::philox_fill_dims(Dist, n, args.offset, max_blocks);
  philox_fill_kernel<Dist, T><<<d.grid, d.block, 0, stream>>>(args, out);
  EBM_CUDA_CHECK_LAUNCH();
}

// The op fills: checks, then one thread per group of four on a capped grid.
template <kernels::GroupFill Kind, class T>
void launch_group_fill(const char* name, const kernels::GroupFillArgs<T>& args,
                       StreamHandle stream) {
  EBM_CHECK(args.n >= 0, ValueError, name, ": negative element count ", args.n);
  if (args.n == 0) return;
  EBM_CHECK(args.out != nullptr, ValueError, name, ": null output pointer for ", args.n,
            " elements");
  EBM_CHECK(reinterpret_cast<uintptr_t>(args.out) % alignof(T) == 0, ValueError, name,
            ": output pointer ", static_cast<const void*>(args.out), " is not ", alignof(T),
            "-byte aligned");
  if (device_count() == 0) check_device(0);  // DeviceError with the reason
  const int64_t max_blocks =
      static_cast<int64_t>(multiprocessor_count(current_device())) * kWavesPerSm;
  const kernels::PhiloxLaunchDims d = kernels::group_fill_dims(args.n, max_blocks);
  group_fill_kernel<Kind, T><<<d.grid, d.block, 0, stream>>>(args);
  EBM_CUDA_CHECK_LAUNCH();
}

template <class T>
kernels::GroupFillArgs<T> group_args(T* out, int64_t n, uint64_t seed, uint64_t offset, T a, T b,
                                     double p) {
  kernels::GroupFillArgs<T> args;
  args.out = out;
  args.n = n;
  args.seed = seed;
  args.offset = offset;
  args.a = a;
  args.b = b;
  args.p = p;
  return args;
}

}  // namespace

void fill_uniform(float* out, int64_t n, uint64_t seed, uint64_t offset, float lo, float span,
                  StreamHandle stream) {
  launch_group_fill<kernels::GroupFill::Uniform>(
      "cuda::fill_uniform", group_args(out, n, seed, offset, lo, span, 0.0), stream);
}
void fill_uniform(double* out, int64_t n, uint64_t seed, uint64_t offset, double lo, double span,
                  StreamHandle stream) {
  launch_group_fill<kernels::GroupFill::Uniform>(
      "cuda::fill_uniform", group_args(out, n, seed, offset, lo, span, 0.0), stream);
}

void fill_normal(float* out, int64_t n, uint64_t seed, uint64_t offset, float mean, float stddev,
                 StreamHandle stream) {
  launch_group_fill<kernels::GroupFill::Normal>(
      "cuda::fill_normal", group_args(out, n, seed, offset, mean, stddev, 0.0), stream);
}
void fill_normal(double* out, int64_t n, uint64_t seed, uint64_t offset, double mean,
                 double stddev, StreamHandle stream) {
  launch_group_fill<kernels::GroupFill::Normal>(
      "cuda::fill_normal", group_args(out, n, seed, offset, mean, stddev, 0.0), stream);
}

void fill_dropout_mask(float* out, int64_t n, uint64_t seed, uint64_t offset, double p,
                       float scale, StreamHandle stream) {
  launch_group_fill<kernels::GroupFill::Dropout>(
      "cuda::fill_dropout_mask", group_args(out, n, seed, offset, 0.0f, scale, p), stream);
}
void fill_dropout_mask(double* out, int64_t n, uint64_t seed, uint64_t offset, double p,
                       double scale, StreamHandle stream) {
  launch_group_fill<kernels::GroupFill::Dropout>(
      "cuda::fill_dropout_mask", group_args(out, n, seed, offset, 0.0, scale, p), stream);
}

void philox_fill_words(uint32_t* out, int64_t n, uint64_t seed, uint64_t offset,
                       StreamHandle stream) {
  PhiloxFillArgs args;
  args.seed = seed;
  args.offset = offset;
  launch<PhiloxDist::Word>("philox_fill_words", out, n, args, stream);
}

void philox_fill_uniform(float* out, int64_t n, uint64_t seed, uint64_t offset, float low,
                         float high, StreamHandle stream) {
  PhiloxFillArgs args;
  args.seed = seed;
  args.offset = offset;
  args.a = low;
  args.b = high - low;
  launch<PhiloxDist::Uniform>("philox_fill_uniform", out, n, args, stream);
}

void philox_fill_normal(float* out, int64_t n, uint64_t seed, uint64_t offset, float mean,
                        float std, StreamHandle stream) {
  PhiloxFillArgs args;
  args.seed = seed;
  args.offset = offset;
  args.a = mean;
  args.b = std;
  launch<PhiloxDist::Normal>("philox_fill_normal", out, n, args, stream);
}

}  // namespace ebm::cuda
