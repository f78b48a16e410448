// The fused Langevin update: one pass over memory per sampler step for the image-space samplers
// of the papers (specs/igebm-drl.md §1.4 and §2.5, specs/gebm-jem-mebm.md §2.4 and §3.4). It reads
// x, the input gradient (and DRL's conditioning image x̃), draws the noise ξ in registers from the
// shared Philox stream (element i: philox::normal(seed, offset, i), exactly the numbers
// ops::fill_normal_ writes) and writes x in place. The per-element arithmetic, the per-group
// functor and the per-thread body below are EBM_HD code shared by the CPU loop
// (core/cpu/langevin.cpp), the CUDA kernel (cuda/kernels/langevin.cu) and the CPU test that runs
// the body over the launch grid (tests/cpu/test_langevin.cpp).
//
// The variants, in the exact order of their float operations (each op rounded, never fused;
// clamp(v, a, b) = min(max(v, a), b) as ops::unary(Clamp); ξ_i is the float32 standard normal,
// σ·ξ_i is computed as ξ_i·σ + 0 in T like fill_normal_(mean 0, std σ)):
//
//   Noise  x ← x + σ·ξ
//   Igebm  x ← clamp_v(x + (−η)·clamp_g(g)) [+ σ·ξ]       g = ∇ₓE (energy: the step descends)
//   Sgld   x ← clamp_v((x + α·clamp_g(g)) [+ σ·ξ])        g = ∇ₓ log p = ∇ₓ f (JEM, M-EBM: ascends)
//   Drl    y ← ((y + A_t·g) + (−B_t)·(y − x̃)) [+ C_t·ξ]   g = ∇_y f(y, t), the network's raw gradient
//
// clamp_g / clamp_v apply only when enabled; [+ ...] only when add_noise is set. As in
// ops::unary(Clamp), a NaN meets max(v, lo) first and comes out as lo: an enabled clamp hides a
// NaN gradient or x (the sampler's divergence guard must look at the energies); without clamps
// NaN propagates.
//
// IGEBM (spec §1.4): the reference adds the noise *before* evaluating the gradient, then steps
// and clamps. The fused Igebm step therefore finishes step k and adds the noise of step k+1, so
// that the gradient is always taken at the noised point. A chain of K steps is
//   langevin_step_(x, {}, LangevinParams::noise_only(σ))           // noise of step 1
//   for k = 1..K:  g = ∇ₓE(x);  langevin_step_(x, g, igebm(...) with add_noise = k < K)
// i.e. one fused launch per step besides the gradient, plus the first step's noise (which a
// sampler may also fold into the chain initialisation). x between launches is the noised point
// and may lie outside [lo, hi] by the noise, exactly as in the reference.
//
// SGLD (JEM spec §2.4: x + α g + σ ξ, no clamps; M-EBM §3.4: x + α clip(g, −1, 1), + σ ξ if σ > 0,
// then clip x to [−1, 1]): one fused launch after each gradient. JEM writes x + (α g + σ ξ); the
// fused form rounds (x + α g) + σ ξ, as M-EBM does (the two differ by about an ulp of x).
//
// DRL (spec §2.5): y ← y + ½ s_t² ∇_y log p̃(y|x̃) + s_t λ ε with log p̃ = f/s_t² − r‖y − x̃‖²/(2σ²),
// expanded so that the kernel reads the network gradient and x̃ and gathers three per-level
// coefficients by each sample's level t (an int64 per sample, the rows of a [T, 3] table):
// A_t = ½, B_t = r_{t+1} s_t²/(2σ²_{t+1}) (the tether), C_t = λ s_t (drl_langevin_table builds it).
// Sample b covers elements [b·P, (b+1)·P) of x, P = numel / x.size(0). A chain is y ← x̃ (a copy),
// then K times: g = ∇_y f(y, t); langevin_step_(y, g, drl(), gen, {x̃, t, table}) — one launch per
// step besides the gradient; the final y / a'_{t+1} is a separate per-sample scale.
#pragma once

#include <cstdint>
#include <vector>

#include "core/math.h"
#include "core/ops/random.h"
#include "core/philox.h"
#include "core/random.h"
#include "core/tensor.h"

namespace ebm {

enum class LangevinMode : uint8_t { Noise, Igebm, Sgld, Drl };

inline const char* langevin_mode_name(LangevinMode m) {
  switch (m) {
    case LangevinMode::Noise: return "noise";
    case LangevinMode::Igebm: return "igebm";
    case LangevinMode::Sgld: return "sgld";
    case LangevinMode::Drl: return "drl";
  }
  return "?";
}

// One step's configuration. The factories give the recipes of the specs with their defaults.
struct LangevinParams {
  LangevinMode mode = LangevinMode::Sgld;
  double step = 1.0;        // Igebm: η (subtracted), Sgld: α (added); unused by Noise and Drl
  bool add_noise = false;   // draw ξ (normal_words(numel) stream words from `offset`)
  double noise_std = 0.0;   // σ for Noise, Igebm, Sgld; Drl takes C_t from its table
  bool clamp_grad = false;  // Igebm, Sgld: g ← clamp(g, grad_min, grad_max) element-wise
  double grad_min = 0.0, grad_max = 0.0;
  bool clamp_value = false;  // Igebm, Sgld: clamp x to [value_min, value_max] (see the order above)
  double value_min = 0.0, value_max = 0.0;
  uint64_t seed = 0, offset = 0;  // the noise stream (set by the Generator overload)

  // x ← x + σ ξ: the first IGEBM step's noise.
  static LangevinParams noise_only(double noise_std);
  // IGEBM CIFAR-10 (spec §1.4/§1.8): η = 10, clip ±0.01, clamp [0, 1], next step's noise 0.005.
  // Pass next_noise_std = 0 for the last step of a chain.
  static LangevinParams igebm(double step = 10.0, double grad_clip = 0.01, double next_noise_std = 0.005,
                              double lo = 0.0, double hi = 1.0);
  // JEM (gebm-jem-mebm.md §2.4): α = 1, σ = 0.01, no clamps.
  static LangevinParams sgld(double step = 1.0, double noise_std = 0.01);
  // M-EBM (§3.4): α = 1, clip g to ±1, σ = 0 (0.001 in the M-JEM script), clamp x to [−1, 1].
  static LangevinParams mebm(double step = 1.0, double noise_std = 0.0, double grad_clip = 1.0,
                             double lo = -1.0, double hi = 1.0);
  // DRL (§2.5): coefficients from the table; noise on (spec: every step draws ε).
  static LangevinParams drl(bool add_noise = true);
};

// DRL's conditioning: x̃ (shape and dtype of x), the level of each sample (int64 [N], N = x.size(0),
// values in [0, T)) and the coefficient table ([T, 3] of x's dtype: rows {A_t, B_t, C_t}). All on
// x's device.
struct LangevinDrlInputs {
  Tensor x_tilde;
  Tensor level;
  Tensor table;
};

// ---- the arithmetic shared by the CPU loop and the CUDA kernel

// The kernel's scalar arguments, in the element type (plain data, passed by value to the kernel).
template <class T>
struct LangevinArgs {
  int64_t n = 0;
  uint64_t seed = 0, offset = 0;
  T neg_or_pos_step = 0;  // −η (Igebm) or α (Sgld): x + step·g
  T noise_std = 0;
  T grad_lo = 0, grad_hi = 0, value_lo = 0, value_hi = 0;
  bool clamp_grad = false, clamp_value = false;
  int64_t per_sample = 1;  // Drl: elements per sample (P)
  int64_t levels = 0;      // Drl: rows of the table (T)
  // Inside a captured CUDA graph (core/graph.h): the graph's device-side {seed, base offset},
  // written before each replay; the noise then comes from (state[0], state[1] + offset), so
  // `offset` is the draw's place relative to the replay's base. Null (eager): seed and offset as
  // they are. Set only by the CUDA path of ops::langevin_step_ with a Generator.
  const uint64_t* philox_state = nullptr;
};

// The (seed, offset) an update draws its noise from: a's own, or the captured graph's
// {seed, base + offset} (mod 2^64, as Generator::reserve's offsets add up on the host), so that
// a replay draws exactly the words eager execution from the same generator state would.
template <class T>
EBM_HD LangevinArgs<T> langevin_resolve_philox(const LangevinArgs<T>& a) {
  LangevinArgs<T> r = a;
  if (a.philox_state) {
    r.seed = a.philox_state[0];
    r.offset = a.philox_state[1] + a.offset;
    r.philox_state = nullptr;
  }
  return r;
}

template <class T>
LangevinArgs<T> langevin_args(const LangevinParams& p, int64_t n, int64_t per_sample = 1,
                              int64_t levels = 0) {
  LangevinArgs<T> a;
  a.n = n;
  a.seed = p.seed;
  a.offset = p.offset;
  a.neg_or_pos_step = static_cast<T>(p.mode == LangevinMode::Igebm ? -p.step : p.step);
  a.noise_std = static_cast<T>(p.noise_std);
  a.clamp_grad = p.clamp_grad;
  a.grad_lo = static_cast<T>(p.grad_min);
  a.grad_hi = static_cast<T>(p.grad_max);
  a.clamp_value = p.clamp_value;
  a.value_lo = static_cast<T>(p.value_min);
  a.value_hi = static_cast<T>(p.value_max);
  a.per_sample = per_sample;
  a.levels = levels;
  return a;
}

// DRL's per-level coefficients of one element.
template <class T>
struct DrlCoeffs {
  T grad = 0, tether = 0, noise = 0;
};

namespace langevin_detail {
// a + b, one rounding (float through math::add_rn so that the device never fuses it).
EBM_HD float add(float a, float b) { return math::add_rn(a, b); }
EBM_HD double add(double a, double b) { return a + b; }
template <class T> EBM_HD T clamp(T v, T lo, T hi) { return math::min(math::max(v, lo), hi); }
}  // namespace langevin_detail

// One element: x, its gradient g, x̃ (Drl), the standard normal z (when Noise) and the element's
// DRL coefficients; returns the new x. The order of operations is the header's.
template <LangevinMode M, bool Noise, class T>
EBM_HD T langevin_element(const LangevinArgs<T>& a, T x, T g, T xt, float z, const DrlCoeffs<T>& c) {
  namespace d = langevin_detail;
  T y = x;
  if constexpr (M == LangevinMode::Igebm || M == LangevinMode::Sgld) {
    const T gc = a.clamp_grad ? d::clamp(g, a.grad_lo, a.grad_hi) : g;
    y = math::mul_add_rn(a.neg_or_pos_step, gc, x);
    if constexpr (M == LangevinMode::Igebm) {
      if (a.clamp_value) y = d::clamp(y, a.value_lo, a.value_hi);
      if constexpr (Noise) y = d::add(y, philox::normal_scaled<T>(z, T(0), a.noise_std));
    } else {
      if constexpr (Noise) y = d::add(y, philox::normal_scaled<T>(z, T(0), a.noise_std));
      if (a.clamp_value) y = d::clamp(y, a.value_lo, a.value_hi);
    }
  } else if constexpr (M == LangevinMode::Drl) {
    y = math::mul_add_rn(c.grad, g, x);
    y = math::mul_add_rn(-c.tether, d::add(x, -xt), y);
    if constexpr (Noise) y = d::add(y, philox::normal_scaled<T>(z, T(0), c.noise));
  } else {  // Noise
    if constexpr (Noise) y = d::add(x, philox::normal_scaled<T>(z, T(0), a.noise_std));
  }
  return y;
}

// Memory of one update through plain pointers (the CPU backend's access, and the scalar path of
// the CUDA kernel). out may equal x (in place); grad is unused by Noise, x_tilde / level / table
// only by Drl. The CUDA kernel wraps this with 16-byte loads and stores for aligned groups.
template <class T>
struct LangevinPtrs {
  const T* x = nullptr;
  T* out = nullptr;
  const T* grad = nullptr;
  const T* x_tilde = nullptr;
  const int64_t* level = nullptr;
  const T* table = nullptr;  // [levels, 3] row-major

  EBM_HD void x4(int64_t i, T* v) const { for (int k = 0; k < 4; ++k) v[k] = x[i + k]; }
  EBM_HD void grad4(int64_t i, T* v) const { for (int k = 0; k < 4; ++k) v[k] = grad[i + k]; }
  EBM_HD void tilde4(int64_t i, T* v) const { for (int k = 0; k < 4; ++k) v[k] = x_tilde[i + k]; }
  EBM_HD void put4(int64_t i, const T* v) const { for (int k = 0; k < 4; ++k) out[i + k] = v[k]; }
  EBM_HD T x1(int64_t i) const { return x[i]; }
  EBM_HD T grad1(int64_t i) const { return grad[i]; }
  EBM_HD T tilde1(int64_t i) const { return x_tilde[i]; }
  EBM_HD void put1(int64_t i, T v) const { out[i] = v; }
  EBM_HD int64_t level_of(int64_t sample) const { return level[sample]; }
  EBM_HD T coeff(int64_t row, int col) const { return table[row * 3 + col]; }
};

// The update works on groups of four elements, one Philox block each (when offset % 4 == 0, as
// Generator::reserve guarantees; other offsets take the words across two blocks): group g
// covers elements [4g, min(4g + 4, n)).
EBM_HD int64_t langevin_groups(int64_t n) { return n <= 0 ? 0 : (n + 3) / 4; }

// Words [w, w + 4) of the stream of seed: philox_words4 (core/ops/random.h), with the shift of
// an unaligned w done by selects instead of a variable index, so the words stay in registers.
EBM_HD philox::U32x4 langevin_words4(uint64_t seed, uint64_t w) {
  const philox::U32x4 a = philox::block_at(seed, w >> 2);
  const unsigned s = static_cast<unsigned>(w & 3);
  if (s == 0) return a;
  const philox::U32x4 b = philox::block_at(seed, (w >> 2) + 1);
  const uint32_t c[8] = {a.v[0], a.v[1], a.v[2], a.v[3], b.v[0], b.v[1], b.v[2], b.v[3]};
  philox::U32x4 r;
  for (int k = 0; k < 4; ++k) r.v[k] = s == 1 ? c[k + 1] : (s == 2 ? c[k + 2] : c[k + 3]);
  return r;
}

// The standard normals of elements i0 .. i0 + 3 (i0 a multiple of 4): philox::normal(seed,
// offset, i0 + k), from one Philox block when offset % 4 == 0.
EBM_HD void langevin_normals4(uint64_t seed, uint64_t offset, int64_t i0, float* z) {
  const philox::U32x4 w = langevin_words4(seed, offset + static_cast<uint64_t>(i0));
  philox::box_muller(w.v[0], w.v[1], z[0], z[1]);
  philox::box_muller(w.v[2], w.v[3], z[2], z[3]);
}

// DRL coefficients of the elements i0 .. i0 + 3 of a group (those below n). A level outside
// [0, levels) gives NaN coefficients (the CPU op rejects such levels before running; on the GPU
// the sample turns NaN). Loops have constant trip counts so that the arrays stay in registers.
template <class T, class Mem>
EBM_HD DrlCoeffs<T> langevin_drl_row(const LangevinArgs<T>& a, const Mem& m, int64_t sample) {
  const int64_t t = m.level_of(sample);
  DrlCoeffs<T> c;
  if (t >= 0 && t < a.levels) {
    c.grad = m.coeff(t, 0);
    c.tether = m.coeff(t, 1);
    c.noise = m.coeff(t, 2);
  } else {
    c.grad = c.tether = c.noise = static_cast<T>(NAN);
  }
  return c;
}
template <class T, class Mem>
EBM_HD void langevin_drl_coeffs(const LangevinArgs<T>& a, const Mem& m, int64_t i0, DrlCoeffs<T>* c) {
  const int64_t p = a.per_sample;
  int64_t b = i0 / p, next = (b + 1) * p;  // sample of element i0, first element of the next one
  c[0] = langevin_drl_row(a, m, b);
  for (int k = 1; k < 4; ++k) {
    c[k] = c[k - 1];
    if (i0 + k >= next) {  // one element further crosses at most one sample boundary (P >= 1)
      ++b;
      next += p;
      if (i0 + k < a.n) c[k] = langevin_drl_row(a, m, b);
    }
  }
}

// Group g of an update: draws the group's four normals (one Philox block), then loads, updates
// and stores its elements: four at once for a full group, one by one in the tail group.
template <LangevinMode M, bool Noise, class T, class Mem>
EBM_HD void langevin_group(const LangevinArgs<T>& a, const Mem& m, int64_t g) {
  const int64_t i0 = 4 * g;
  float z[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  if constexpr (Noise) langevin_normals4(a.seed, a.offset, i0, z);
  DrlCoeffs<T> c[4];
  if constexpr (M == LangevinMode::Drl) langevin_drl_coeffs(a, m, i0, c);
  if (i0 + 4 <= a.n) {
    T x[4], gr[4] = {T(0), T(0), T(0), T(0)}, xt[4] = {T(0), T(0), T(0), T(0)}, y[4];
    m.x4(i0, x);
    if constexpr (M != LangevinMode::Noise) m.grad4(i0, gr);
    if constexpr (M == LangevinMode::Drl) m.tilde4(i0, xt);
    for (int k = 0; k < 4; ++k) y[k] = langevin_element<M, Noise, T>(a, x[k], gr[k], xt[k], z[k], c[k]);
    m.put4(i0, y);
  } else {
    for (int k = 0; k < 4; ++k) {
      const int64_t i = i0 + k;
      if (i >= a.n) break;
      T gv = T(0), xt = T(0);
      if constexpr (M != LangevinMode::Noise) gv = m.grad1(i);
      if constexpr (M == LangevinMode::Drl) xt = m.tilde1(i);
      m.put1(i, langevin_element<M, Noise, T>(a, m.x1(i), gv, xt, z[k], c[k]));
    }
  }
}

// The CUDA kernel's per-thread work as plain EBM_HD code: a grid-stride loop over the groups.
template <LangevinMode M, bool Noise, class T, class Mem>
EBM_HD void langevin_body(const LangevinArgs<T>& a, const Mem& m, uint32_t block_idx,
                          uint32_t thread_idx, uint32_t grid_dim, uint32_t block_dim) {
  const int64_t groups = langevin_groups(a.n);
  const int64_t stride = static_cast<int64_t>(grid_dim) * block_dim;
  for (int64_t g = static_cast<int64_t>(block_idx) * block_dim + thread_idx; g < groups; g += stride)
    langevin_group<M, Noise, T>(a, m, g);
}

// The same inside a captured CUDA graph (a.philox_state set, noise drawn): the (seed, offset)
// read from the graph's state, then the body above. A separate kernel instantiation, so that the
// eager kernels stay exactly what they were (same code, same registers).
template <LangevinMode M, bool Noise, class T, class Mem>
EBM_HD void langevin_body_captured(const LangevinArgs<T>& a, const Mem& m, uint32_t block_idx,
                                   uint32_t thread_idx, uint32_t grid_dim, uint32_t block_dim) {
  langevin_body<M, Noise, T>(langevin_resolve_philox(a), m, block_idx, thread_idx, grid_dim,
                             block_dim);
}

// The launch the CUDA launcher makes (shared with the CPU test of the body): kLangevinBlock
// threads per block, one group per thread, at most max_blocks blocks (the grid-stride loop does
// the rest).
constexpr uint32_t kLangevinBlock = 256;
struct LangevinLaunchDims {
  int64_t groups = 0;
  uint32_t grid = 0;   // 0: nothing to launch
  uint32_t block = kLangevinBlock;
};
inline LangevinLaunchDims langevin_launch_dims(int64_t n, int64_t max_blocks) {
  LangevinLaunchDims d;
  d.groups = langevin_groups(n);
  int64_t blocks = (d.groups + kLangevinBlock - 1) / kLangevinBlock;
  if (blocks > max_blocks) blocks = max_blocks;
  d.grid = static_cast<uint32_t>(blocks);
  return d;
}

namespace ops {

// x ← the update of p.mode (see the header), in place; bumps x's version. x and grad float32 or
// float64 (float32 only on CUDA), same shape, dtype and device; grad is not read in Noise mode
// (may be undefined) and must not share storage with x. Drl needs `drl` (else it must be empty).
// Noise, when p.add_noise, is words [p.offset, p.offset + normal_words(numel)) of the stream of
// p.seed: element i gets philox::normal(seed, offset, i), as fill_normal_ would write it.
void langevin_step_(Tensor& x, const Tensor& grad, const LangevinParams& p,
                    const LangevinDrlInputs& drl = {});
// The same with (seed, offset) reserved from gen when p.add_noise (gen untouched otherwise).
// Inside a CUDA graph capture (core/graph.h) on x's device, the draw is recorded relative to
// the generator's offset and every replay reserves the words anew: replay k draws the noise that
// eager execution of the k-th chain from the same generator state would. The explicit
// (seed, offset) overload above bakes its numbers into a captured graph (same noise each replay).
void langevin_step_(Tensor& x, const Tensor& grad, LangevinParams p, Generator& gen,
                    const LangevinDrlInputs& drl = {});

// DRL's [T, 3] table from the schedule (spec §2.2/§2.5), per level t = 0..T−1: s_sq[t] = s_t²,
// sigma_next_sq[t] = σ²_{t+1}, recovery[t] = r_{t+1} (1, or 0 at the top level), λ = noise_scale.
// Row t = {1/2, r s_t²/(2σ²_{t+1}), λ s_t}, computed in double, stored in dtype on device.
Tensor drl_langevin_table(const std::vector<double>& s_sq, const std::vector<double>& sigma_next_sq,
                          const std::vector<double>& recovery, double noise_scale,
                          DType dtype = DType::Float32, Device device = Device::cpu());

}  // namespace ops
}  // namespace ebm
