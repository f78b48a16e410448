// Spectral normalisation's power iteration on the GPU, batched over all layers of a model
// (core/ops/spectral_norm.h: v ← normalize(Wᵀu), u ← normalize(W v), σ = uᵀ W v). Memory-bound:
// each iteration reads every weight twice, once per matrix-vector product, and everything else is
// vectors of a few thousand elements. One iteration is four launches over all layers at once:
//
//   A  t-partials  block = (layer, 64-row chunk, tile of 32·vec columns): Σ_r u_r W[r, c] for the
//                  chunk's rows into pt[chunk, c] (warps own rows, lanes own 16-byte column packs)
//   B  finish t    block = (layer, 256 columns): t_c = Σ_chunk pt[chunk, c] in chunk order, and
//                  the block's Σ t_c² into nt[block]
//   C  s-partials  block = (layer, 32-row block, column chunk of <= 256): v_c = T(t_c / max(‖t‖,
//                  eps)) with ‖t‖² = Σ nt in order (every block computes the same), then per row
//                  Σ_c W[r, c] v_c over the chunk into ps[chunk, r] (a warp per row, lanes along it)
//   D  finish s    as B over rows: s_r = Σ_chunk ps[chunk, r], ns[block] = Σ s_r²
//
// and the next iteration's A forms u_r = T(s_r / max(‖s‖, eps)) as it loads u. A last launch E
// (one block per layer) stores u, and σ = Σ_r u_r s_r. So each iteration reads each weight twice
// plus ~3 % (partials), and every reduction has a fixed order: no float atomics, the same bits on
// every run. All sums are in double (as on the CPU); the rounded u and v are what the products use.
// Blocks find their layer by binary search in the layer table, a __grid_constant__ kernel
// parameter (no upload, graph-capturable). Kernels first, then the launcher.
#include <cmath>
#include <cstdint>

#include "core/common.h"
#include "core/ops/spectral_norm.h"
#include "cuda/check.h"
#include "cuda/device.h"
#include "cuda/spectral_norm.h"

namespace ebm::cuda {

namespace {

// One layer of a launch (48 bytes). Offsets are int32: the launcher checks they fit.
template <class T>
struct SnDesc {
  const T* w;
  T* u;
  T* v;
  int32_t rows, cols;
  int32_t first_a, first_c;  // the layer's first block in passes A and C
  int32_t ws;                // the layer's base in the workspace, in doubles
  int32_t copy;              // offset of the layer's u in uv_copy (its v follows)
};

template <class T>
struct SnTable {
  SnDesc<T> layer[kSnMaxLayersPerLaunch];
  int32_t n;
  double eps;
};
// Kernel parameters stay within the classic 4 KB limit (CUDA < 12.1 and cheap launches).
static_assert(sizeof(SnTable<float>) + 64 <= 4096, "layer table too large for a kernel parameter");

// 16 bytes of T.
template <class T>
struct Pack {
  static constexpr int n = 16 / static_cast<int>(sizeof(T));
  T v[n];
};

__device__ __forceinline__ Pack<float> ldg_pack(const float* p) {
  const float4 x = __ldg(reinterpret_cast<const float4*>(p));
  return {{x.x, x.y, x.z, x.w}};
}
__device__ __forceinline__ Pack<double> ldg_pack(const double* p) {
  const double2 x = __ldg(reinterpret_cast<const double2*>(p));
  return {{x.x, x.y}};
}
__device__ __forceinline__ Pack<float> lds_pack(const float* p) {
  const float4 x = *reinterpret_cast<const float4*>(p);
  return {{x.x, x.y, x.z, x.w}};
}
__device__ __forceinline__ Pack<double> lds_pack(const double* p) {
  const double2 x = *reinterpret_cast<const double2*>(p);
  return {{x.x, x.y}};
}

// The layer owning `block` of pass A (kC false) or C (kC true): the last with first <= block.
template <class T, bool kC>
__device__ int sn_find_layer(const SnTable<T>& tab, int64_t block) {
  int lo = 0, hi = tab.n - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    const int64_t first = kC ? tab.layer[mid].first_c : tab.layer[mid].first_a;
    if (first <= block) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

template <class T>
__device__ SpectralNormGeometry sn_geometry(const SnDesc<T>& L) {
  return spectral_norm_geometry(L.rows, L.cols,
                                spectral_norm_vec(L.cols, reinterpret_cast<uint64_t>(L.w), sizeof(T)));
}

// max(‖x‖, eps) from the n partial sums of squares, added in order.
__device__ double sn_denom(const double* partial, int64_t n, double eps) {
  double s = 0.0;
  for (int64_t k = 0; k < n; ++k) s += partial[k];
  return spectral_norm_denom(s, eps);
}

__device__ __forceinline__ double sn_warp_sum(double v) {
  for (int o = 16; o > 0; o /= 2) v += __shfl_down_sync(0xffffffffu, v, o);
  return v;  // lane 0
}

// Σ over the block in a fixed tree (warps by shuffles, then warp 0 over the warps); thread 0.
__device__ double sn_block_sum(double v, double* shared) {
  v = sn_warp_sum(v);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  if (warp == 0) v = sn_warp_sum(lane < kSnWarps ? shared[lane] : 0.0);
  __syncthreads();
  return v;
}

// Pass A: pt[chunk, c] = Σ_{r in chunk} u_r W[r, c] over the block's tile. kFromS: u is formed
// from the previous iteration's s (not yet stored); else read from the layer's u.
template <class T, bool kFromS>
__global__ void __launch_bounds__(kSnThreads)
    sn_wtu_kernel(const __grid_constant__ SnTable<T> tab, double* __restrict__ ws) {
  constexpr int V = Pack<T>::n;
  constexpr int kPerWarp = kSnRowsA / kSnWarps;
  __shared__ double su[kSnRowsA];
  __shared__ double red[kSnWarps][32 * V];
  __shared__ double denom;
  const SnDesc<T>& L = tab.layer[sn_find_layer<T, false>(tab, blockIdx.x)];
  const SpectralNormGeometry g = sn_geometry(L);
  const int64_t R = g.rows, C = g.cols;
  const int64_t local = static_cast<int64_t>(blockIdx.x) - L.first_a;
  const int64_t chunk = local / g.a_tiles, tile = local - chunk * g.a_tiles;
  const int64_t r0 = chunk * kSnRowsA;
  const int rows_here = static_cast<int>(R - r0 < kSnRowsA ? R - r0 : kSnRowsA);
  double* base = ws + L.ws;
  if (kFromS) {
    if (threadIdx.x == 0) denom = sn_denom(base + g.ns, g.d_blocks, tab.eps);
    __syncthreads();
  }
  if (static_cast<int>(threadIdx.x) < rows_here) {
    const int64_t r = r0 + threadIdx.x;
    const T ur = kFromS ? static_cast<T>(base[g.s + r] / denom) : L.u[r];
    su[threadIdx.x] = static_cast<double>(ur);
  }
  __syncthreads();

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int width = 32 * g.vec;  // columns of the tile
  const int64_t c_tile = tile * width;
  const T* w0 = L.w + (r0 + warp) * C;  // row r0 + warp; the warp's rows are kSnWarps apart
  if (g.vec == V) {
    double acc[V];
#pragma unroll
    for (int k = 0; k < V; ++k) acc[k] = 0.0;
    const int64_t c = c_tile + lane * V;
    if (c < C) {
      Pack<T> x[kPerWarp];
#pragma unroll
      for (int i = 0; i < kPerWarp; ++i)  // all loads first: kPerWarp 16-byte loads in flight
        if (warp + i * kSnWarps < rows_here) x[i] = ldg_pack(w0 + i * kSnWarps * C + c);
#pragma unroll
      for (int i = 0; i < kPerWarp; ++i)
        if (warp + i * kSnWarps < rows_here) {
          const double ur = su[warp + i * kSnWarps];
#pragma unroll
          for (int k = 0; k < V; ++k) acc[k] = fma(ur, static_cast<double>(x[i].v[k]), acc[k]);
        }
    }
#pragma unroll
    for (int k = 0; k < V; ++k) red[warp][lane * V + k] = acc[k];
  } else {
    double acc = 0.0;
    const int64_t c = c_tile + lane;
    if (c < C) {
#pragma unroll
      for (int i = 0; i < kPerWarp; ++i)
        if (warp + i * kSnWarps < rows_here)
          acc = fma(su[warp + i * kSnWarps], static_cast<double>(__ldg(w0 + i * kSnWarps * C + c)), acc);
    }
    red[warp][lane] = acc;
  }
  __syncthreads();
  if (static_cast<int>(threadIdx.x) < width) {
    const int64_t c = c_tile + threadIdx.x;
    if (c < C) {
      double sum = 0.0;
#pragma unroll
      for (int w = 0; w < kSnWarps; ++w) sum += red[w][threadIdx.x];
      base[g.pt + chunk * C + c] = sum;
    }
  }
}

// Passes B (kRows false: t from pt) and D (kRows true: s from ps): one block per layer
// (blockIdx.y) and kSnFinish elements; the vector and its block's Σ x² go to the workspace.
template <class T, bool kRows>
__global__ void __launch_bounds__(kSnThreads)
    sn_finish_kernel(const __grid_constant__ SnTable<T> tab, double* __restrict__ ws) {
  __shared__ double shared[kSnWarps];
  if (static_cast<int>(blockIdx.y) >= tab.n) return;
  const SnDesc<T>& L = tab.layer[blockIdx.y];
  const SpectralNormGeometry g = sn_geometry(L);
  const int64_t n = kRows ? g.rows : g.cols;
  const int64_t parts = kRows ? g.c_chunks : g.a_chunks;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * kSnFinish;
  if (first >= n) return;  // the grid is sized for the longest vector of the launch
  double* base = ws + L.ws;
  const double* partial = base + (kRows ? g.ps : g.pt);
  double* out = base + (kRows ? g.s : g.t);
  const int64_t i = first + threadIdx.x;
  double x = 0.0;
  if (i < n) {
    for (int64_t k = 0; k < parts; ++k) x += partial[k * n + i];
    out[i] = x;
  }
  const double ss = sn_block_sum(x * x, shared);
  if (threadIdx.x == 0) base[(kRows ? g.ns : g.nt) + blockIdx.x] = ss;
}

// Pass C: ps[chunk, r] = Σ_{c in chunk} W[r, c] v_c. kFromT: v is formed from t (and stored by
// the blocks of the first row block when store_v); else read from the layer's v. copy, when not
// null, receives v (first row block only).
template <class T, bool kFromT>
__global__ void __launch_bounds__(kSnThreads)
    sn_wv_kernel(const __grid_constant__ SnTable<T> tab, double* __restrict__ ws, bool store_v,
                 T* __restrict__ copy) {
  constexpr int V = Pack<T>::n;
  constexpr int kPerWarp = kSnRowsC / kSnWarps;
  __shared__ __align__(16) T sv[kSnColsC];
  __shared__ double denom;
  const SnDesc<T>& L = tab.layer[sn_find_layer<T, true>(tab, blockIdx.x)];
  const SpectralNormGeometry g = sn_geometry(L);
  const int64_t R = g.rows, C = g.cols;
  const int64_t local = static_cast<int64_t>(blockIdx.x) - L.first_c;
  const int64_t rb = local / g.c_chunks, ch = local - rb * g.c_chunks;
  const int64_t r0 = rb * kSnRowsC, c0 = ch * g.c_len;
  const int clen = static_cast<int>(C - c0 < g.c_len ? C - c0 : g.c_len);
  const int rows_here = static_cast<int>(R - r0 < kSnRowsC ? R - r0 : kSnRowsC);
  double* base = ws + L.ws;
  if (kFromT) {
    if (threadIdx.x == 0) denom = sn_denom(base + g.nt, g.b_blocks, tab.eps);
    __syncthreads();
  }
  for (int j = threadIdx.x; j < clen; j += kSnThreads) {
    const T vj = kFromT ? static_cast<T>(base[g.t + c0 + j] / denom) : L.v[c0 + j];
    if (rb == 0) {
      if (kFromT && store_v) L.v[c0 + j] = vj;
      if (copy) copy[L.copy + R + c0 + j] = vj;
    }
    sv[j] = vj;
  }
  __syncthreads();

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int rw = warp * kPerWarp;  // the warp's first row in the block
  const T* w0 = L.w + (r0 + rw) * C + c0;
  double acc[kPerWarp];
#pragma unroll
  for (int i = 0; i < kPerWarp; ++i) acc[i] = 0.0;
  if (g.vec == V) {
    const int packs = clen / V;  // clen is a multiple of V here
    for (int q = lane; q < packs; q += 32) {
      const Pack<T> vq = lds_pack(sv + q * V);
      Pack<T> x[kPerWarp];
#pragma unroll
      for (int i = 0; i < kPerWarp; ++i)
        if (rw + i < rows_here) x[i] = ldg_pack(w0 + i * C + q * V);
#pragma unroll
      for (int i = 0; i < kPerWarp; ++i)
        if (rw + i < rows_here) {
#pragma unroll
          for (int k = 0; k < V; ++k)
            acc[i] = fma(static_cast<double>(x[i].v[k]), static_cast<double>(vq.v[k]), acc[i]);
        }
    }
  } else {
    for (int j = lane; j < clen; j += 32) {
      const double vj = static_cast<double>(sv[j]);
#pragma unroll
      for (int i = 0; i < kPerWarp; ++i)
        if (rw + i < rows_here) acc[i] = fma(static_cast<double>(__ldg(w0 + i * C + j)), vj, acc[i]);
    }
  }
#pragma unroll
  for (int i = 0; i < kPerWarp; ++i) acc[i] = sn_warp_sum(acc[i]);
  if (lane == 0) {
#pragma unroll
    for (int i = 0; i < kPerWarp; ++i)
      if (rw + i < rows_here) base[g.ps + ch * R + r0 + rw + i] = acc[i];
  }
}

// E: one block per layer. σ_l = Σ_r u_r s_r; kFromS: u_r = T(s_r / max(‖s‖, eps)) is stored
// first; else the stored u is used. copy, when not null, receives u.
template <class T, bool kFromS>
__global__ void __launch_bounds__(kSnThreads)
    sn_sigma_kernel(const __grid_constant__ SnTable<T> tab, double* __restrict__ ws,
                    T* __restrict__ sigma, T* __restrict__ copy) {
  __shared__ double shared[kSnWarps];
  __shared__ double denom;
  if (static_cast<int>(blockIdx.x) >= tab.n) return;
  const SnDesc<T>& L = tab.layer[blockIdx.x];
  const SpectralNormGeometry g = sn_geometry(L);
  const double* base = ws + L.ws;
  if (kFromS) {
    if (threadIdx.x == 0) denom = sn_denom(base + g.ns, g.d_blocks, tab.eps);
    __syncthreads();
  }
  double acc = 0.0;
  for (int64_t r = threadIdx.x; r < g.rows; r += kSnThreads) {
    const double s = base[g.s + r];
    const T ur = kFromS ? static_cast<T>(s / denom) : L.u[r];
    if (kFromS) L.u[r] = ur;
    if (copy) copy[L.copy + r] = ur;
    acc = fma(static_cast<double>(ur), s, acc);
  }
  acc = sn_block_sum(acc, shared);
  if (threadIdx.x == 0) sigma[blockIdx.x] = static_cast<T>(acc);
}

// ------------------------------------------------------------------------------------------------
// launcher

constexpr int64_t kInt32Max = 2147483647;

template <class T>
SpectralNormGeometry geometry_of(const SpectralNormPtrs<T>& p) {
  return spectral_norm_geometry(
      p.rows, p.cols, spectral_norm_vec(p.cols, reinterpret_cast<uint64_t>(p.weight), sizeof(T)));
}

template <class T>
void check_ptrs(const SpectralNormPtrs<T>* layers, int64_t n) {
  const char* op = "spectral_norm_power_iteration";
  EBM_CHECK(n >= 0 && (n == 0 || layers != nullptr), ValueError, op, ": no layer array for n = ", n);
  for (int64_t l = 0; l < n; ++l) {
    const SpectralNormPtrs<T>& p = layers[l];
    EBM_CHECK(p.rows >= 1 && p.cols >= 1 && p.rows <= kInt32Max && p.cols <= kInt32Max, ValueError,
              op, ": layer ", l, ": rows and cols must be in [1, 2^31), got ", p.rows, " x ", p.cols);
    EBM_CHECK(p.weight && p.u && p.v, ValueError, op, ": layer ", l, ": null pointer");
    for (const void* q : {static_cast<const void*>(p.weight), static_cast<const void*>(p.u),
                          static_cast<const void*>(p.v)})
      EBM_CHECK(reinterpret_cast<uintptr_t>(q) % alignof(T) == 0, ValueError, op, ": layer ", l,
                ": pointer not ", alignof(T), "-byte aligned");
  }
}

// Calls f(first_layer, count) for each group of at most kSnMaxLayersPerLaunch layers.
template <class F>
void for_each_group(int64_t n, F&& f) {
  for (int64_t g0 = 0; g0 < n; g0 += kSnMaxLayersPerLaunch)
    f(g0, n - g0 < kSnMaxLayersPerLaunch ? n - g0 : int64_t(kSnMaxLayersPerLaunch));
}

template <class T>
size_t workspace_impl(const SpectralNormPtrs<T>* layers, int64_t n) {
  check_ptrs(layers, n);
  int64_t most = 0;
  for_each_group(n, [&](int64_t g0, int64_t m) {
    int64_t doubles = 0;
    for (int64_t i = 0; i < m; ++i) doubles += geometry_of(layers[g0 + i]).size;
    most = doubles > most ? doubles : most;
  });
  return static_cast<size_t>(most) * sizeof(double);
}

template <class T>
void run_impl(const SpectralNormPtrs<T>* layers, int64_t n, int n_iter, double eps, T* sigma,
              T* uv_copy, void* workspace, size_t workspace_bytes, StreamHandle stream) {
  const char* op = "spectral_norm_power_iteration";
  EBM_CHECK(n_iter >= 0, ValueError, op, ": n_iter must be >= 0, got ", n_iter);
  EBM_CHECK(eps >= 0 && eps < INFINITY, ValueError, op, ": eps must be finite and >= 0, got ", eps);
  const size_t need = workspace_impl(layers, n);
  if (n == 0) return;
  EBM_CHECK(sigma != nullptr, ValueError, op, ": null sigma pointer");
  EBM_CHECK(workspace != nullptr && workspace_bytes >= need, ValueError, op, ": needs ", need,
            " bytes of workspace, got ", workspace_bytes);
  EBM_CHECK(reinterpret_cast<uintptr_t>(workspace) % alignof(double) == 0, ValueError, op,
            ": workspace not 8-byte aligned");
  double* ws = static_cast<double*>(workspace);
  int64_t copy_offset = 0;
  for_each_group(n, [&](int64_t g0, int64_t m) {
    SnTable<T> tab{};
    tab.n = static_cast<int32_t>(m);
    tab.eps = eps;
    int64_t blocks_a = 0, blocks_c = 0, doubles = 0, max_b = 0, max_d = 0;
    for (int64_t i = 0; i < m; ++i) {
      const SpectralNormPtrs<T>& p = layers[g0 + i];
      const SpectralNormGeometry g = geometry_of(p);
      SnDesc<T>& d = tab.layer[i];
      d.w = p.weight;
      d.u = p.u;
      d.v = p.v;
      d.rows = static_cast<int32_t>(p.rows);
      d.cols = static_cast<int32_t>(p.cols);
      d.first_a = static_cast<int32_t>(blocks_a);
      d.first_c = static_cast<int32_t>(blocks_c);
      d.ws = static_cast<int32_t>(doubles);
      d.copy = static_cast<int32_t>(uv_copy ? copy_offset : 0);
      blocks_a += g.a_blocks();
      blocks_c += g.c_blocks();
      doubles += g.size;
      copy_offset += p.rows + p.cols;
      max_b = g.b_blocks > max_b ? g.b_blocks : max_b;
      max_d = g.d_blocks > max_d ? g.d_blocks : max_d;
      EBM_CHECK(blocks_a <= kInt32Max && blocks_c <= kInt32Max && doubles <= kInt32Max &&
                    (!uv_copy || copy_offset <= kInt32Max),
                ValueError, op, ": layers ", g0, "..", g0 + i, " are too large for one launch");
    }
    const unsigned m_u = static_cast<unsigned>(m);
    const dim3 grid_b(static_cast<unsigned>(max_b), m_u), grid_d(static_cast<unsigned>(max_d), m_u);
    const unsigned grid_a = static_cast<unsigned>(blocks_a), grid_c = static_cast<unsigned>(blocks_c);
    T* sig = sigma + g0;
    if (n_iter == 0) {  // σ from the stored u, v
      sn_wv_kernel<T, false><<<grid_c, kSnThreads, 0, stream>>>(tab, ws, false, uv_copy);
      EBM_CUDA_CHECK_LAUNCH();
      sn_finish_kernel<T, true><<<grid_d, kSnThreads, 0, stream>>>(tab, ws);
      EBM_CUDA_CHECK_LAUNCH();
      sn_sigma_kernel<T, false><<<m_u, kSnThreads, 0, stream>>>(tab, ws, sig, uv_copy);
      EBM_CUDA_CHECK_LAUNCH();
      return;
    }
    for (int it = 0; it < n_iter; ++it) {
      const bool last = it == n_iter - 1;
      if (it == 0) sn_wtu_kernel<T, false><<<grid_a, kSnThreads, 0, stream>>>(tab, ws);
      else sn_wtu_kernel<T, true><<<grid_a, kSnThreads, 0, stream>>>(tab, ws);
      EBM_CUDA_CHECK_LAUNCH();
      sn_finish_kernel<T, false><<<grid_b, kSnThreads, 0, stream>>>(tab, ws);
      EBM_CUDA_CHECK_LAUNCH();
      sn_wv_kernel<T, true><<<grid_c, kSnThreads, 0, stream>>>(tab, ws, last, last ? uv_copy : nullptr);
      EBM_CUDA_CHECK_LAUNCH();
      sn_finish_kernel<T, true><<<grid_d, kSnThreads, 0, stream>>>(tab, ws);
      EBM_CUDA_CHECK_LAUNCH();
    }
    sn_sigma_kernel<T, true><<<m_u, kSnThreads, 0, stream>>>(tab, ws, sig, uv_copy);
    EBM_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

size_t spectral_norm_workspace_bytes(const SpectralNormPtrs<float>* layers, int64_t n) {
  return workspace_impl(layers, n);
}
size_t spectral_norm_workspace_bytes(const SpectralNormPtrs<double>* layers, int64_t n) {
  return workspace_impl(layers, n);
}

void spectral_norm_power_iteration(const SpectralNormPtrs<float>* layers, int64_t n, int n_iter,
                                   double eps, float* sigma, float* uv_copy, void* workspace,
                                   size_t workspace_bytes, StreamHandle stream) {
  run_impl(layers, n, n_iter, eps, sigma, uv_copy, workspace, workspace_bytes, stream);
}
void spectral_norm_power_iteration(const SpectralNormPtrs<double>* layers, int64_t n, int n_iter,
                                   double eps, double* sigma, double* uv_copy, void* workspace,
                                   size_t workspace_bytes, StreamHandle stream) {
  run_impl(layers, n, n_iter, eps, sigma, uv_copy, workspace, workspace_bytes, stream);
}

}  // namespace ebm::cuda
