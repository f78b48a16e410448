// Spectral normalisation's power iteration (Miyato et al., ICLR 2018; torch.nn.utils.spectral_norm,
// whose state is weight_orig / weight_u / weight_v), batched over all the layers of a model.
// W is viewed as a matrix [rows = W.size(0), cols = numel / rows] (row-major: a conv weight
// [out, in, k, k] is [out, in·k·k]); u has rows elements, v has cols. One iteration is
//   v ← normalize(Wᵀu),  u ← normalize(W v),   normalize(x) = x / max(‖x‖₂, eps),
// with u and v written in place (buffers: never recorded for autograd), and afterwards
//   σ = uᵀ W v
// from the stored u and v. With n_iter = 0 (eval mode) σ comes from the stored u, v unchanged.
// The derivative (autograd/ops/spectral_norm.h) treats u and v as constants: dσ/dW = u vᵀ.
//
// Arithmetic (both backends): every dot product and norm accumulates in double from the stored
// (rounded) u, v and W, and each new element is rounded once: v_c = T(t_c / max(‖t‖, eps)) with t
// = Wᵀu in double, so float32 results match a float64 evaluation of the same formula up to the
// final rounding. The CPU (core/cpu/spectral_norm.cpp) and CUDA (cuda/kernels/spectral_norm.cu)
// sum in different orders (in double), so they agree to about an ulp of T. After the last
// iteration σ = Σ_r u_r s_r with s = W v the double product, i.e. ‖s‖ up to the rounding of u:
// no third pass over W.
//
// The CUDA launch geometry below is plain EBM_HD arithmetic, so a CPU test checks that the tiles
// cover every element once and that the workspace regions are disjoint.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/common.h"
#include "core/math.h"
#include "core/tensor.h"

namespace ebm {

// One spectrally normalised layer: its weight (any rank >= 1, float32 or float64) and the two
// 1-D buffers u [rows] and v [cols] of the weight's dtype and device.
struct SpectralNormState {
  Tensor weight;
  Tensor u;
  Tensor v;
};

// ---- shared arithmetic and geometry

// The divisor of normalize(x) from Σ x²: max(‖x‖, eps).
EBM_HD double spectral_norm_denom(double sum_sq, double eps) {
  const double n = math::sqrt(sum_sq);
  return n > eps ? n : eps;
}

// Raw pointers of one layer for the backends (rows, cols as above).
template <class T>
struct SpectralNormPtrs {
  const T* weight = nullptr;
  T* u = nullptr;
  T* v = nullptr;
  int64_t rows = 0, cols = 0;
};

// The CUDA kernels work in blocks of 256 threads (8 warps).
constexpr int kSnThreads = 256;
constexpr int kSnWarps = kSnThreads / 32;
// Pass A (t = Wᵀu): a block covers kSnRowsA rows × one tile of 32·vec columns; lane l of every
// warp owns columns l·vec .. l·vec + vec − 1 of the tile, warp w rows w, w + 8, ... of the chunk.
constexpr int kSnRowsA = 64;
// Pass C (s = W v): a block covers kSnRowsC rows (4 per warp) × one column chunk of at most
// kSnColsC columns (lanes stride along the row).
constexpr int kSnRowsC = 32;
constexpr int kSnColsC = 256;
// The finishing passes fold kSnThreads vector elements per block.
constexpr int kSnFinish = kSnThreads;

// Elements of one 16-byte load of a layer's weight: 16 / sizeof(T) when every row starts on a
// 16-byte boundary (pointer aligned, cols a multiple), else 1 (scalar loads).
EBM_HD int spectral_norm_vec(int64_t cols, uint64_t weight_address, int64_t elem_size) {
  const int64_t v = 16 / elem_size;
  return (cols % v == 0 && weight_address % 16 == 0) ? static_cast<int>(v) : 1;
}

EBM_HD int64_t sn_ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The launch geometry and workspace layout of one layer (offsets in doubles from the layer's
// base in the workspace). The kernels recompute it from (rows, cols, vec) in every block.
struct SpectralNormGeometry {
  int64_t rows = 0, cols = 0;
  int vec = 1;
  int64_t a_chunks = 0, a_tiles = 0;  // pass A: row chunks of kSnRowsA × column tiles of 32·vec
  int64_t c_len = 0, c_chunks = 0;    // pass C: column chunks of c_len (a multiple of vec)
  int64_t c_row_blocks = 0;           //         × row blocks of kSnRowsC
  int64_t b_blocks = 0, d_blocks = 0;  // finishing passes over the cols / rows vectors
  // Workspace regions: pt [a_chunks, cols] partial sums of Wᵀu; t [cols] = Wᵀu; nt [b_blocks]
  // partial Σt²; ps [c_chunks, rows] partial sums of W v; s [rows] = W v; ns [d_blocks] Σs².
  int64_t pt = 0, t = 0, nt = 0, ps = 0, s = 0, ns = 0, size = 0;

  EBM_HD int64_t a_blocks() const { return a_chunks * a_tiles; }
  EBM_HD int64_t c_blocks() const { return c_row_blocks * c_chunks; }
};

EBM_HD SpectralNormGeometry spectral_norm_geometry(int64_t rows, int64_t cols, int vec) {
  SpectralNormGeometry g;
  g.rows = rows;
  g.cols = cols;
  g.vec = vec;
  g.a_chunks = sn_ceil_div(rows, kSnRowsA);
  g.a_tiles = sn_ceil_div(cols, 32 * static_cast<int64_t>(vec));
  // Chunks of at most kSnColsC columns, as equal as a multiple of vec allows (1152 columns: five
  // chunks of 232, 232, 232, 232, 224 rather than 256 × 4 + 128); then no chunk is empty.
  const int64_t even = sn_ceil_div(cols, sn_ceil_div(cols, kSnColsC));
  g.c_len = sn_ceil_div(even, vec) * vec;  // <= kSnColsC: kSnColsC is a multiple of vec
  g.c_chunks = sn_ceil_div(cols, g.c_len);
  g.c_row_blocks = sn_ceil_div(rows, kSnRowsC);
  g.b_blocks = sn_ceil_div(cols, kSnFinish);
  g.d_blocks = sn_ceil_div(rows, kSnFinish);
  g.pt = 0;
  g.t = g.pt + g.a_chunks * cols;
  g.nt = g.t + cols;
  g.ps = g.nt + g.b_blocks;
  g.s = g.ps + g.c_chunks * rows;
  g.ns = g.s + rows;
  g.size = g.ns + g.d_blocks;
  return g;
}

namespace ops {

// n_iter power iterations on every layer (u, v updated in place, versions bumped when
// n_iter > 0), then σ_l = u_lᵀ W_l v_l. Returns σ as a tensor [L] of the layers' dtype on their
// device. All layers share one dtype (float32 or float64; both on CUDA too) and one device; on
// CUDA the whole batch runs in 4·n_iter + 1 launches per group of up to 64 layers on the
// device's current stream, with no host synchronisation and no float atomics (deterministic).
// n_iter >= 0, eps >= 0 (PyTorch's default 1e-12). An empty list returns a float32 [0] on the
// CPU. Throws ShapeError / DTypeError / DeviceError / ValueError naming the layer index and
// shapes: u must be [rows], v [cols]; a layer's u and v may not overlap each other, any weight,
// or another layer's u or v.
Tensor spectral_norm_power_iteration_(std::vector<SpectralNormState>& layers, int n_iter,
                                      double eps = 1e-12);
// The same, also writing copies of every layer's updated u and v into *uv_copies, a new 1-D
// tensor [Σ_l rows_l + cols_l] laid out u_0, v_0, u_1, v_1, ... (for autograd: the copies are the
// constants of dσ/dW = u vᵀ, and later iterations cannot change them). With n_iter = 0 the copies
// are of the stored u, v.
Tensor spectral_norm_power_iteration_(std::vector<SpectralNormState>& layers, int n_iter,
                                      double eps, Tensor* uv_copies);

// The argument checks of the two functions above (dtype, device, shapes; not the overlaps), with
// `op` naming the caller in the messages.
void spectral_norm_check(const std::vector<SpectralNormState>& layers, const char* op);

// σ = uᵀ W v of one layer from the given u, v (no iteration, nothing written): a 0-dim tensor.
Tensor spectral_norm_sigma(const Tensor& weight, const Tensor& u, const Tensor& v);

}  // namespace ops
}  // namespace ebm
