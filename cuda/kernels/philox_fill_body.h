// The per-thread bodies of the Philox fill kernels (cuda/kernels/philox_fill.cu), written as plain
// EBM_HD code so that tests/cpu/test_philox_fill_body.cpp can run them on the CPU by looping over
// the very grid the launcher uses: index arithmetic, partial first/last Philox blocks and the
// grid-stride loop are then tested in CI, and the GPU test only has to show the launch works.
// The numbers are those of core/philox.h (Philox4x32-10 in cuRAND's stream layout). Two families:
//  - raw fills (philox_fill_body): words, and float32 uniforms / normals a + b * x, one Philox
//    block per work unit (below);
//  - the op fills (group_fill_body, at the end): ops::fill_uniform_, fill_normal_ and
//    dropout_mask of core/ops/random.h, one group of four elements per work unit, each calling
//    the group functor the CPU loop calls, so GPU values equal CPU values bit for bit.
//
// Raw fills, work unit: one thread computes one Philox block (4 words) per loop turn and writes up
// to 4 consecutive elements. Element i of a uniform/word fill is word offset+i of the stream, so
// unit u covers words 4(q0+u) .. 4(q0+u)+3 with q0 = offset/4 and lead = offset%4 words before
// element 0. A normal pair (elements 2j, 2j+1) takes words offset+2j and offset+2j+1: with an even
// offset the pairs sit inside a block; with an odd offset unit u covers words 4(q0+u)+1 ..
// 4(q0+u)+4, so its last pair needs word 0 of the next block, which that thread computes too.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "core/common.h"
#include "core/ops/random.h"
#include "core/philox.h"

namespace ebm::cuda::kernels {

enum class PhiloxDist { Word, Uniform, Normal };

// What one fill writes: out[i] = x_i * b + a with two roundings (philox::uniform_scaled /
// normal_scaled, the maps the CPU fills use, never fused, so CPU and GPU round it identically),
// x_i the i-th uniform in (0, 1] or standard normal of (seed, offset); for Word, out[i] = the raw
// 32-bit word offset+i and a, b are unused.
struct PhiloxFillArgs {
  int64_t n = 0;
  uint64_t seed = 0;
  uint64_t offset = 0;
  float a = 0.0f;  // uniform: low, normal: mean
  float b = 1.0f;  // uniform: high - low, normal: standard deviation
};

// Units of work of a fill, and the first element a unit writes: element(u, j) = 4u + j - lead.
EBM_HD int64_t philox_fill_lead(PhiloxDist dist, uint64_t offset) {
  int64_t lead = static_cast<int64_t>(offset & 3u);
  if (dist == PhiloxDist::Normal) lead &= ~int64_t(1);  // odd offsets start units one word later
  return lead;
}
EBM_HD int64_t philox_fill_units(PhiloxDist dist, int64_t n, uint64_t offset) {
  return n <= 0 ? 0 : (n + philox_fill_lead(dist, offset) + 3) / 4;
}

struct PhiloxLaunchDims {
  int64_t units = 0;
  uint32_t grid = 0;   // blocks; 0 means nothing to launch
  uint32_t block = 0;  // threads per block
};

// The launch the launcher makes: kBlock threads per block, as many blocks as there are units up
// to max_blocks (a few waves of the device's SMs); the grid-stride loop does the rest.
constexpr uint32_t kPhiloxBlock = 256;
inline PhiloxLaunchDims philox_fill_dims(PhiloxDist dist, int64_t n, uint64_t offset,
                                         int64_t max_blocks) {
  PhiloxLaunchDims d;
  d.units = philox_fill_units(dist, n, offset);
  d.block = kPhiloxBlock;
  int64_t blocks = (d.units + kPhiloxBlock - 1) / kPhiloxBlock;
  if (blocks > max_blocks) blocks = max_blocks;
  d.grid = static_cast<uint32_t>(blocks);
  return d;
}

// Output through a raw pointer: one 16-byte store when four elements land on an aligned float4
// (always, for offset % 4 == 0 and an aligned buffer), scalar stores otherwise.
template <class T>
struct PtrOut {
  T* p;
  EBM_HD void put(int64_t i, T v) const { p[i] = v; }
  EBM_HD void put4(int64_t i, T v0, T v1, T v2, T v3) const {
#if defined(__CUDA_ARCH__)
    static_assert(sizeof(T) == 4, "put4 stores four 32-bit values");
    if ((reinterpret_cast<uintptr_t>(p + i) & 15u) == 0) {
      using V = typename std::conditional<std::is_same<T, float>::value, float4, uint4>::type;
      *reinterpret_cast<V*>(p + i) = V{v0, v1, v2, v3};
      return;
    }
#endif
    p[i] = v0;
    p[i + 1] = v1;
    p[i + 2] = v2;
    p[i + 3] = v3;
  }
};

// One thread's share of a fill. Out needs put(i, v) and put4(i, v0..v3) for element type
// float (Uniform, Normal) or uint32_t (Word).
template <PhiloxDist Dist, class Out>
EBM_HD void philox_fill_body(const PhiloxFillArgs& args, Out out, uint32_t block_idx,
                             uint32_t thread_idx, uint32_t grid_dim, uint32_t block_dim) {
  const int64_t n = args.n;
  const int64_t lead = philox_fill_lead(Dist, args.offset);
  const int64_t units = philox_fill_units(Dist, n, args.offset);
  const uint64_t q0 = args.offset >> 2;
  const int64_t stride = static_cast<int64_t>(grid_dim) * block_dim;
  for (int64_t u = static_cast<int64_t>(block_idx) * block_dim + thread_idx; u < units;
       u += stride) {
    const philox::U32x4 w = philox::block_at(args.seed, q0 + static_cast<uint64_t>(u));
    // The unit's four values, in element order.
    typename std::conditional<Dist == PhiloxDist::Word, uint32_t, float>::type v[4];
    if constexpr (Dist == PhiloxDist::Word) {
      for (int j = 0; j < 4; ++j) v[j] = w.v[j];
    } else if constexpr (Dist == PhiloxDist::Uniform) {
      for (int j = 0; j < 4; ++j) v[j] = philox::uniform_scaled<float>(w.v[j], args.a, args.b);
    } else {
      const bool odd = (args.offset & 1u) != 0;
      uint32_t w4 = 0;  // word 0 of the next block, for the straddling pair of an odd offset
      if (odd) w4 = philox::block_at(args.seed, q0 + static_cast<uint64_t>(u) + 1).v[0];
      float n0, n1, n2, n3;
      if (!odd) {
        philox::box_muller(w.v[0], w.v[1], n0, n1);
        philox::box_muller(w.v[2], w.v[3], n2, n3);
      } else {
        philox::box_muller(w.v[1], w.v[2], n0, n1);
        philox::box_muller(w.v[3], w4, n2, n3);
      }
      v[0] = philox::normal_scaled<float>(n0, args.a, args.b);
      v[1] = philox::normal_scaled<float>(n1, args.a, args.b);
      v[2] = philox::normal_scaled<float>(n2, args.a, args.b);
      v[3] = philox::normal_scaled<float>(n3, args.a, args.b);
    }
    const int64_t i0 = 4 * u - lead;  // element of v[0]; the first unit may start before 0
    if (i0 >= 0 && i0 + 4 <= n) {
      out.put4(i0, v[0], v[1], v[2], v[3]);
    } else {
      for (int j = 0; j < 4; ++j)
        if (i0 + j >= 0 && i0 + j < n) out.put(i0 + j, v[j]);
    }
  }
}

// ------------------------------------------------------------------------------------------------
// Op fills: ops::fill_uniform_, fill_normal_ and dropout_mask (core/ops/random.h) on the GPU.
// Work unit g is group g of the CPU loop, elements [4g, min(4g + 4, n)), written by the same group
// functor (uniform_group / normal_group / dropout_group), so every element gets the CPU's bits in
// float32 and float64, for any offset (odd ones included: the functor reads the stream words
// offset + 4g .. offset + 4g + 3, across a Philox block boundary when offset % 4 != 0).

enum class GroupFill { Uniform, Normal, Dropout };

// One op fill of n elements at out from the stream (seed, offset). a, b: uniform lo and span,
// normal mean and stddev, dropout b = the kept elements' scale; p: the dropout probability.
template <class T>
struct GroupFillArgs {
  T* out = nullptr;
  int64_t n = 0;
  uint64_t seed = 0;
  uint64_t offset = 0;
  T a = T(0);
  T b = T(1);
  double p = 0.0;
};

// Writes group g of the fill (the CPU loop's call).
template <GroupFill Kind, class T>
struct GroupFillOp {
  GroupFillArgs<T> args;
  EBM_HD void operator()(int64_t g) const {
    const GroupFillArgs<T>& a = args;
    if constexpr (Kind == GroupFill::Uniform)
      uniform_group<T>(a.out, a.n, g, a.seed, a.offset, a.a, a.b);
    else if constexpr (Kind == GroupFill::Normal)
      normal_group<T>(a.out, a.n, g, a.seed, a.offset, a.a, a.b);
    else
      dropout_group<T>(a.out, a.n, g, a.seed, a.offset, a.p, a.b);
  }
};

// The launch of an op fill: kPhiloxBlock threads per block, one group per thread up to
// max_blocks blocks; the grid-stride loop does the rest.
inline PhiloxLaunchDims group_fill_dims(int64_t n, int64_t max_blocks) {
  PhiloxLaunchDims d;
  d.units = n <= 0 ? 0 : random_groups(n);
  d.block = kPhiloxBlock;
  int64_t blocks = (d.units + kPhiloxBlock - 1) / kPhiloxBlock;
  if (blocks > max_blocks) blocks = max_blocks;
  d.grid = static_cast<uint32_t>(blocks);
  return d;
}

// One thread's share of an op fill of n elements: op(g) for its groups g, grid-stride. Op is a
// GroupFillOp (the kernel) or anything callable with a group index (the CPU test's counters).
template <class Op>
EBM_HD void group_fill_body(int64_t n, const Op& op, uint32_t block_idx, uint32_t thread_idx,
                            uint32_t grid_dim, uint32_t block_dim) {
  const int64_t groups = n <= 0 ? 0 : random_groups(n);
  const int64_t stride = static_cast<int64_t>(grid_dim) * block_dim;
  for (int64_t g = static_cast<int64_t>(block_idx) * block_dim + thread_idx; g < groups;
       g += stride)
    op(g);
}

}  // namespace ebm::cuda::kernels
