// The fused Langevin update kernel (core/ops/langevin.h: IGEBM, SGLD/M-EBM and DRL steps, and the
// noise-only step). The per-thread work is langevin_body (EBM_HD, built from the normals and
// element functions the CPU backend runs too, and run on the CPU by tests/cpu/test_langevin.cpp
// over this very launch grid); the kernel only adds 16-byte vector loads and stores where the
// buffers allow them. In a captured CUDA graph the body reads the noise's seed and base offset
// from args.philox_state (written before each replay). Kernels first, then the launchers.
#include <cuda_runtime.h>

#include <cstdint>

#include "core/common.h"
#include "core/ops/langevin.h"
#include "cuda/check.h"
#include "cuda/device.h"
#include "cuda/langevin.h"

namespace ebm::cuda {

namespace {

// LangevinPtrs with one 16-byte access per full group (the launcher picks this only when x, out,
// grad and x_tilde are 16-byte aligned, so every group's first element is). The gradient is read
// once per step and then dead, so it is loaded with the evict-first hint (ld.global.cs); x and
// x̃ are read again by the next forward / step and keep the default policy.
struct VecPtrs : LangevinPtrs<float> {
  explicit EBM_HD VecPtrs(const LangevinPtrs<float>& p) : LangevinPtrs<float>(p) {}
  EBM_HD void x4(int64_t i, float* v) const { unpack(*reinterpret_cast<const float4*>(x + i), v); }
  EBM_HD void grad4(int64_t i, float* v) const {
#if defined(__CUDA_ARCH__)
    unpack(__ldcs(reinterpret_cast<const float4*>(grad + i)), v);
#else
    unpack(*reinterpret_cast<const float4*>(grad + i), v);
#endif
  }
  EBM_HD void tilde4(int64_t i, float* v) const {
    unpack(*reinterpret_cast<const float4*>(x_tilde + i), v);
  }
  EBM_HD void put4(int64_t i, const float* v) const {
    *reinterpret_cast<float4*>(out + i) = make_float4(v[0], v[1], v[2], v[3]);
  }
  static EBM_HD void unpack(const float4& q, float* v) {
    v[0] = q.x;
    v[1] = q.y;
    v[2] = q.z;
    v[3] = q.w;
  }
};

// Captured: the noise's (seed, offset) comes from args.philox_state (a graph's, see cuda/graph.h).
template <LangevinMode M, bool Noise, bool Vec, bool Captured>
__global__ void __launch_bounds__(kLangevinBlock)
    langevin_kernel(LangevinArgs<float> args, LangevinPtrs<float> ptrs) {
  if constexpr (Captured) {
    if constexpr (Vec)
      langevin_body_captured<M, Noise, float>(args, VecPtrs(ptrs), blockIdx.x, threadIdx.x,
                                              gridDim.x, blockDim.x);
    else
      langevin_body_captured<M, Noise, float>(args, ptrs, blockIdx.x, threadIdx.x, gridDim.x,
                                              blockDim.x);
  } else if constexpr (Vec) {
    langevin_body<M, Noise, float>(args, VecPtrs(ptrs), blockIdx.x, threadIdx.x, gridDim.x,
                                   blockDim.x);
  } else {
    langevin_body<M, Noise, float>(args, ptrs, blockIdx.x, threadIdx.x, gridDim.x, blockDim.x);
  }
}

// ------------------------------------------------------------------------------------------------
// launchers

// Enough blocks for a few waves of resident blocks on every SM; the grid-stride loop covers the
// rest (as the Philox fills).
constexpr int kWavesPerSm = 8;

constexpr const char* kName = "cuda::langevin_step";

void check_pointer(const void* p, size_t align, const char* what) {
  EBM_CHECK(p != nullptr, ValueError, kName, ": null ", what, " pointer");
  EBM_CHECK(reinterpret_cast<uintptr_t>(p) % align == 0, ValueError, kName, ": ", what,
            " pointer ", p, " is not ", align, "-byte aligned");
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

template <LangevinMode M, bool Noise>
void launch(const LangevinLaunchDims& d, bool vec, const LangevinArgs<float>& a,
            const LangevinPtrs<float>& p, StreamHandle stream) {
  // Only draws need the graph's state; without noise the captured kernel would be the eager one.
  if (Noise && a.philox_state) {
    if (vec)
      langevin_kernel<M, Noise, true, Noise><<<d.grid, d.block, 0, stream>>>(a, p);
    else
      langevin_kernel<M, Noise, false, Noise><<<d.grid, d.block, 0, stream>>>(a, p);
  } else if (vec) {
    langevin_kernel<M, Noise, true, false><<<d.grid, d.block, 0, stream>>>(a, p);
  } else {
    langevin_kernel<M, Noise, false, false><<<d.grid, d.block, 0, stream>>>(a, p);
  }
  EBM_CUDA_CHECK_LAUNCH();
}

}  // namespace

LangevinLaunchDims langevin_launch_dims_for(int device, int64_t n) {
  const int64_t max_blocks = static_cast<int64_t>(multiprocessor_count(device)) * kWavesPerSm;
  return langevin_launch_dims(n, max_blocks);
}

void langevin_step(LangevinMode mode, bool add_noise, const LangevinArgs<float>& a,
                   const LangevinPtrs<float>& p, StreamHandle stream) {
  EBM_CHECK(a.n >= 0, ValueError, kName, ": negative element count ", a.n);
  if (a.n == 0) return;
  check_pointer(p.x, alignof(float), "x");
  check_pointer(p.out, alignof(float), "out");
  const bool reads_grad = mode != LangevinMode::Noise, is_drl = mode == LangevinMode::Drl;
  if (reads_grad) check_pointer(p.grad, alignof(float), "grad");
  if (is_drl) {
    check_pointer(p.x_tilde, alignof(float), "x_tilde");
    check_pointer(p.level, alignof(int64_t), "level");
    check_pointer(p.table, alignof(float), "table");
    EBM_CHECK(a.per_sample >= 1 && a.levels >= 1, ValueError, kName,
              ": drl needs per_sample >= 1 and levels >= 1, got ", a.per_sample, " and ", a.levels);
  }
  // A captured graph's {seed, base offset} (read by the kernel only when it draws noise).
  if (a.philox_state) check_pointer(a.philox_state, alignof(uint64_t), "philox_state");
  const bool vec = aligned16(p.x) && aligned16(p.out) && (!reads_grad || aligned16(p.grad)) &&
                   (!is_drl || aligned16(p.x_tilde));
  const LangevinLaunchDims d = langevin_launch_dims_for(current_device(), a.n);
  switch (mode) {
#define EBM_CASE(MODE)                                                                    \
  case LangevinMode::MODE:                                                                \
    return add_noise ? launch<LangevinMode::MODE, true>(d, vec, a, p, stream)             \
                     : launch<LangevinMode::MODE, false>(d, vec, a, p, stream);
    EBM_CASE(Noise) EBM_CASE(Igebm) EBM_CASE(Sgld) EBM_CASE(Drl)
#undef EBM_CASE
  }
}

}  // namespace ebm::cuda
