// The geometry of a broadcasting binary op, shared by the CPU loop (core/cpu/elementwise.cpp) and
// the CUDA kernels (cuda/kernels/elementwise_body.h): both operands are padded to the output's
// rank (NumPy rules) and adjacent dimensions that are contiguous for all three tensors are merged,
// so that e.g. per-channel [1,C,1,1] against [N,C,H,W] becomes three dims with an inner run of H*W
// and a same-shape or scalar op becomes one dim. Plain data, usable in device code.
#pragma once

#include <cstdint>

#include "core/common.h"
#include "core/shape.h"

namespace ebm {

// Output shape and element strides of both operands after merging. Strides are 0 where an
// operand is broadcast. The output is contiguous with this shape. Facts the kernels rely on:
// the innermost strides sx[ndim-1], sy[ndim-1] are each 0 or 1 (an operand's last non-1 dim is
// contiguous), both 0 only for a one-element output; an operand with inner stride 1 has outer strides that are multiples
// of the inner extent shape[ndim-1] (its own extent there is the whole inner run).
struct BroadcastPlan {
  int ndim = 0;  // 1..kMaxDims after planning
  int64_t shape[kMaxDims] = {};
  int64_t sx[kMaxDims] = {}, sy[kMaxDims] = {};

  EBM_HD int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < ndim; ++i) n *= shape[i];
    return n;
  }
};

// Plans z = op(x, y) with z of shape `out` = broadcast_shapes(xs, ys).
inline BroadcastPlan plan_broadcast(const Shape& out, const Shape& xs, const Shape& ys) {
  const int n = out.ndim();
  int64_t shp[kMaxDims], sx[kMaxDims], sy[kMaxDims];
  auto strides_for = [&](const Shape& s, int64_t* st) {
    int64_t acc = 1;
    for (int i = n - 1; i >= 0; --i) {
      int j = s.ndim() - n + i;
      int64_t d = j >= 0 ? s[j] : 1;
      st[i] = d == 1 ? 0 : acc;
      acc *= d;
    }
  };
  for (int i = 0; i < n; ++i) shp[i] = out[i];
  strides_for(xs, sx);
  strides_for(ys, sy);
  BroadcastPlan p;
  for (int i = 0; i < n; ++i) {
    if (shp[i] == 1) continue;  // size-1 dims carry no work
    if (p.ndim > 0) {
      int k = p.ndim - 1;
      bool mx = p.sx[k] == sx[i] * shp[i], my = p.sy[k] == sy[i] * shp[i];
      if (mx && my) {  // merge dim i into the previous one
        p.shape[k] *= shp[i];
        p.sx[k] = sx[i];
        p.sy[k] = sy[i];
        continue;
      }
    }
    p.shape[p.ndim] = shp[i];
    p.sx[p.ndim] = sx[i];
    p.sy[p.ndim] = sy[i];
    ++p.ndim;
  }
  if (p.ndim == 0) {  // all-ones shape: one element
    p.ndim = 1;
    p.shape[0] = 1;
    p.sx[0] = p.sy[0] = 0;
  }
  return p;
}

}  // namespace ebm
