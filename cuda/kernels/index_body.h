// Per-thread bodies of the indexing kernels (cuda/kernels/index.cu): row copies for concat, split
// and index_select (any dtype, moved in the widest unit the addresses allow), index_add as a
// per-output gather over a stable row-grouped list of the index (deterministic, no atomics),
// gather, scatter / one_hot, and the two row and element passes of the cross-entropy pair over
// the EBM_HD functors of core/ops/index.h. Plain EBM_HD code of (block, thread, grid), so that
// tests/cpu/test_index_body.cpp runs each body on the CPU over the launch grid the launcher
// makes: index arithmetic and grid-stride loops are tested in CI, not only on a GPU.
#pragma once

#include <cstdint>

#include "core/common.h"
#include "core/ops/index.h"

namespace ebm::cuda::kernels {

constexpr uint32_t kIndexBlock = 256;

struct IndexLaunchDims {
  uint32_t grid = 0;   // blocks; 0 means nothing to launch
  uint32_t block = 0;  // threads per block
};

// kIndexBlock threads per block, enough blocks for one work item per thread up to max_blocks (a
// few waves of the device's SMs); the grid-stride loops do the rest.
inline IndexLaunchDims index_launch_dims(int64_t work, int64_t max_blocks) {
  IndexLaunchDims d;
  if (work <= 0) return d;
  int64_t blocks = (work + kIndexBlock - 1) / kIndexBlock;
  if (blocks > max_blocks) blocks = max_blocks;
  d.grid = static_cast<uint32_t>(blocks);
  d.block = kIndexBlock;
  return d;
}

// The grid-stride loop every body runs: item = block * block_dim + thread, then + grid * block_dim.
#define EBM_INDEX_GRID_LOOP(item, count)                                                   \
  for (int64_t item = static_cast<int64_t>(block_idx) * block_dim + thread_idx;             \
       item < (count); item += static_cast<int64_t>(grid_dim) * block_dim)

// Row copies: for o < outer, row o of dst (at dst + o * dst_stride units) gets `row` units from
// row index[o] (index == nullptr: row o) of src (at src + r * src_stride units). U is the unit the
// launcher picked (1, 2, 4, 8 or 16 bytes: the widest that divides both addresses, both strides
// and the row length in bytes). Work item e < outer * row copies unit e % row of row e / row, so
// neighbouring threads touch neighbouring units.
// The unit copy_rows moves: the widest of 16, 8, 4, 2, 1 bytes that divides both addresses, both
// strides and the row length (all in bytes), so every access the kernel makes is aligned.
inline int copy_unit_bytes(const void* dst, const void* src, int64_t dst_stride,
                           int64_t src_stride, int64_t row_bytes) {
  const uint64_t bits = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(dst)) |
                        static_cast<uint64_t>(reinterpret_cast<uintptr_t>(src)) |
                        static_cast<uint64_t>(dst_stride) | static_cast<uint64_t>(src_stride) |
                        static_cast<uint64_t>(row_bytes);
  int w = 16;
  while (w > 1 && bits % static_cast<uint64_t>(w) != 0) w /= 2;
  return w;
}

template <class U>
struct CopyRowsArgs {
  U* dst = nullptr;
  const U* src = nullptr;
  int64_t dst_stride = 0, src_stride = 0, row = 0, outer = 0;
  const int64_t* index = nullptr;
};

template <class U>
EBM_HD void copy_rows_body(const CopyRowsArgs<U>& a, uint32_t block_idx, uint32_t thread_idx,
                           uint32_t grid_dim, uint32_t block_dim) {
  EBM_INDEX_GRID_LOOP(e, a.outer * a.row) {
    const int64_t o = e / a.row, j = e - o * a.row;
    const int64_t r = a.index ? a.index[o] : o;
    a.dst[o * a.dst_stride + j] = a.src[r * a.src_stride + j];
  }
}

// index_add through a row-grouped index: out[r, c] = sum over j in [offsets[r], offsets[r + 1])
// of src[order[j], c], starting from 0 and adding in j order, where order lists the positions k
// with index[k] == r in increasing k (a stable counting sort, built by the caller). That is the
// CPU loop's order of additions for every output, so the results are bit-identical to it, and no
// two threads write one output: no atomics. Work item e < rows * row is output (e / row, e % row).
template <class T>
EBM_HD void index_add_body(const T* src, const int64_t* offsets, const int64_t* order, T* out,
                           int64_t rows, int64_t row, uint32_t block_idx, uint32_t thread_idx,
                           uint32_t grid_dim, uint32_t block_dim) {
  EBM_INDEX_GRID_LOOP(e, rows * row) {
    const int64_t r = e / row, c = e - r * row;
    T acc = T(0);
    for (int64_t j = offsets[r]; j < offsets[r + 1]; ++j) acc += src[order[j] * row + c];
    out[e] = acc;
  }
}

// out[i] = x[i, labels[i]] for i < n (x is [n, classes]).
template <class T>
EBM_HD void gather_body(const T* x, const int64_t* labels, T* out, int64_t n, int64_t classes,
                        uint32_t block_idx, uint32_t thread_idx, uint32_t grid_dim,
                        uint32_t block_dim) {
  EBM_INDEX_GRID_LOOP(i, n) out[i] = x[i * classes + labels[i]];
}

// Every element of out [n, classes]: src[i] (src == nullptr: 1, which is one_hot) where
// c == labels[i], else 0. One pass that writes the zeros too, so no memset is needed first.
template <class T>
EBM_HD void scatter_body(const T* src, const int64_t* labels, T* out, int64_t n, int64_t classes,
                         uint32_t block_idx, uint32_t thread_idx, uint32_t grid_dim,
                         uint32_t block_dim) {
  EBM_INDEX_GRID_LOOP(e, n * classes) {
    const int64_t i = e / classes, c = e - i * classes;
    out[e] = c == labels[i] ? (src ? src[i] : T(1)) : T(0);
  }
}

// Row pass of the cross-entropy pair, one thread per row over cross_entropy_row: the row's loss
// (in double, for the forward's sum; skipped when loss == nullptr) and its logsumexp (for the
// backward; skipped when lse == nullptr).
template <class T>
EBM_HD void cross_entropy_rows_body(const T* logits, const int64_t* labels, int64_t n,
                                    int64_t classes, double* loss, T* lse, uint32_t block_idx,
                                    uint32_t thread_idx, uint32_t grid_dim, uint32_t block_dim) {
  EBM_INDEX_GRID_LOOP(i, n) {
    T l;
    const T v = cross_entropy_row<T>(logits + i * classes, classes, labels[i], l);
    if (loss) loss[i] = static_cast<double>(v);
    if (lse) lse[i] = l;
  }
}

// The scale of the backward, grad / n rounded to T, as the CPU computes it: in double, from the
// loss gradient on the device (grad != nullptr) or from the host value.
template <class T>
EBM_HD T cross_entropy_scale(const T* grad, double grad_value, int64_t n) {
  const double g = grad ? static_cast<double>(*grad) : grad_value;
  return static_cast<T>(g / static_cast<double>(n));
}

// Element pass of the backward: out[i, c] = cross_entropy_grad(x[i, c], lse[i], s, c == label).
template <class T>
EBM_HD void cross_entropy_grad_body(const T* logits, const int64_t* labels, const T* lse,
                                    const T* grad, double grad_value, T* out, int64_t n,
                                    int64_t classes, uint32_t block_idx, uint32_t thread_idx,
                                    uint32_t grid_dim, uint32_t block_dim) {
  const T s = cross_entropy_scale<T>(grad, grad_value, n);
  EBM_INDEX_GRID_LOOP(e, n * classes) {
    const int64_t i = e / classes, c = e - i * classes;
    out[e] = cross_entropy_grad<T>(logits[e], lse[i], s, c == labels[i]);
  }
}

#undef EBM_INDEX_GRID_LOOP

}  // namespace ebm::cuda::kernels
