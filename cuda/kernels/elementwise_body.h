// The per-thread bodies of the elementwise kernels (cuda/kernels/elementwise.cu): unary maps,
// broadcasting binary ops (also in place: z == x), axpy and fills. Plain EBM_HD code, so that
// tests/cpu/test_elementwise_body.cpp runs them on the CPU by looping over the very grid the
// launchers use: index arithmetic, 16-byte packs and their scalar tails, the broadcast row walk
// and the grid-stride loops are tested in CI; the GPU tests only show that launches and memory
// handling work. The arithmetic is the shared functor (apply_unary / apply_binary of
// core/ops/elementwise.h), so each element equals the CPU's bit for bit wherever the functor
// uses only correctly rounded operations.
//
// Vector access (style.md practice 12): when every pointer that is read or written as a run is
// 16-byte aligned, a thread moves one Pack (16 bytes: four floats, two doubles) per loop turn,
// and the last n % width elements go through a scalar tail; otherwise every access is scalar.
// The planners below make that choice from the actual pointers; the launcher and the CPU test
// both call them.
#pragma once

#include <cstdint>

#include "core/common.h"
#include "core/math.h"
#include "core/ops/broadcast.h"
#include "core/ops/elementwise.h"

namespace ebm::cuda::kernels {

// Threads per block of every elementwise kernel.
constexpr uint32_t kElementwiseBlock = 256;

// 16 bytes of T, moved as one load or store on the device (float4 / double2 / uint4 ...).
template <class T>
struct alignas(16) Pack {
  static constexpr int kWidth = static_cast<int>(16 / sizeof(T));
  T v[kWidth];
};

EBM_HD bool is_aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

// Memory access of the kernels: raw pointers. On the device a Pack access is a single 16-byte
// instruction (the pointer must be 16-byte aligned, which the planners guarantee); the host
// spelling copies element by element. Tests substitute a recording Mem with the same interface.
struct RawMem {
  template <class T>
  EBM_HD T load(const T* p, int64_t i) const { return p[i]; }
  template <class T>
  EBM_HD Pack<T> load_pack(const T* p, int64_t i) const {
#if defined(__CUDA_ARCH__)
    return *reinterpret_cast<const Pack<T>*>(p + i);
#else
    Pack<T> r;
    for (int j = 0; j < Pack<T>::kWidth; ++j) r.v[j] = p[i + j];
    return r;
#endif
  }
  template <class T>
  EBM_HD void store(T* p, int64_t i, T v) const { p[i] = v; }
  template <class T>
  EBM_HD void store_pack(T* p, int64_t i, const Pack<T>& v) const {
#if defined(__CUDA_ARCH__)
    *reinterpret_cast<Pack<T>*>(p + i) = v;
#else
    for (int j = 0; j < Pack<T>::kWidth; ++j) p[i + j] = v.v[j];
#endif
  }
};

// ------------------------------------------------------------------------------------------------
// launch planning (host): the grid, and whether the packed body is used

struct ElementwiseLaunch {
  bool vec = false;    // the packed body (16-byte accesses plus a scalar tail)
  bool flat = true;    // binary only: one contiguous run (else the broadcast row walk)
  int64_t units = 0;   // work items the grid must cover (threads with something to do)
  uint32_t grid = 0;   // blocks; 0 means nothing to launch
  uint32_t block = kElementwiseBlock;
};

// As many blocks as there are units, capped at max_blocks (a few waves of the device's SMs);
// the grid-stride loops cover the rest.
inline ElementwiseLaunch finish_launch(ElementwiseLaunch l, int64_t max_blocks) {
  int64_t blocks = (l.units + kElementwiseBlock - 1) / kElementwiseBlock;
  if (blocks > max_blocks) blocks = max_blocks;
  l.grid = static_cast<uint32_t>(blocks);
  return l;
}

// n contiguous elements; `aligned`: every run pointer is 16-byte aligned. A packed launch has
// n / width pack units and n % width tail elements, done by the first threads of the grid.
template <class T>
ElementwiseLaunch plan_contiguous(int64_t n, bool aligned, int64_t max_blocks) {
  constexpr int64_t W = Pack<T>::kWidth;
  ElementwiseLaunch l;
  l.vec = aligned;
  l.units = l.vec ? (n / W > n % W ? n / W : n % W) : n;
  return finish_launch(l, max_blocks);
}

// z = op(x, y) over a broadcast plan. One dim: a flat run whose operands have stride 1 or 0
// (same shape, or a scalar on either side), packed when the strided pointers are aligned. More
// dims: rows of the inner extent, packed when the inner extent is a multiple of the width (so a
// pack never crosses a row) and the pointers are aligned: then every row start is aligned too,
// because an operand with inner stride 1 has outer strides that are multiples of the inner
// extent (core/ops/broadcast.h).
template <class T>
ElementwiseLaunch plan_binary(const BroadcastPlan& p, const void* x, const void* y, const void* z,
                              int64_t max_blocks) {
  constexpr int64_t W = Pack<T>::kWidth;
  const int last = p.ndim - 1;
  const bool aligned = is_aligned16(z) && (p.sx[last] == 0 || is_aligned16(x)) &&
                       (p.sy[last] == 0 || is_aligned16(y));
  if (p.ndim == 1) return plan_contiguous<T>(p.shape[0], aligned, max_blocks);
  ElementwiseLaunch l;
  l.flat = false;
  l.vec = aligned && p.shape[last] % W == 0;
  l.units = l.vec ? p.numel() / W : p.numel();
  return finish_launch(l, max_blocks);
}

// ------------------------------------------------------------------------------------------------
// bodies: one thread's share of a launch of grid_dim x block_dim threads

// Calls pack_fn(i) for the packs starting at i = 0, W, 2W, ... below n - n % W (packed launches
// only), then elem_fn(i) for the remaining elements, striding over the whole grid.
template <class T, bool Vec, class PackFn, class ElemFn>
EBM_HD void contiguous_loop(int64_t n, uint32_t block_idx, uint32_t thread_idx, uint32_t grid_dim,
                            uint32_t block_dim, PackFn&& pack_fn, ElemFn&& elem_fn) {
  const int64_t first = static_cast<int64_t>(block_idx) * block_dim + thread_idx;
  const int64_t stride = static_cast<int64_t>(grid_dim) * block_dim;
  int64_t done = 0;
  if constexpr (Vec) {
    constexpr int64_t W = Pack<T>::kWidth;
    const int64_t packs = n / W;
    for (int64_t u = first; u < packs; u += stride) pack_fn(u * W);
    done = packs * W;
  }
  for (int64_t i = done + first; i < n; i += stride) elem_fn(i);
}

// y[i] = op(x[i]; a, b), i < n.
template <class T, UnaryOp Op, bool Vec, class Mem>
EBM_HD void unary_body(const Mem& mem, const T* x, T* y, int64_t n, T a, T b, uint32_t block_idx,
                       uint32_t thread_idx, uint32_t grid_dim, uint32_t block_dim) {
  contiguous_loop<T, Vec>(
      n, block_idx, thread_idx, grid_dim, block_dim,
      [&](int64_t i) {
        Pack<T> v = mem.load_pack(x, i);
        for (int j = 0; j < Pack<T>::kWidth; ++j) v.v[j] = apply_unary<T>(Op, v.v[j], a, b);
        mem.store_pack(y, i, v);
      },
      [&](int64_t i) { mem.store(y, i, apply_unary<T>(Op, mem.load(x, i), a, b)); });
}

// The W values of a run starting at element `at` of p with stride 0 (one value, repeated) or 1.
template <class T, class Mem>
EBM_HD Pack<T> load_run(const Mem& mem, const T* p, int64_t at, int64_t stride) {
  if (stride != 0) return mem.load_pack(p, at);
  Pack<T> r;
  const T v = mem.load(p, at);
  for (int j = 0; j < Pack<T>::kWidth; ++j) r.v[j] = v;
  return r;
}

// z[i] = op(x[i * sx], y[i * sy]), i < n, sx and sy each 0 or 1 (a one-dim broadcast plan).
template <class T, BinaryOp Op, bool Vec, class Mem>
EBM_HD void binary_flat_body(const Mem& mem, const T* x, int64_t sx, const T* y, int64_t sy, T* z,
                             int64_t n, uint32_t block_idx, uint32_t thread_idx, uint32_t grid_dim,
                             uint32_t block_dim) {
  contiguous_loop<T, Vec>(
      n, block_idx, thread_idx, grid_dim, block_dim,
      [&](int64_t i) {
        const Pack<T> vx = load_run(mem, x, i * sx, sx), vy = load_run(mem, y, i * sy, sy);
        Pack<T> vz;
        for (int j = 0; j < Pack<T>::kWidth; ++j) vz.v[j] = apply_binary<T>(Op, vx.v[j], vy.v[j]);
        mem.store_pack(z, i, vz);
      },
      [&](int64_t i) { mem.store(z, i, apply_binary<T>(Op, mem.load(x, i * sx), mem.load(y, i * sy))); });
}

// z = op(x, y) over a plan of 2..kMaxDims dims: element e of z is row e / inner, column
// e % inner; the row index is unravelled over the outer dims into both operands' offsets. A packed
// thread does W columns of one row per turn (inner % W == 0), a scalar thread one element.
template <class T, BinaryOp Op, bool Vec, class Mem>
EBM_HD void binary_rows_body(const Mem& mem, const BroadcastPlan& p, const T* x, const T* y, T* z,
                             uint32_t block_idx, uint32_t thread_idx, uint32_t grid_dim,
                             uint32_t block_dim) {
  constexpr int64_t W = Vec ? Pack<T>::kWidth : 1;
  const int last = p.ndim - 1;
  const int64_t inner = p.shape[last], isx = p.sx[last], isy = p.sy[last];
  const int64_t units = p.numel() / W;
  const int64_t stride = static_cast<int64_t>(grid_dim) * block_dim;
  for (int64_t u = static_cast<int64_t>(block_idx) * block_dim + thread_idx; u < units;
       u += stride) {
    const int64_t e = u * W;
    int64_t row = e / inner;
    const int64_t col = e - row * inner;
    int64_t ox = col * isx, oy = col * isy;
    for (int d = last - 1; d >= 0; --d) {
      const int64_t q = row / p.shape[d];
      const int64_t idx = row - q * p.shape[d];
      row = q;
      ox += idx * p.sx[d];
      oy += idx * p.sy[d];
    }
    if constexpr (Vec) {
      const Pack<T> vx = load_run(mem, x, ox, isx), vy = load_run(mem, y, oy, isy);
      Pack<T> vz;
      for (int j = 0; j < Pack<T>::kWidth; ++j) vz.v[j] = apply_binary<T>(Op, vx.v[j], vy.v[j]);
      mem.store_pack(z, e, vz);
    } else {
      mem.store(z, e, apply_binary<T>(Op, mem.load(x, ox), mem.load(y, oy)));
    }
  }
}

// x[i] += alpha * y[i], i < n, as two roundings like the CPU's loop (never an FMA).
template <class T, bool Vec, class Mem>
EBM_HD void axpy_body(const Mem& mem, T* x, T alpha, const T* y, int64_t n, uint32_t block_idx,
                      uint32_t thread_idx, uint32_t grid_dim, uint32_t block_dim) {
  contiguous_loop<T, Vec>(
      n, block_idx, thread_idx, grid_dim, block_dim,
      [&](int64_t i) {
        Pack<T> vx = mem.load_pack(static_cast<const T*>(x), i);
        const Pack<T> vy = mem.load_pack(y, i);
        for (int j = 0; j < Pack<T>::kWidth; ++j) vx.v[j] = math::mul_add_rn(alpha, vy.v[j], vx.v[j]);
        mem.store_pack(x, i, vx);
      },
      [&](int64_t i) {
        mem.store(x, i, math::mul_add_rn(alpha, mem.load(y, i), mem.load(static_cast<const T*>(x), i)));
      });
}

// out[i] = value, i < n, for 2-, 4- and 8-byte elements (U = uint16_t, uint32_t, uint64_t: the
// bit pattern of the value in the tensor's dtype).
template <class U, bool Vec, class Mem>
EBM_HD void fill_body(const Mem& mem, U* out, U value, int64_t n, uint32_t block_idx,
                      uint32_t thread_idx, uint32_t grid_dim, uint32_t block_dim) {
  Pack<U> v;
  for (int j = 0; j < Pack<U>::kWidth; ++j) v.v[j] = value;
  contiguous_loop<U, Vec>(
      n, block_idx, thread_idx, grid_dim, block_dim, [&](int64_t i) { mem.store_pack(out, i, v); },
      [&](int64_t i) { mem.store(out, i, value); });
}

}  // namespace ebm::cuda::kernels
