// The window arithmetic of avg_pool2d, written once as EBM_HD code for the CPU loops
// (core/cpu/conv.cpp) and the CUDA kernels (cuda/kernels/pool_body.h): which input pixels output
// (oh, ow) averages and what it divides by. PyTorch's rule (ATen AvgPool2d): the window starts at
// (oh·s − p, ow·s − p) and is k×k, cut at H + p / W + p (so it may cover padding but never
// reaches past the far padding); with count_include_pad the divisor is that cut window's area,
// else only the real pixels inside it.
#pragma once

#include <cstdint>

#include "core/common.h"

namespace ebm {

// One avg_pool2d problem over `planes` = N·C independent H×W planes (a plain struct, so it can
// be passed to a kernel by value).
struct PoolGeom {
  int64_t planes, H, W, Ho, Wo, k, s, p;
  bool include_pad;
};

struct PoolWindow {
  int64_t h0, h1, w0, w1;  // real pixels [h0, h1) x [w0, w1)
  int64_t div;             // the divisor of the sum
};

EBM_HD PoolWindow pool_window(const PoolGeom& g, int64_t oh, int64_t ow) {
  PoolWindow r;
  int64_t h0 = oh * g.s - g.p, w0 = ow * g.s - g.p;
  int64_t h1 = h0 + g.k < g.H + g.p ? h0 + g.k : g.H + g.p;
  int64_t w1 = w0 + g.k < g.W + g.p ? w0 + g.k : g.W + g.p;
  const int64_t padded = (h1 - h0) * (w1 - w0);
  r.h0 = h0 > 0 ? h0 : 0;
  r.w0 = w0 > 0 ? w0 : 0;
  r.h1 = h1 < g.H ? h1 : g.H;
  r.w1 = w1 < g.W ? w1 : g.W;
  r.div = g.include_pad ? padded : (r.h1 - r.h0) * (r.w1 - r.w0);
  return r;
}

// The outputs whose windows contain input row i: [lo, hi) of the n_out rows (the same formula
// serves columns). Window o covers rows [o·s − p, o·s − p + k) cut at H + p, and i < H <= H + p,
// so the cut never drops a real pixel: o·s − p <= i < o·s − p + k. I is the index type (the CUDA
// kernels use 32-bit indices when the sizes allow, where division is much cheaper).
template <class I>
EBM_HD void pool_outputs_covering(I i, I k, I s, I p, I n_out, I& lo, I& hi) {
  const I first = i + p - k + 1;  // smallest o·s allowed, before rounding up to a multiple of s
  lo = first <= 0 ? I(0) : (first + s - 1) / s;
  hi = (i + p) / s + 1;
  if (hi > n_out) hi = n_out;
  if (lo > hi) lo = hi;
}

}  // namespace ebm
