// Direct backward-weight of a stride-1 3×3 convolution for float32 (see conv_direct.h):
//   dW[o][i][t] = Σ_n Σ_q gyp[o][q] · xp[i][q + off_t]
// over the padded grid of conv_simd.h (xp: the zero-padded input; gyp: grad_out on the same
// grid, zero off the outputs, rows aligned to the vector width). A micro-kernel keeps 8 output
// channels × the 3 taps of one kernel row in vector registers over a long run of q (several
// small images stacked on one grid), then folds the lanes. With enough channels a
// channel-vectorised kernel visits only the real positions instead (no padding lanes).
// Threads take disjoint parts of dW (never a shared sum), so the result does not depend on the
// thread count.
#include "core/cpu/conv_direct.h"

#include "core/cpu/conv_simd.h"
#include "core/cpu/parallel.h"

namespace ebm::cpu {

#if defined(EBM_DIRECT_CONV)

namespace {

using namespace conv_simd;

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

// ---- channel-vectorised variant: lanes are output channels, so only real output positions are
// visited (the padded grid wastes 11 % of its lanes at 32×32, 21-56 % at 16×16-4×4) and the
// lanes never need folding:
//   acc[t][v·L + lane] += gyT[pos][v·L + lane] · xp[i][qoff[pos] + off_t]
// over the positions of several images (xp holds channel i of each at `plane` intervals, qoff
// maps a position to its padded-grid offset). Per position: V grad loads, 9 broadcasts, 9·V FMAs.
template <int V>
void micro_weight_channel(const float* __restrict gq, const float* __restrict xi,
                          const int64_t* qoff, int64_t npos, const int64_t* offs,
                          float* __restrict accbuf) {
  vf acc[kTapsW][V];
#pragma GCC unroll 9
  for (int t = 0; t < kTapsW; ++t)
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) acc[t][v] = vzero();
  int64_t off[kTapsW];
#pragma GCC unroll 9
  for (int t = 0; t < kTapsW; ++t) off[t] = offs[t];
  for (int64_t p = 0; p < npos; ++p) {
    vf gv[V];
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) gv[v] = vload(gq + (p * V + v) * L);
    const float* base = xi + qoff[p];
#pragma GCC unroll 9
    for (int t = 0; t < kTapsW; ++t) {
      const vf b = vbcast(base + off[t]);
#pragma GCC unroll 2
      for (int v = 0; v < V; ++v) acc[t][v] = vfma(b, gv[v], acc[t][v]);
    }
  }
#pragma GCC unroll 9
  for (int t = 0; t < kTapsW; ++t)
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) {
      float* a = accbuf + (t * V + v) * L;
      vstore(a, vadd(vload(a), acc[t][v]));
    }
}

constexpr int kMaxVw = std::max(1, kMaxAcc / kTapsW);  // channel vectors per run (2 / 1)

// Whether backward_weight_channel should run: output channels for at least two vectors and a
// reduction long enough for its per-run overhead (a 3-channel stem is faster on the grid). On the
// IGEBM shapes at batch 8 it is 15-40 % faster than the grid kernel, 32×32 planes included.
bool use_weight_channel(const Corr& g) { return g.Co >= 2 * L && g.Ci >= 16; }

void backward_weight_channel(const Corr& g, const float* x, const float* gy, float* dw) {
  const int64_t plane = g.plane(), Ho = g.Ho(), Wo = g.Wo(), HWo = Ho * Wo, Wp = g.Wp();
  const int64_t width = kMaxVw * L, nob = (g.Co + width - 1) / width;
  // Images per pass: the padded input of all channels within ~512 KB (same for any thread count).
  const int64_t G = std::clamp<int64_t>((512 << 10) / (g.Ci * plane * 4), 1, g.N);
  const std::vector<int64_t> offs = g.offsets();
  std::vector<int64_t> qoff(static_cast<size_t>(G * HWo));
  for (int64_t j = 0; j < G; ++j)
    for (int64_t pos = 0; pos < HWo; ++pos) qoff[j * HWo + pos] = j * plane + pos / Wo * Wp + pos % Wo;
  const int64_t in_size = g.Ci * g.H * g.W, out_size = g.Co * HWo;
  const int nt = num_threads();
  const int64_t work = g.N * g.Co * g.Ci * kTapsW * HWo;
  const int64_t parts = (nt > 1 && work >= kParallelGrain && g.Ci >= nt) ? nt : 1;
  auto body = [&](int64_t part, int64_t nparts) {  // input channels [i0, i1)
    const int64_t i0 = part * g.Ci / nparts, i1 = (part + 1) * g.Ci / nparts, ni = i1 - i0;
    if (ni <= 0) return;
    const int64_t xstride = G * plane + L;  // channel i's planes of the pass, + read slack
    float* xp = thread_scratch<0>(static_cast<size_t>(ni * xstride + offs.back() + L));
    float* gyt = thread_scratch<1>(static_cast<size_t>(nob * G * HWo * width));
    float* part_dw = thread_scratch<3>(static_cast<size_t>(nob * ni * kTapsW * width));
    std::fill(part_dw, part_dw + nob * ni * kTapsW * width, 0.0f);
    zero_floats(xp + ni * xstride, offs.back() + L);
    for (int64_t n0 = 0; n0 < g.N; n0 += G) {
      const int64_t gc = std::min(G, g.N - n0);
      for (int64_t j = 0; j < gc; ++j) {
        pad_image(x + (n0 + j) * in_size, g, xp + j * plane, xstride, i0, i1);
        // grad_out transposed: gyt[ob][j·HWo + pos][lane], zero past Co.
        for (int64_t ob = 0; ob < nob; ++ob)
          for (int64_t c = 0; c < width; ++c) {
            const int64_t o = ob * width + c;
            float* d = gyt + (ob * G * HWo + j * HWo) * width + c;
            if (o >= g.Co) {
              for (int64_t pos = 0; pos < HWo; ++pos) d[pos * width] = 0.0f;
              continue;
            }
            const float* src = gy + (n0 + j) * out_size + o * HWo;
            for (int64_t pos = 0; pos < HWo; ++pos) d[pos * width] = src[pos];
          }
      }
      for (int64_t ob = 0; ob < nob; ++ob)
        for (int64_t i = 0; i < ni; ++i)
          micro_weight_channel<kMaxVw>(gyt + ob * G * HWo * width, xp + i * xstride, qoff.data(),
                                       gc * HWo, offs.data(), part_dw + (ob * ni + i) * kTapsW * width);
    }
    for (int64_t ob = 0; ob < nob; ++ob)
      for (int64_t i = 0; i < ni; ++i)
        for (int64_t t = 0; t < kTapsW; ++t)
          for (int64_t c = 0; c < width && ob * width + c < g.Co; ++c)
            dw[((ob * width + c) * g.Ci + i0 + i) * kTapsW + t] =
                part_dw[((ob * ni + i) * kTapsW + t) * width + c];
  };
  if (parts == 1) return body(0, 1);
#if defined(_OPENMP)
#pragma omp parallel
  body(omp_get_thread_num(), omp_get_num_threads());
#endif
}

}  // namespace

bool direct_conv2d_backward_weight(const float* gy, const float* x, float* dw, int64_t N,
                                   int64_t C, int64_t H, int64_t W, int64_t Co, int64_t kh,
                                   int64_t kw, int64_t p) {
  if (kh != 3 || kw != 3) return false;
  const Corr g{N, C, H, W, Co, kh, kw, p, p, nullptr, 0, 0, 0};
  if (use_weight_channel(g))
    backward_weight_channel(g, x, gy, dw);
  else
    backward_weight(g, x, gy, dw);
  return true;
}

#else

bool direct_conv2d_backward_weight(const float*, const float*, float*, int64_t, int64_t, int64_t,
                                   int64_t, int64_t, int64_t, int64_t, int64_t) {
  return false;
}

#endif

}  // namespace ebm::cpu
