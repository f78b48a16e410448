// Per-thread bodies of the spatial kernels (cuda/kernels/pool.cu): avg_pool2d and its backward,
// max_pool2d and its backward, nearest upsampling and its backward, and the per-channel bias add
// of conv2d and linear. Plain
// EBM_HD code, so tests/cpu/test_pool_body.cpp runs them on the CPU over the very grid the
// launchers use (index arithmetic, grid-stride wrap, every output written once) and the GPU
// test only has to show that launches and memory handling work.
//
// Every kernel gives one thread one *output* element and gathers what it needs, so nothing is
// scattered and nothing needs atomics: results are deterministic, and each sum runs in the same
// order as the CPU loops of core/cpu/conv.cpp, which makes them equal to the CPU bit for bit
// (pure adds and one IEEE division, nothing the compiler may contract into an FMA):
//   avg_pool forward: the window's pixels row by row, then / div (as the CPU);
//   avg_pool backward: input pixel (ih, iw) gets gy[oh, ow] / div(oh, ow) from the windows
//     covering it in (oh, ow) order, which is the order the CPU's scatter visits them;
//   upsample backward: the scale x scale block row by row (as the CPU);
//   max_pool forward / backward: the per-element functions of core/ops/max_pool.h, which the
//     CPU loops of core/cpu/pool.cpp call too (the backward gathers per input pixel).
// Index arithmetic is 32-bit when the sizes allow (pool_fits_int32) and 64-bit otherwise; the
// CPU test runs both.
#pragma once

#include <cstdint>

#include "core/common.h"
#include "core/ops/max_pool.h"
#include "core/ops/pool_window.h"

namespace ebm::cuda::kernels {

// Output through a raw device (or host) pointer. Tests substitute a sink that counts writes.
template <class T>
struct PlainOut {
  T* p;
  EBM_HD void put(int64_t i, T v) const { p[i] = v; }
};

// Launch shape shared by all spatial kernels: kPoolBlock threads per block, one output element
// per thread and turn, at most max_blocks blocks (a few waves per SM); the grid-stride loop
// covers the rest.
constexpr uint32_t kPoolBlock = 256;

struct PoolLaunchDims {
  uint32_t grid = 0;  // 0: nothing to launch
  uint32_t block = 0;
};

inline PoolLaunchDims pool_launch_dims(int64_t n, int64_t max_blocks) {
  PoolLaunchDims d;
  d.block = kPoolBlock;
  int64_t blocks = n <= 0 ? 0 : (n + kPoolBlock - 1) / kPoolBlock;
  if (blocks > max_blocks) blocks = max_blocks;
  d.grid = static_cast<uint32_t>(blocks);
  return d;
}

// Whether 32-bit indices are safe for a launch: every index a thread forms stays below n_max (the
// larger of the input and output element counts) plus one grid stride, which must fit int32.
inline bool pool_fits_int32(int64_t n_max, const PoolLaunchDims& d) {
  return n_max + static_cast<int64_t>(d.grid) * d.block < (int64_t(1) << 31) - 1;
}

// The elements [first, n) this thread handles, in steps of the whole grid.
template <class Index>
struct GridStride {
  Index first, step;
  EBM_HD GridStride(uint32_t block_idx, uint32_t thread_idx, uint32_t grid_dim, uint32_t block_dim)
      : first(static_cast<Index>(block_idx) * static_cast<Index>(block_dim) +
              static_cast<Index>(thread_idx)),
        step(static_cast<Index>(grid_dim) * static_cast<Index>(block_dim)) {}
};

// Index (int32_t or int64_t, chosen by the launcher with pool_fits_int32) is the type of the
// per-element index arithmetic; 64-bit division costs several times a 32-bit one on the GPU.
// The window arithmetic of pool_window stays 64-bit (multiplies and compares only).

// y [planes, Ho, Wo] = window means of x [planes, H, W].
template <class Index, class T, class Out>
EBM_HD void avg_pool_forward_body(const PoolGeom& g, const T* x, Out y, uint32_t block_idx,
                                  uint32_t thread_idx, uint32_t grid_dim, uint32_t block_dim) {
  const GridStride<Index> gs(block_idx, thread_idx, grid_dim, block_dim);
  const Index Ho = static_cast<Index>(g.Ho), Wo = static_cast<Index>(g.Wo);
  const Index n = static_cast<Index>(g.planes) * Ho * Wo;
  for (Index i = gs.first; i < n; i += gs.step) {
    const Index ow = i % Wo, rest = i / Wo, oh = rest % Ho, pl = rest / Ho;
    const PoolWindow win = pool_window(g, oh, ow);
    const T* xp = x + static_cast<int64_t>(pl) * g.H * g.W;
    T acc = 0;
    for (int64_t ih = win.h0; ih < win.h1; ++ih)
      for (int64_t iw = win.w0; iw < win.w1; ++iw) acc += xp[ih * g.W + iw];
    y.put(i, acc / T(win.div));
  }
}

// dx [planes, H, W] from gy [planes, Ho, Wo]: the adjoint of the forward (gathered per input).
template <class Index, class T, class Out>
EBM_HD void avg_pool_backward_body(const PoolGeom& g, const T* gy, Out dx, uint32_t block_idx,
                                   uint32_t thread_idx, uint32_t grid_dim, uint32_t block_dim) {
  const GridStride<Index> gs(block_idx, thread_idx, grid_dim, block_dim);
  const Index H = static_cast<Index>(g.H), W = static_cast<Index>(g.W);
  const Index k = static_cast<Index>(g.k), s = static_cast<Index>(g.s), p = static_cast<Index>(g.p);
  const Index n = static_cast<Index>(g.planes) * H * W;
  for (Index i = gs.first; i < n; i += gs.step) {
    const Index iw = i % W, rest = i / W, ih = rest % H, pl = rest / H;
    Index oh0, oh1, ow0, ow1;
    pool_outputs_covering<Index>(ih, k, s, p, static_cast<Index>(g.Ho), oh0, oh1);
    pool_outputs_covering<Index>(iw, k, s, p, static_cast<Index>(g.Wo), ow0, ow1);
    const T* gp = gy + static_cast<int64_t>(pl) * g.Ho * g.Wo;
    T acc = 0;
    for (Index oh = oh0; oh < oh1; ++oh)
      for (Index ow = ow0; ow < ow1; ++ow)
        acc += gp[static_cast<int64_t>(oh) * g.Wo + ow] / T(pool_window(g, oh, ow).div);
    dx.put(i, acc);
  }
}

// y [planes, Ho, Wo] = window maxima of x [planes, H, W] (64-bit indices: max pooling is a small
// part of the FID Inception's time).
template <class T, class Out>
EBM_HD void max_pool_forward_body(const PoolGeom& g, const T* x, Out y, uint32_t block_idx,
                                  uint32_t thread_idx, uint32_t grid_dim, uint32_t block_dim) {
  const GridStride<int64_t> gs(block_idx, thread_idx, grid_dim, block_dim);
  const int64_t n = g.planes * g.Ho * g.Wo;
  for (int64_t i = gs.first; i < n; i += gs.step) {
    const int64_t ow = i % g.Wo, rest = i / g.Wo, oh = rest % g.Ho, pl = rest / g.Ho;
    T v;
    max_pool_argmax(g, x + pl * g.H * g.W, oh, ow, v);
    y.put(i, v);
  }
}

// dx [planes, H, W]: gy [planes, Ho, Wo] routed to the argmax of x's windows, gathered per input.
template <class T, class Out>
EBM_HD void max_pool_backward_body(const PoolGeom& g, const T* gy, const T* x, Out dx,
                                   uint32_t block_idx, uint32_t thread_idx, uint32_t grid_dim,
                                   uint32_t block_dim) {
  const GridStride<int64_t> gs(block_idx, thread_idx, grid_dim, block_dim);
  const int64_t n = g.planes * g.H * g.W;
  for (int64_t i = gs.first; i < n; i += gs.step) {
    const int64_t iw = i % g.W, rest = i / g.W, ih = rest % g.H, pl = rest / g.H;
    dx.put(i, max_pool_input_grad(g, x + pl * g.H * g.W, gy + pl * g.Ho * g.Wo, ih, iw));
  }
}

// y [planes, H·s, W·s] = x [planes, H, W] repeated in s x s blocks.
template <class Index, class T, class Out>
EBM_HD void upsample_forward_body(const T* x, Out y, int64_t planes, int64_t H, int64_t W,
                                  int64_t s, uint32_t block_idx, uint32_t thread_idx,
                                  uint32_t grid_dim, uint32_t block_dim) {
  const GridStride<Index> gs(block_idx, thread_idx, grid_dim, block_dim);
  const Index si = static_cast<Index>(s), Wi = static_cast<Index>(W), Hi = static_cast<Index>(H);
  const Index Wo = Wi * si, n = static_cast<Index>(planes) * Hi * si * Wo;
  for (Index i = gs.first; i < n; i += gs.step) {
    const Index oj = i % Wo, row = i / Wo;  // row = pl·H·s + oi, and (pl·H·s + oi) / s = pl·H + oi / s
    y.put(i, x[static_cast<int64_t>(row / si) * W + oj / si]);
  }
}

// dx [planes, H, W] = sums of the s x s blocks of gy [planes, H·s, W·s].
template <class Index, class T, class Out>
EBM_HD void upsample_backward_body(const T* gy, Out dx, int64_t planes, int64_t H, int64_t W,
                                   int64_t s, uint32_t block_idx, uint32_t thread_idx,
                                   uint32_t grid_dim, uint32_t block_dim) {
  const GridStride<Index> gs(block_idx, thread_idx, grid_dim, block_dim);
  const Index Wi = static_cast<Index>(W), n = static_cast<Index>(planes * H) * Wi;
  const int64_t Wo = W * s;
  for (Index i = gs.first; i < n; i += gs.step) {
    const Index j = i % Wi, row = i / Wi;  // row = pl·H + ih
    const T* rows = gy + static_cast<int64_t>(row) * s * Wo + static_cast<int64_t>(j) * s;
    T acc = 0;
    for (int64_t r = 0; r < s; ++r)
      for (int64_t c = 0; c < s; ++c) acc += rows[r * Wo + c];
    dx.put(i, acc);
  }
}

// y [outer, channels, inner] = y_in + b[channel]: the bias of conv2d (outer N, inner Ho·Wo) and
// of linear (outer batch, inner 1). y_in may be the memory Out writes (in place).
template <class Index, class T, class Out>
EBM_HD void add_channel_bias_body(const T* y_in, const T* b, Out y, int64_t outer,
                                  int64_t channels, int64_t inner, uint32_t block_idx,
                                  uint32_t thread_idx, uint32_t grid_dim, uint32_t block_dim) {
  const GridStride<Index> gs(block_idx, thread_idx, grid_dim, block_dim);
  const Index c = static_cast<Index>(channels), in = static_cast<Index>(inner);
  const Index n = static_cast<Index>(outer) * c * in;
  for (Index i = gs.first; i < n; i += gs.step) y.put(i, y_in[i] + b[(i / in) % c]);
}

}  // namespace ebm::cuda::kernels
