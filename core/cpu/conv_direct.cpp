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
// w'(c, co, t) = w(co, c, kh·kw-1-t). Backward-weight: conv_direct_weight.cpp. The vector
// unit, row copies, scratch and geometry: conv_simd.h.
// No column matrix is built. Every output element is summed in a fixed order that does not depend
// on its position, the batch or the thread count (threads split images, output blocks or dW
// rectangles, never a sum), so results are deterministic.
#include "core/cpu/conv_direct.h"

#include <type_traits>

#include "core/cpu/conv_simd.h"
#include "core/cpu/parallel.h"

namespace ebm::cpu {

#if defined(EBM_DIRECT_CONV)

namespace {

using namespace conv_simd;

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
// holds w(o0 + j, i, t) at wpk[off + (i·T + t)·width + j] (zero for j >= n). The buffer is the
// calling thread's scratch (packed anew by every call: a conv does not know whether its weights
// changed since the last one).
struct Packed {
  struct Block {
    int64_t o0, n, width, off;
  };
  std::vector<Block> blocks;
  float* wpk = nullptr;
  void pack(const Corr& g) {
    if (blocks.empty()) return;
    int64_t total = 0;
    for (Block& b : blocks) b.off = total, total += g.Ci * g.T() * b.width;
    wpk = thread_scratch<2>(static_cast<size_t>(total));
    const int64_t T = g.T();
    parallel_for(static_cast<int64_t>(blocks.size()), g.Ci * T * blocks[0].width, [&](int64_t b0, int64_t b1) {
      for (int64_t bi = b0; bi < b1; ++bi) {
        const Block& b = blocks[bi];
        for (int64_t i = 0; i < g.Ci; ++i)
          for (int64_t t = 0; t < T; ++t) {  // one row of the panel: the block's channels
            float* d = wpk + b.off + (i * T + t) * b.width;
            const float* s = g.wbase + b.o0 * g.os + i * g.is + t * g.ts;
            for (int64_t j = 0; j < b.n; ++j) d[j] = s[j * g.os];
            for (int64_t j = b.n; j < b.width; ++j) d[j] = 0.0f;
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

  int64_t group(int64_t) const { return 1; }  // its weights are re-read per block anyway

  void run(const float* xp, float* yn, const float* b, int64_t b0, int64_t b1) const {
    alignas(64) float tile[kMaxR * kMaxV * L];
    const int64_t Wp = g_.Wp(), Wo = g_.Wo(), HWo = g_.Ho() * Wo, Qv = g_.Qv(), T = g_.T();
    for (int64_t bk = b0; bk < b1; ++bk) {
      const int64_t q0 = bk * LV_, q1 = std::min(q0 + LV_, Qv);
      for (size_t c = 0; c < fns_.size(); ++c) {
        const Packed::Block& pb = packed_.blocks[c];
        fns_[c](xp + q0, g_.plane(), g_.Ci, offs_.data(), T, packed_.wpk + pb.off, tile);
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
  // Images padded and run together (up to max), so that each channel block's packed weights
  // stay in L2 across all their position blocks: small planes have few blocks per image, and
  // with 256 channels the weights (2.4 MB) would otherwise stream from L3 for every image.
  int64_t group(int64_t max) const {
    const int64_t bytes = g_.Ci * g_.plane() * static_cast<int64_t>(sizeof(float));
    return std::clamp<int64_t>((384 << 10) / std::max<int64_t>(bytes, 1), 1, std::max<int64_t>(max, 1));
  }

  // Position blocks [b0, b1) of nimg images: image k padded at xp + k·Ci·plane, its output at
  // yn + k·Co·Ho·Wo. Channel blocks outermost (see group()).
  void run(const float* xp, int64_t nimg, float* yn, const float* b, int64_t b0, int64_t b1) const {
    alignas(64) float tile[P * kMaxChannelV * L];
    const int64_t HWo = g_.Ho() * g_.Wo(), T = g_.T();
    for (size_t c = 0; c < fns_.size(); ++c) {
      const Packed::Block& pb = packed_.blocks[c];
      for (int64_t k = 0; k < nimg; ++k)
        for (int64_t bk = b0; bk < b1; ++bk) {
          const int64_t p0 = bk * P, np = std::min<int64_t>(P, HWo - p0);
          fns_[c](xp + k * g_.Ci * g_.plane(), g_.plane(), g_.Ci, offs_.data(), T,
                  qoff_.data() + p0, packed_.wpk + pb.off, tile);
          for (int64_t j = 0; j < pb.n; ++j) {
            float* d = yn + k * g_.Co * HWo + (pb.o0 + j) * HWo + p0;
            const float bv = b ? b[pb.o0 + j] : 0.0f;
            for (int64_t p = 0; p < np; ++p)
              d[p] = b ? tile[p * pb.width + j] + bv : tile[p * pb.width + j];
          }
        }
    }
  }
  void run(const float* xp, float* yn, const float* b, int64_t b0, int64_t b1) const {
    run(xp, 1, yn, b, b0, b1);
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
  // (Its tile goes out by scalar transposed stores: a short reduction, as in a 3-channel stem,
  // does not pay for them.)
  if (g.Ci * g.T() < 64) return spatial < 0.7;
  return spatial < 0.85 || (spatial < 0.95 && g.Co >= 4 * L);
}

// y [N, Co, Ho, Wo] = the correlation g of x [N, Ci, H, W], plus bias b (or null).
template <class Runner>
void correlate(const Corr& g, const float* x, const float* b, float* y) {
  const Runner run(g);
  const int64_t in_size = g.Ci * g.H * g.W, out_size = g.Co * g.Ho() * g.Wo();
  const int64_t work = run.cost_per_block() * run.blocks();  // multiply-adds per image
  const int64_t img = g.Ci * g.plane();
  // Images split over the threads (or all on this one), else one image at a time, threads
  // sharing its blocks.
  auto by_images = [&](int64_t t, int64_t T) {
    const int64_t n0 = t * g.N / T, n1 = (t + 1) * g.N / T, G = run.group(n1 - n0);
    float* xp = thread_scratch<0>(static_cast<size_t>(G * img + run.slack()));
    zero_floats(xp + G * img, run.slack());
    for (int64_t n = n0; n < n1; n += G) {
      const int64_t gc = std::min(G, n1 - n);
      for (int64_t k = 0; k < gc; ++k)
        pad_image(x + (n + k) * in_size, g, xp + k * img, g.plane(), 0, g.Ci);
      if constexpr (std::is_same_v<Runner, ChannelRunner>)
        run.run(xp, gc, y + n * out_size, b, 0, run.blocks());
      else
        run.run(xp, y + n * out_size, b, 0, run.blocks());
    }
  };
  const int nt = num_threads();
  if (nt == 1 || omp_in_parallel_safe()) return by_images(0, 1);
  if (g.N >= nt && g.N * work >= kParallelGrain) {
#if defined(_OPENMP)
#pragma omp parallel
    by_images(omp_get_thread_num(), omp_get_num_threads());
#endif
    return;
  }
  float* xp = thread_scratch<0>(static_cast<size_t>(img + run.slack()));
  zero_floats(xp + img, run.slack());
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

#else  // no SIMD kernels in this build: conv.cpp keeps im2col + GEMM

bool direct_conv_available() { return false; }
void direct_conv2d_forward(const float*, const float*, const float*, float*, int64_t, int64_t,
                           int64_t, int64_t, int64_t, int64_t, int64_t, int64_t) {}
void direct_conv2d_backward_input(const float*, const float*, float*, int64_t, int64_t, int64_t,
                                  int64_t, int64_t, int64_t, int64_t, int64_t) {}

#endif

}  // namespace ebm::cpu
