// Direct stride-1 convolution for float32 (see conv_direct.h).
//
// Each image is copied once into a zero-padded buffer xp [Ci][Hp·Wp] (Hp = H + 2ph, Wp = W + 2pw).
// In the flattened coordinate q = oh·Wp + ow of that buffer every tap is one constant offset:
//   y[o][oh, ow] = Σ_i Σ_t w(o, i, t) · xp[i][q + off_t],   off_t = ki·Wp + kj.
// Two register-blocked micro-kernels run the whole reduction over (i, t) for a block of outputs:
//  - spatial: R output channels × V vectors of L consecutive q's (q's with ow >= Wo straddle the
//    padding and are dropped on the way out); per step V loads, R broadcast weights, R·V FMAs.
//    For planes whose rows are long compared with the padding.
//  - channel: 8 output positions × V vectors of L output channels; per step V weight loads,
//    8 broadcast inputs, 8·V FMAs, and no padding lanes. For small planes (8×8, 4×4), where the
//    spatial kernel would waste a third or more of its lanes.
// Backward-input is the same correlation of grad_out (zero-padded by kh-1-p / kw-1-p) with
// w'(c, co, t) = w(co, c, kh·kw-1-t). Backward-weight (3×3) reduces grad_out against shifted
// rows of xp: dW[o][i][t] = Σ_n Σ_q gyp[o][q] · xp[i][q + off_t], with gy laid out on the same
// padded grid (zeros off the outputs) and several small images stacked so each run is long.
// No column matrix is built. Every output element is summed in a fixed order that does not depend
// on its position, the batch or the thread count (threads split images, output blocks or dW
// rectangles, never a sum), so results are deterministic.
#include "core/cpu/conv_direct.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/cpu/parallel.h"

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#define EBM_DIRECT_CONV 1
#endif

namespace ebm::cpu {

#if defined(EBM_DIRECT_CONV)

namespace {

// ---- the vector unit

#if defined(__AVX512F__)
constexpr int L = 16;        // floats per vector
constexpr int kMaxAcc = 24;  // accumulators a micro-kernel may keep (32 registers)
using vf = __m512;
inline vf vload(const float* p) { return _mm512_loadu_ps(p); }
inline void vstore(float* p, vf v) { _mm512_storeu_ps(p, v); }
inline vf vfma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
inline vf vadd(vf a, vf b) { return _mm512_add_ps(a, b); }
inline vf vbcast(const float* p) { return _mm512_set1_ps(*p); }
inline vf vzero() { return _mm512_setzero_ps(); }
inline float vsum(vf v) { return _mm512_reduce_add_ps(v); }
// The first n < L lanes.
inline vf vload_part(const float* p, int64_t n) {
  return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1), p);
}
inline void vstore_part(float* p, vf v, int64_t n) {
  _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1), v);
}
#else
constexpr int L = 8;
constexpr int kMaxAcc = 12;  // 16 registers
using vf = __m256;
inline vf vload(const float* p) { return _mm256_loadu_ps(p); }
inline void vstore(float* p, vf v) { _mm256_storeu_ps(p, v); }
inline vf vfma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
inline vf vadd(vf a, vf b) { return _mm256_add_ps(a, b); }
inline vf vbcast(const float* p) { return _mm256_broadcast_ss(p); }
inline vf vzero() { return _mm256_setzero_ps(); }
inline float vsum(vf v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline __m256i lanes_below(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
inline vf vload_part(const float* p, int64_t n) { return _mm256_maskload_ps(p, lanes_below(n)); }
inline void vstore_part(float* p, vf v, int64_t n) { _mm256_maskstore_ps(p, lanes_below(n), v); }
#endif

// Short row copies inline (rows are 4-34 floats: a memcpy call per row costs more than the copy).
inline void copy_add(float* d, const float* s, int64_t n, const float* bias) {
  const float zero = 0.0f;
  const vf b = vbcast(bias ? bias : &zero);
  int64_t k = 0;
  for (; k + L <= n; k += L) vstore(d + k, bias ? vadd(vload(s + k), b) : vload(s + k));
  if (k < n) {
    const vf v = vload_part(s + k, n - k);
    vstore_part(d + k, bias ? vadd(v, b) : v, n - k);
  }
}
inline void zero_floats(float* d, int64_t n) {
  int64_t k = 0;
  for (; k + L <= n; k += L) vstore(d + k, vzero());
  if (k < n) vstore_part(d + k, vzero(), n - k);
}

// A growable float buffer per thread and slot, kept across calls (no allocation per conv).
template <int Slot>
float* thread_scratch(size_t n) {
  thread_local std::vector<float> buf;
  if (buf.size() < n + 16) buf.resize(n + 16);
  const uintptr_t a = reinterpret_cast<uintptr_t>(buf.data());
  return buf.data() + ((64 - a % 64) % 64) / sizeof(float);  // 64-byte aligned
}

int num_threads() {
#if defined(_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}

// ---- geometry

// One stride-1 correlation: input [N, Ci, H, W] padded by (ph, pw), output [N, Co, Ho, Wo],
// weights w(o, i, t) = wbase[o·os + i·is + t·ts].
struct Corr {
  int64_t N, Ci, H, W, Co, kh, kw, ph, pw;
  const float* wbase;
  int64_t os, is, ts;
  int64_t Ho() const { return H + 2 * ph - kh + 1; }
  int64_t Wo() const { return W + 2 * pw - kw + 1; }
  int64_t Hp() const { return H + 2 * ph; }
  int64_t Wp() const { return W + 2 * pw; }
  int64_t plane() const { return Hp() * Wp(); }
  int64_t T() const { return kh * kw; }
  int64_t Qv() const { return (Ho() - 1) * Wp() + Wo(); }  // q's that cover every output
  float w(int64_t o, int64_t i, int64_t t) const { return wbase[o * os + i * is + t * ts]; }
  std::vector<int64_t> offsets() const {
    std::vector<int64_t> offs;
    for (int64_t ki = 0; ki < kh; ++ki)
      for (int64_t kj = 0; kj < kw; ++kj) offs.push_back(ki * Wp() + kj);
    return offs;
  }
};

// Channels [c0, c1) of one image x_n [C, H, W], zero-padded by (ph, pw), into planes of
// `stride` floats at xp (channel c at xp + (c - c0)·stride).
void pad_image(const float* xn, const Corr& g, float* xp, int64_t stride, int64_t c0, int64_t c1) {
  const int64_t Wp = g.Wp(), Hp = g.Hp();
  for (int64_t c = c0; c < c1; ++c) {
    float* d = xp + (c - c0) * stride;
    const float* s = xn + c * g.H * g.W;
    zero_floats(d, g.ph * Wp);
    for (int64_t h = 0; h < g.H; ++h) {
      float* row = d + (g.ph + h) * Wp;
      zero_floats(row, g.pw);
      copy_add(row + g.pw, s + h * g.W, g.W, nullptr);
      zero_floats(row + g.pw + g.W, g.pw);
    }
    zero_floats(d + (g.ph + g.H) * Wp, (Hp - g.ph - g.H) * Wp);
  }
}

// ---- spatial micro-kernel: tile [R][V·L] = Σ_{i,t} wp[i][t][r] · xp[i][q0 + v·L + lane + off_t].
// NT > 0: the tap count at compile time (3×3 → 9).
template <int R, int V, int NT>
void micro_spatial(const float* __restrict xq, int64_t plane, int64_t Ci, const int64_t* offs,
                   int64_t taps, const float* __restrict wp, float* __restrict tile) {
  vf acc[R][V];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc[r][v] = vzero();
  const int64_t nt = NT > 0 ? NT : taps;
  for (int64_t i = 0; i < Ci; ++i) {
    const float* xi = xq + i * plane;
#pragma GCC unroll 9
    for (int64_t t = 0; t < nt; ++t) {
      const float* s = xi + offs[t];
      vf xv[V];
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) xv[v] = vload(s + v * L);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const vf b = vbcast(wp + r);
#pragma GCC unroll 4
        for (int v = 0; v < V; ++v) acc[r][v] = vfma(b, xv[v], acc[r][v]);
      }
      wp += R;
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) vstore(tile + r * V * L + v * L, acc[r][v]);
}

// ---- channel micro-kernel: tile [8][V·L] = Σ_{i,t} xp[i][qo[p] + off_t] · wp[i][t][v·L + lane].
template <int V, int NT>
void micro_channel(const float* __restrict xp, int64_t plane, int64_t Ci, const int64_t* offs,
                   int64_t taps, const int64_t* qo, const float* __restrict wp,
                   float* __restrict tile) {
  constexpr int P = 8;
  vf acc[P][V];
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc[p][v] = vzero();
  int64_t q[P];
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p) q[p] = qo[p];
  const int64_t nt = NT > 0 ? NT : taps;
  for (int64_t i = 0; i < Ci; ++i) {
    const float* xi = xp + i * plane;
#pragma GCC unroll 9
    for (int64_t t = 0; t < nt; ++t) {
      const float* s = xi + offs[t];
      vf wv[V];
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) wv[v] = vload(wp + v * L);
#pragma GCC unroll 8
      for (int p = 0; p < P; ++p) {
        const vf b = vbcast(s + q[p]);
#pragma GCC unroll 4
        for (int v = 0; v < V; ++v) acc[p][v] = vfma(b, wv[v], acc[p][v]);
      }
      wp += V * L;
    }
  }
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) vstore(tile + p * V * L + v * L, acc[p][v]);
}

using SpatialFn = void (*)(const float*, int64_t, int64_t, const int64_t*, int64_t, const float*,
                           float*);
using ChannelFn = void (*)(const float*, int64_t, int64_t, const int64_t*, int64_t,
                           const int64_t*, const float*, float*);

template <int R, int V>
SpatialFn spatial_fn(int64_t taps) {
  if constexpr (R * V <= kMaxAcc)
    return taps == 9 ? &micro_spatial<R, V, 9> : &micro_spatial<R, V, 0>;
  return nullptr;
}
template <int R>
SpatialFn spatial_fn(int V, int64_t taps) {
  switch (V) {
    case 1: return spatial_fn<R, 1>(taps);
    case 2: return spatial_fn<R, 2>(taps);
    case 3: return spatial_fn<R, 3>(taps);
    default: return spatial_fn<R, 4>(taps);
  }
}
SpatialFn spatial_fn(int R, int V, int64_t taps) {
  switch (R) {
    case 1: return spatial_fn<1>(V, taps);
    case 2: return spatial_fn<2>(V, taps);
    case 4: return spatial_fn<4>(V, taps);
    default: return spatial_fn<8>(V, taps);
  }
}
template <int V>
ChannelFn channel_fn(int64_t taps) {
  if constexpr (8 * V <= kMaxAcc)
    return taps == 9 ? &micro_channel<V, 9> : &micro_channel<V, 0>;
  return nullptr;
}
ChannelFn channel_fn(int V, int64_t taps) {
  switch (V) {
    case 1: return channel_fn<1>(taps);
    case 2: return channel_fn<2>(taps);
    default: return channel_fn<3>(taps);
  }
}

constexpr int kMaxR = 8, kMaxV = 4;
constexpr int kMaxChannelV = kMaxAcc / 8;

// Vectors per q-block of the spatial kernel: the fewest estimated cycles over all blocks (per
// reduction step about max(R·V FMAs, R + V loads) / 2 per cycle).
int choose_v(int64_t Qv, int R) {
  int best = 1;
  double best_cost = 1e300;
  for (int V = 1; V <= kMaxV && R * V <= kMaxAcc; ++V) {
    const int64_t blocks = (Qv + V * L - 1) / (V * L);
    const double cost = static_cast<double>(blocks) * std::max(R * V, R + V);
    if (cost < best_cost - 1e-9) best = V, best_cost = cost;
  }
  return best;
}

// Output channel blocks and their packed weights: block b covers channels [o0, o0 + n) and
// holds w(o0 + j, i, t) at wpk[off + (i·T + t)·width + j] (zero for j >= n).
struct Packed {
  struct Block {
    int64_t o0, n, width, off;
  };
  std::vector<Block> blocks;
  std::vector<float> wpk;
  void pack(const Corr& g) {
    if (blocks.empty()) return;
    int64_t total = 0;
    for (Block& b : blocks) b.off = total, total += g.Ci * g.T() * b.width;
    wpk.assign(static_cast<size_t>(total), 0.0f);
    const int64_t T = g.T();
    parallel_for(static_cast<int64_t>(blocks.size()), g.Ci * T * blocks[0].width, [&](int64_t b0, int64_t b1) {
      for (int64_t bi = b0; bi < b1; ++bi) {
        const Block& b = blocks[bi];
        for (int64_t i = 0; i < g.Ci; ++i) {  // per i a T × width panel, small enough for L1
          float* d = wpk.data() + b.off + i * T * b.width;
          for (int64_t j = 0; j < b.n; ++j) {
            const float* s = g.wbase + (b.o0 + j) * g.os + i * g.is;
            for (int64_t t = 0; t < T; ++t) d[t * b.width + j] = s[t * g.ts];
          }
        }
      }
    });
  }
};

// ---- runners: one correlation's plan; run() computes output blocks [b0, b1) of one image.

class SpatialRunner {
 public:
  explicit SpatialRunner(const Corr& g) : g_(g), offs_(g.offsets()) {
    R_ = g.Co >= kMaxR ? kMaxR : g.Co >= 4 ? 4 : g.Co >= 2 ? 2 : 1;
    V_ = choose_v(g.Qv(), R_);
    LV_ = V_ * L;
    blocks_ = (g.Qv() + LV_ - 1) / LV_;
    for (int64_t o = 0; o < g.Co;) {  // full blocks of R_, then the tail in powers of two
      int r = R_;
      while (o + r > g.Co) r /= 2;
      packed_.blocks.push_back({o, r, r, 0});
      fns_.push_back(spatial_fn(r, V_, g.T()));
      o += r;
    }
    packed_.pack(g);
  }
  int64_t blocks() const { return blocks_; }
  int64_t cost_per_block() const { return g_.Co * g_.Ci * g_.T() * LV_; }
  int64_t slack() const { return LV_ + L; }  // floats read past the last plane

  void run(const float* xp, float* yn, const float* b, int64_t b0, int64_t b1) const {
    alignas(64) float tile[kMaxR * kMaxV * L];
    const int64_t Wp = g_.Wp(), Wo = g_.Wo(), HWo = g_.Ho() * Wo, Qv = g_.Qv(), T = g_.T();
    for (int64_t bk = b0; bk < b1; ++bk) {
      const int64_t q0 = bk * LV_, q1 = std::min(q0 + LV_, Qv);
      for (size_t c = 0; c < fns_.size(); ++c) {
        const Packed::Block& pb = packed_.blocks[c];
        fns_[c](xp + q0, g_.plane(), g_.Ci, offs_.data(), T, packed_.wpk.data() + pb.off, tile);
        // The valid runs (ow < Wo) of each output row the block touches.
        for (int64_t oh = q0 / Wp; oh * Wp < q1; ++oh) {
          const int64_t s = std::max(q0, oh * Wp), e = std::min(q1, oh * Wp + Wo);
          if (s >= e) continue;
          for (int64_t r = 0; r < pb.n; ++r)
            copy_add(yn + (pb.o0 + r) * HWo + oh * Wo + (s - oh * Wp), tile + r * LV_ + (s - q0),
                     e - s, b ? b + pb.o0 + r : nullptr);
        }
      }
    }
  }

 private:
  Corr g_;
  std::vector<int64_t> offs_;
  Packed packed_;
  std::vector<SpatialFn> fns_;
  int R_ = 1, V_ = 1;
  int64_t LV_ = L, blocks_ = 0;
};

class ChannelRunner {
 public:
  static constexpr int P = 8;
  explicit ChannelRunner(const Corr& g) : g_(g), offs_(g.offsets()) {
    const int64_t HWo = g.Ho() * g.Wo();
    blocks_ = (HWo + P - 1) / P;
    for (int64_t k = 0; k < blocks_ * P; ++k) {  // past the end: repeat the last position
      const int64_t pos = std::min(k, HWo - 1);
      qoff_.push_back(pos / g.Wo() * g.Wp() + pos % g.Wo());
    }
    for (int64_t o = 0; o < g.Co;) {
      int64_t v = std::min<int64_t>(kMaxChannelV, (g.Co - o + L - 1) / L);
      // 3 + 1 vectors left: 2 + 2 keeps more accumulators busy.
      if (v == 3 && (g.Co - o + L - 1) / L == 4) v = 2;
      const int64_t n = std::min(v * L, g.Co - o);
      packed_.blocks.push_back({o, n, v * L, 0});
      fns_.push_back(channel_fn(static_cast<int>(v), g.T()));
      o += n;
    }
    packed_.pack(g);
  }
  int64_t blocks() const { return blocks_; }
  int64_t cost_per_block() const { return g_.Co * g_.Ci * g_.T() * P; }
  int64_t slack() const { return L; }

  void run(const float* xp, float* yn, const float* b, int64_t b0, int64_t b1) const {
    alignas(64) float tile[P * kMaxChannelV * L];
    const int64_t HWo = g_.Ho() * g_.Wo(), T = g_.T();
    for (int64_t bk = b0; bk < b1; ++bk) {
      const int64_t p0 = bk * P, np = std::min<int64_t>(P, HWo - p0);
      for (size_t c = 0; c < fns_.size(); ++c) {
        const Packed::Block& pb = packed_.blocks[c];
        fns_[c](xp, g_.plane(), g_.Ci, offs_.data(), T, qoff_.data() + p0,
                packed_.wpk.data() + pb.off, tile);
        for (int64_t j = 0; j < pb.n; ++j) {
          float* d = yn + (pb.o0 + j) * HWo + p0;
          const float bv = b ? b[pb.o0 + j] : 0.0f;
          for (int64_t p = 0; p < np; ++p) d[p] = b ? tile[p * pb.width + j] + bv : tile[p * pb.width + j];
        }
      }
    }
  }

 private:
  Corr g_;
  std::vector<int64_t> offs_, qoff_;
  Packed packed_;
  std::vector<ChannelFn> fns_;
  int64_t blocks_ = 0;
};

// The channel kernel where the spatial one would waste more than 15 % of its lanes on padding
// (small planes) and there are enough output channels to fill its vectors, or more than 5 %
// with channels for several full blocks (measured on the IGEBM shapes: 16×16 planes with
// 128-256 channels run 3-7 % faster in the channel kernel; 32×32 ones are a tie).
bool use_channel_kernel(const Corr& g) {
  if (g.Co < L / 2 || kMaxChannelV < 1) return false;
  const int R = g.Co >= kMaxR ? kMaxR : 4;
  const int64_t LV = choose_v(g.Qv(), R) * L;
  const double spatial = static_cast<double>(g.Ho() * g.Wo()) / (((g.Qv() + LV - 1) / LV) * LV);
  return spatial < 0.85 || (spatial < 0.95 && g.Co >= 4 * L);
}

// y [N, Co, Ho, Wo] = the correlation g of x [N, Ci, H, W], plus bias b (or null).
template <class Runner>
void correlate(const Corr& g, const float* x, const float* b, float* y) {
  const Runner run(g);
  const int64_t in_size = g.Ci * g.H * g.W, out_size = g.Co * g.Ho() * g.Wo();
  const int64_t work = run.cost_per_block() * run.blocks();  // multiply-adds per image
  const size_t xp_size = static_cast<size_t>(g.Ci * g.plane() + run.slack());
  auto clear_slack = [&](float* xp) { zero_floats(xp + g.Ci * g.plane(), run.slack()); };
  const int nt = num_threads();
  if (nt > 1 && g.N >= nt && g.N * work >= kParallelGrain) {
#if defined(_OPENMP)
#pragma omp parallel
    {
      const int64_t t = omp_get_thread_num(), T = omp_get_num_threads();
      float* xp = thread_scratch<0>(xp_size);
      clear_slack(xp);
      for (int64_t n = t * g.N / T; n < (t + 1) * g.N / T; ++n) {
        pad_image(x + n * in_size, g, xp, g.plane(), 0, g.Ci);
        run.run(xp, y + n * out_size, b, 0, run.blocks());
      }
    }
#endif
    return;
  }
  float* xp = thread_scratch<0>(xp_size);
  clear_slack(xp);
  for (int64_t n = 0; n < g.N; ++n) {
    parallel_for(g.Ci, g.plane(), [&](int64_t c0, int64_t c1) {
      pad_image(x + n * in_size, g, xp + c0 * g.plane(), g.plane(), c0, c1);
    });
    parallel_for(run.blocks(), run.cost_per_block(), [&](int64_t b0, int64_t b1) {
      run.run(xp, y + n * out_size, b, b0, b1);
    });
  }
}

void correlate(const Corr& g, const float* x, const float* b, float* y) {
  if (use_channel_kernel(g)) return correlate<ChannelRunner>(g, x, b, y);
  correlate<SpatialRunner>(g, x, b, y);
}

// ---- backward-weight (3×3 taps)

constexpr int kKw = 3;                       // taps per kernel row
constexpr int kTapsW = 9;
constexpr int kMaxRo = kMaxAcc / kKw;        // output channels per run (8 with AVX-512, 4 AVX2)

// For one kernel row ki (offs: its 3 tap offsets ki·Wp + kj):
//   out[r·os + kj] += Σ_k Σ_lanes gq[r·gs + k·L + lane] · xq[k·L + lane + offs[kj]],  k < nvec.
// Per step RO aligned grad loads and 3 shifted input loads feed 3·RO FMAs.
template <int RO>
void micro_weight(const float* __restrict gq, int64_t gs, const float* __restrict xq,
                  const int64_t* offs, int64_t nvec, float* __restrict out, int64_t os) {
  vf acc[RO][kKw];
#pragma GCC unroll 8
  for (int r = 0; r < RO; ++r)
#pragma GCC unroll 3
    for (int t = 0; t < kKw; ++t) acc[r][t] = vzero();
  const float* x0 = xq + offs[0];
  const float* x1 = xq + offs[1];
  const float* x2 = xq + offs[2];
  for (int64_t k = 0; k < nvec; ++k) {
    const vf a = vload(x0 + k * L), b = vload(x1 + k * L), c = vload(x2 + k * L);
#pragma GCC unroll 8
    for (int r = 0; r < RO; ++r) {
      vf gv = vload(gq + r * gs + k * L);
      __asm__("" : "+v"(gv));  // one load in a register, not three folded into the FMAs
      acc[r][0] = vfma(gv, a, acc[r][0]);
      acc[r][1] = vfma(gv, b, acc[r][1]);
      acc[r][2] = vfma(gv, c, acc[r][2]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < RO; ++r)
#pragma GCC unroll 3
    for (int t = 0; t < kKw; ++t) out[r * os + t] += vsum(acc[r][t]);
}

using WeightFn = void (*)(const float*, int64_t, const float*, const int64_t*, int64_t, float*,
                          int64_t);
WeightFn weight_fn(int ro) {
  switch (ro) {
    case 1: return &micro_weight<1>;
    case 2: return &micro_weight<2>;
    case 4: return &micro_weight<4>;
    default: return &micro_weight<kMaxRo>;
  }
}

// dw [Co, Ci, 3, 3] for x [N, Ci, H, W] and gy [N, Co, Ho, Wo] (g: the forward correlation).
// Images are stacked G at a time on one padded grid (gyp: grad_out, zero off the outputs, rows
// aligned to the vector width; xp: the padded input), so each run reduces over G planes at once.
void backward_weight(const Corr& g, const float* x, const float* gy, float* dw) {
  const int64_t plane = g.plane(), Wp = g.Wp(), Ho = g.Ho(), Wo = g.Wo();
  const int64_t G = std::max<int64_t>(1, std::min<int64_t>(g.N, 1536 / plane));
  const int64_t stride = (G * plane + 2 * L - 1) / L * L;  // one channel's planes, vector-aligned
  const std::vector<int64_t> offs = g.offsets();
  const int64_t in_size = g.Ci * g.H * g.W, out_size = g.Co * Ho * Wo;
  // Threads take rectangles of dw: input channels when there are enough, else output channels.
  const int nt = num_threads();
  const int64_t work = g.N * g.Co * g.Ci * kTapsW * plane;
  const int64_t parts = (nt > 1 && work >= kParallelGrain) ? nt : 1;
  const bool split_i = g.Ci >= 2 * parts || g.Co < 2 * parts;
  auto body = [&](int64_t part, int64_t nparts) {
    const int64_t n_split = split_i ? g.Ci : g.Co;
    const int64_t a0 = part * n_split / nparts, a1 = (part + 1) * n_split / nparts;
    const int64_t i0 = split_i ? a0 : 0, i1 = split_i ? a1 : g.Ci;
    const int64_t o0 = split_i ? 0 : a0, o1 = split_i ? g.Co : a1;
    if (i0 >= i1 || o0 >= o1) return;
    for (int64_t o = o0; o < o1; ++o)
      std::fill(dw + (o * g.Ci + i0) * kTapsW, dw + (o * g.Ci + i1) * kTapsW, 0.0f);
    float* xp = thread_scratch<0>(static_cast<size_t>((i1 - i0) * stride + offs.back() + L));
    float* gyp = thread_scratch<1>(static_cast<size_t>((o1 - o0) * stride));
    zero_floats(xp + (i1 - i0) * stride, offs.back() + L);
    for (int64_t n0 = 0; n0 < g.N; n0 += G) {
      const int64_t gc = std::min(G, g.N - n0);
      const int64_t nvec = (gc * plane + L - 1) / L;
      for (int64_t j = 0; j < gc; ++j) {
        pad_image(x + (n0 + j) * in_size, g, xp + j * plane, stride, i0, i1);
        for (int64_t o = o0; o < o1; ++o) {  // gy on the padded grid: row oh at oh·Wp
          float* d = gyp + (o - o0) * stride + j * plane;
          const float* s = gy + (n0 + j) * out_size + o * Ho * Wo;
          for (int64_t oh = 0; oh < Ho; ++oh) {
            copy_add(d + oh * Wp, s + oh * Wo, Wo, nullptr);
            zero_floats(d + oh * Wp + Wo, Wp - Wo);
          }
          zero_floats(d + Ho * Wp, plane - Ho * Wp);
        }
      }
      for (int64_t o = o0; o < o1; ++o)
        zero_floats(gyp + (o - o0) * stride + gc * plane, nvec * L - gc * plane);
      for (int64_t o = o0; o < o1;) {
        int ro = kMaxRo;
        while (o + ro > o1) ro /= 2;
        const WeightFn fn = weight_fn(ro);
        for (int64_t i = i0; i < i1; ++i)
          for (int64_t ki = 0; ki < 3; ++ki)
            fn(gyp + (o - o0) * stride, stride, xp + (i - i0) * stride, offs.data() + ki * kKw,
               nvec, dw + (o * g.Ci + i) * kTapsW + ki * kKw, g.Ci * kTapsW);
        o += ro;
      }
    }
  };
  if (parts == 1) return body(0, 1);
#if defined(_OPENMP)
#pragma omp parallel
  body(omp_get_thread_num(), omp_get_num_threads());
#endif
}

}  // namespace

bool direct_conv_available() { return true; }

void direct_conv2d_forward(const float* x, const float* w, const float* b, float* y, int64_t N,
                           int64_t C, int64_t H, int64_t W, int64_t Co, int64_t kh, int64_t kw,
                           int64_t p) {
  const int64_t T = kh * kw;
  correlate(Corr{N, C, H, W, Co, kh, kw, p, p, w, C * T, T, 1}, x, b, y);
}

void direct_conv2d_backward_input(const float* gy, const float* w, float* dx, int64_t N, int64_t C,
                                  int64_t H, int64_t W, int64_t Co, int64_t kh, int64_t kw,
                                  int64_t p) {
  const int64_t T = kh * kw;
  const int64_t Ho = H + 2 * p - kh + 1, Wo = W + 2 * p - kw + 1;
  // Output channel c, input channel co, tap t: w[co][c][T-1-t].
  correlate(Corr{N, Co, Ho, Wo, C, kh, kw, kh - 1 - p, kw - 1 - p, w + (T - 1), T, C * T, -1}, gy,
            nullptr, dx);
}

bool direct_conv2d_backward_weight(const float* gy, const float* x, float* dw, int64_t N,
                                   int64_t C, int64_t H, int64_t W, int64_t Co, int64_t kh,
                                   int64_t kw, int64_t p) {
  if (kh != 3 || kw != 3) return false;
  backward_weight(Corr{N, C, H, W, Co, kh, kw, p, p, nullptr, 0, 0, 0}, x, gy, dw);
  return true;
}

#else  // no SIMD kernels in this build: conv.cpp keeps im2col + GEMM

bool direct_conv_available() { return false; }
void direct_conv2d_forward(const float*, const float*, const float*, float*, int64_t, int64_t,
                           int64_t, int64_t, int64_t, int64_t, int64_t, int64_t) {}
void direct_conv2d_backward_input(const float*, const float*, float*, int64_t, int64_t, int64_t,
                                  int64_t, int64_t, int64_t, int64_t, int64_t) {}
bool direct_conv2d_backward_weight(const float*, const float*, float*, int64_t, int64_t, int64_t,
                                   int64_t, int64_t, int64_t, int64_t, int64_t) {
  return false;
}

#endif

}  // namespace ebm::cpu
