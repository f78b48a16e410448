// The spatial kernels' per-thread bodies (cuda/kernels/pool_body.h), run on the CPU over the exact
// grids the launchers use (pool_launch_dims with an H100's 1056-block cap, and tiny caps that
// make the grid-stride loop wrap): outputs poisoned with NaN first, every element written exactly
// once and nothing out of range, and the values equal to the CPU ops bit for bit (the bodies
// sum in the CPU loops' order; see pool_body.h). Needs no GPU and no CUDA toolkit.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernel_test_util.h"
#include "core/ops/conv.h"
#include "core/ops/pool_window.h"
#include "cuda/kernels/pool_body.h"
#include "test_util.h"

namespace ebm {
namespace {

namespace k = cuda::kernels;
using test::randn;

using test::CountingOut;

// 1: one block strides over everything; 3: a ragged wrap; 1056: 132 SMs x 8 waves (H100).
const int64_t kMaxBlocks[] = {1, 3, 1056};

// Runs body(sink, block, thread, grid, block_dim) over the launch of n outputs with the given
// block cap, into a NaN-poisoned buffer; checks the write counts and returns the buffer.
template <class T, class Body>
std::vector<T> run_grid(int64_t n, int64_t max_blocks, Body&& body) {
  std::vector<T> out(static_cast<size_t>(n), std::numeric_limits<T>::quiet_NaN());
  std::vector<int> count(static_cast<size_t>(n), 0);
  int out_of_range = 0;
  const k::PoolLaunchDims d = k::pool_launch_dims(n, max_blocks);
  EXPECT_LE(static_cast<int64_t>(d.grid), max_blocks);
  EXPECT_EQ(d.grid == 0, n == 0);
  EXPECT_EQ(d.block, k::kPoolBlock);
  CountingOut<T> sink{out.data(), count.data(), n, &out_of_range};
  for (uint32_t b = 0; b < d.grid; ++b)
    for (uint32_t t = 0; t < d.block; ++t) body(sink, b, t, d.grid, d.block);
  EXPECT_EQ(out_of_range, 0);
  int64_t wrong = 0, first = -1;
  for (int64_t i = 0; i < n; ++i)
    if (count[static_cast<size_t>(i)] != 1 && wrong++ == 0) first = i;
  EXPECT_EQ(wrong, 0) << "outputs not written exactly once; first is " << first;
  return out;
}

using test::expect_bitwise_equal;

struct PoolCase {
  Shape x;
  int k, s, p;
  bool include_pad;
};
// As tests/cpu/test_conv.cpp, plus stride > kernel and a plane count that is not a multiple of
// the block.
const PoolCase kPoolCases[] = {
    {{2, 3, 8, 8}, 2, 2, 0, true},   {{2, 3, 7, 9}, 2, 2, 0, true},
    {{1, 2, 7, 7}, 3, 2, 1, true},   {{1, 2, 7, 7}, 3, 2, 1, false},
    {{2, 2, 6, 5}, 3, 1, 1, false},  {{3, 4, 5, 6}, 2, 1, 0, true},
    {{2, 1, 6, 6}, 4, 3, 2, true},   {{2, 1, 6, 6}, 4, 3, 2, false},
    {{1, 3, 9, 9}, 2, 3, 0, true},   {{3, 5, 11, 13}, 3, 2, 1, false},
    {{32, 16, 16, 16}, 2, 2, 0, true},
};

PoolGeom geom_of(const PoolCase& c) {
  const int64_t ho = (c.x[2] + 2 * c.p - c.k) / c.s + 1, wo = (c.x[3] + 2 * c.p - c.k) / c.s + 1;
  return PoolGeom{c.x[0] * c.x[1], c.x[2], c.x[3], ho, wo, c.k, c.s, c.p, c.include_pad};
}

template <class T, class Index>
void check_avg_pool(const PoolCase& c) {
  const DType dt = dtype_of<T>::value;
  const PoolGeom g = geom_of(c);
  Tensor x = randn(c.x, dt), gy = randn({c.x[0], c.x[1], g.Ho, g.Wo}, dt);
  Tensor y_cpu = ops::avg_pool2d(x, c.k, c.s, c.p, c.include_pad);
  Tensor dx_cpu = ops::avg_pool2d_backward(gy, c.x, c.k, c.s, c.p, c.include_pad);
  const T* xp = x.data<T>();
  const T* gp = gy.data<T>();
  for (int64_t mb : kMaxBlocks) {
    SCOPED_TRACE(str("max_blocks ", mb));
    expect_bitwise_equal(run_grid<T>(g.planes * g.Ho * g.Wo, mb,
                                     [&](const CountingOut<T>& out, uint32_t b, uint32_t t,
                                         uint32_t grid, uint32_t bd) {
                                       k::avg_pool_forward_body<Index>(g, xp, out, b, t, grid, bd);
                                     }),
                         y_cpu);
    expect_bitwise_equal(run_grid<T>(g.planes * g.H * g.W, mb,
                                     [&](const CountingOut<T>& out, uint32_t b, uint32_t t,
                                         uint32_t grid, uint32_t bd) {
                                       k::avg_pool_backward_body<Index>(g, gp, out, b, t, grid, bd);
                                     }),
                         dx_cpu);
  }
}

TEST(PoolBody, AvgPoolForwardAndBackwardEqualCpuOps) {
  for (const PoolCase& c : kPoolCases) {
    SCOPED_TRACE(str(c.x, " k", c.k, " s", c.s, " p", c.p, " cip", c.include_pad));
    check_avg_pool<float, int32_t>(c);
    check_avg_pool<float, int64_t>(c);
    check_avg_pool<double, int32_t>(c);
    check_avg_pool<double, int64_t>(c);
  }
}

TEST(PoolBody, OutputsCoveringAnInputMatchTheWindows) {
  // pool_outputs_covering (the backward's gather range) against the forward's windows by brute
  // force: output o covers input i exactly when i lies in o's clipped window.
  for (int64_t k : {1, 2, 3, 4, 5})
    for (int64_t s : {1, 2, 3, 4})
      for (int64_t p = 0; 2 * p <= k; ++p)
        for (int64_t H : {1, 2, 5, 8, 9}) {
          if (H + 2 * p < k) continue;
          const int64_t Ho = (H + 2 * p - k) / s + 1;
          const PoolGeom g{1, H, H, Ho, Ho, k, s, p, true};
          for (int64_t i = 0; i < H; ++i) {
            int64_t lo, hi;
            pool_outputs_covering(i, k, s, p, Ho, lo, hi);
            for (int64_t o = 0; o < Ho; ++o) {
              const PoolWindow win = pool_window(g, o, 0);
              const bool covers = win.h0 <= i && i < win.h1;
              EXPECT_EQ(covers, lo <= o && o < hi)
                  << "k" << k << " s" << s << " p" << p << " H" << H << " i" << i << " o" << o;
            }
          }
        }
}

template <class T, class Index>
void check_upsample(const Shape& s, int scale) {
  const DType dt = dtype_of<T>::value;
  const int64_t planes = s[0] * s[1];
  Tensor x = randn(s, dt), gy = randn({s[0], s[1], s[2] * scale, s[3] * scale}, dt);
  Tensor y_cpu = ops::upsample_nearest2d(x, scale);
  Tensor dx_cpu = ops::upsample_nearest2d_backward(gy, scale);
  const T* xp = x.data<T>();
  const T* gp = gy.data<T>();
  for (int64_t mb : kMaxBlocks) {
    SCOPED_TRACE(str("max_blocks ", mb));
    expect_bitwise_equal(run_grid<T>(y_cpu.numel(), mb,
                                     [&](const CountingOut<T>& out, uint32_t b, uint32_t t,
                                         uint32_t grid, uint32_t bd) {
                                       k::upsample_forward_body<Index>(xp, out, planes, s[2], s[3],
                                                                   scale, b, t, grid, bd);
                                     }),
                         y_cpu);
    expect_bitwise_equal(run_grid<T>(dx_cpu.numel(), mb,
                                     [&](const CountingOut<T>& out, uint32_t b, uint32_t t,
                                         uint32_t grid, uint32_t bd) {
                                       k::upsample_backward_body<Index>(gp, out, planes, s[2], s[3],
                                                                    scale, b, t, grid, bd);
                                     }),
                         dx_cpu);
  }
}

TEST(PoolBody, UpsampleForwardAndBackwardEqualCpuOps) {
  for (int scale : {1, 2, 3})
    for (Shape s : {Shape{1, 1, 2, 3}, Shape{2, 3, 5, 4}, Shape{16, 16, 16, 16}}) {
      SCOPED_TRACE(str(s, " scale ", scale));
      check_upsample<float, int32_t>(s, scale);
      check_upsample<float, int64_t>(s, scale);
      check_upsample<double, int32_t>(s, scale);
      check_upsample<double, int64_t>(s, scale);
    }
}

TEST(PoolBody, ChannelBiasAddsPerChannel) {
  // [outer, channels, inner]: conv-like (inner = H·W) and linear-like (inner = 1) layouts.
  struct Case { int64_t outer, channels, inner; };
  for (Case c : {Case{3, 5, 7}, Case{1, 1, 1}, Case{17, 33, 1}, Case{4, 64, 32 * 32}}) {
    SCOPED_TRACE(str(c.outer, "x", c.channels, "x", c.inner));
    const int64_t n = c.outer * c.channels * c.inner;
    Tensor y = randn({n}, DType::Float32), b = randn({c.channels}, DType::Float32);
    const float* yp = y.data<float>();
    const float* bp = b.data<float>();
    std::vector<float> ref(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) ref[i] = yp[i] + bp[(i / c.inner) % c.channels];
    for (int64_t mb : kMaxBlocks) {
      expect_bitwise_equal(run_grid<float>(n, mb,
                                           [&](const CountingOut<float>& out, uint32_t bi,
                                               uint32_t t, uint32_t grid, uint32_t bd) {
                                             k::add_channel_bias_body<int32_t>(
                                                 yp, bp, out, c.outer, c.channels, c.inner, bi,
                                                 t, grid, bd);
                                           }),
                           Tensor::from_vector(ref, {n}));
      expect_bitwise_equal(run_grid<float>(n, mb,
                                           [&](const CountingOut<float>& out, uint32_t bi,
                                               uint32_t t, uint32_t grid, uint32_t bd) {
                                             k::add_channel_bias_body<int64_t>(
                                                 yp, bp, out, c.outer, c.channels, c.inner, bi,
                                                 t, grid, bd);
                                           }),
                           Tensor::from_vector(ref, {n}));
    }
  }
}

TEST(PoolBody, LaunchDimensions) {
  EXPECT_EQ(k::pool_launch_dims(0, 1056).grid, 0u);
  EXPECT_EQ(k::pool_launch_dims(1, 1056).grid, 1u);
  EXPECT_EQ(k::pool_launch_dims(256, 1056).grid, 1u);
  EXPECT_EQ(k::pool_launch_dims(257, 1056).grid, 2u);
  EXPECT_EQ(k::pool_launch_dims(int64_t(1) << 40, 1056).grid, 1056u);  // capped; loop strides
  // 32-bit indices only while the last index plus one grid stride fits int32.
  const k::PoolLaunchDims d = k::pool_launch_dims(int64_t(1) << 30, 1056);
  EXPECT_TRUE(k::pool_fits_int32(int64_t(1) << 30, d));
  EXPECT_TRUE(k::pool_fits_int32((int64_t(1) << 31) - 1 - 1056 * 256 - 1, d));
  EXPECT_FALSE(k::pool_fits_int32((int64_t(1) << 31) - 1 - 1056 * 256, d));
  EXPECT_FALSE(k::pool_fits_int32(int64_t(1) << 31, d));
}

}  // namespace
}  // namespace ebm
