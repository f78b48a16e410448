// Philox fill kernels: words, uniforms and normals of the core/philox.h stream written to device
// memory. The per-thread arithmetic is philox_fill_body.h (shared with the CPU test); the kernels
// only pass in their coordinates. Kernels first, then the launchers.
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
  const int64_t max_blocks =
      static_cast<int64_t>(multiprocessor_count(current_device())) * kWavesPerSm;
  const kernels::PhiloxLaunchDims d = kernels::philox_fill_dims(Dist, n, args.offset, max_blocks);
  philox_fill_kernel<Dist, T><<<d.grid, d.block, 0, stream>>>(args, out);
  EBM_CUDA_CHECK_LAUNCH();
}

}  // namespace

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
