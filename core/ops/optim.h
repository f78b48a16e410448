// Fused optimizer updates, one pass over memory per parameter tensor: Adam (Kingma & Ba 2015) in
// PyTorch's order of operations (torch.optim.Adam / AdamW 1.13) or TensorFlow's (ApplyAdam, which
// the IGEBM and DRL reference code run: specs/igebm-drl.md §1.7, §2.7), with IGEBM's per-element
// gradient clip; SGD with momentum, dampening, Nesterov and weight decay (torch.optim.SGD); the
// EMA of parameters; and the gradient scale / clamp / norm pieces of gradient clipping. The
// per-element arithmetic below is EBM_HD code shared by the CPU loop (core/cpu/optim.cpp), the
// CUDA kernels (cuda/kernels/optim.cu) and the CPU test that runs the kernel body over its grid.
//
// Order of operations (every op rounded once, never fused: device code uses _rn intrinsics, the
// host build -ffp-contract=off; the scalars are computed on the host in double and rounded to T):
//
//   IGEBM clip   b = 3·√(v / c) + 0.1,  g ← max(min(g, b), −b)     (v before this update; NaN kept)
//   L2 decay     g ← g + λ·p                                        (Adam, SGD: torch's weight_decay)
//   AdamW        p ← p·(1 − lr·λ)
//   Adam, Torch  m ← m·β₁ + (1−β₁)·g;  v ← v·β₂ + ((1−β₂)·g)·g
//                p ← p + ((−lr/(1−β₁ᵗ))·m) / (√v / √(1−β₂ᵗ) + ε)
//   Adam, Tf     m ← m + (g − m)·(1−β₁);  v ← v + (g·g − v)·(1−β₂)       (ε is TF's "ε-hat")
//                p ← p − (m·α) / (√v + ε),  α = lr·√(1−β₂ᵗ)/(1−β₁ᵗ)
//   SGD          b ← g on the first step, else b·μ + (1−τ)·g;  d ← Nesterov ? g + μ·b : b
//                p ← p + (−lr)·d                                    (d = g without momentum)
//   EMA, Tf      s ← s − (s − p)·(1 − decay)       (tf.train.ExponentialMovingAverage, DRL)
//   EMA, Lerp    s ← decay·s + (1 − decay)·p
//   Scale        g ← g·c;   Clamp  g ← min(max(g, lo), hi) (NaN kept, as torch.clamp)
//
// IGEBM clip, c = 1 − β₂ᵗ in the official code (custom_adam.py: from step 1, where v = 0 and the
// bound is 0.1) and 1 − β₂^(t−1) in the rosinality port (skipped at step 1); see AdamClip.
// 1 − β is computed in double as torch does (Torch) and in T as TF does (Tf): for β₁ = 0.9 these
// differ in float32 (0.1f vs 0.10000002f).
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "core/math.h"
#include "core/tensor.h"

namespace ebm {

enum class AdamEpsilon : uint8_t { Torch, Tf };
// IGEBM's per-element gradient clip inside Adam: None, Official (bias correction 1 − β₂ᵗ, from
// the first step), Port (1 − β₂^(t−1), from the second step; rosinality/igebm-pytorch).
enum class AdamClip : uint8_t { None, Official, Port };
enum class EmaForm : uint8_t { Tf, Lerp };
enum class GradMap : uint8_t { Scale, Clamp };
enum class NormKind : uint8_t { SumSquares, MaxAbs };

// One Adam step as the host describes it (step = t >= 1, counting this update).
struct AdamHyper {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
  bool decoupled_weight_decay = false;  // AdamW: p·(1 − lr·λ) instead of g + λ·p
  AdamEpsilon epsilon = AdamEpsilon::Torch;
  AdamClip clip = AdamClip::None;
};

struct SgdHyper {
  double lr = 1e-3, momentum = 0.0, dampening = 0.0, weight_decay = 0.0;
  bool nesterov = false;
};

// ---- the kernels' scalar arguments, in the element type (plain data, passed by value)

template <class T>
struct AdamArgs {
  int64_t n = 0;
  T beta1 = 0, one_minus_beta1 = 0, beta2 = 0, one_minus_beta2 = 0;
  T step = 0;      // Torch: −lr/(1−β₁ᵗ); Tf: α = lr·√(1−β₂ᵗ)/(1−β₁ᵗ)
  T bc2_sqrt = 1;  // Torch: √(1−β₂ᵗ)
  T eps = 0;
  bool l2 = false;
  T weight_decay = 0;
  bool decoupled = false;
  T decay_scale = 1;  // 1 − lr·λ
  bool clip = false;
  T clip_bc = 1;      // c of the clip bound
};

template <class T>
AdamArgs<T> adam_args(const AdamHyper& h, int64_t step, int64_t n) {
  AdamArgs<T> a;
  a.n = n;
  const double t = static_cast<double>(step);
  const double bc1 = 1.0 - std::pow(h.beta1, t), bc2 = 1.0 - std::pow(h.beta2, t);
  a.beta1 = static_cast<T>(h.beta1);
  a.beta2 = static_cast<T>(h.beta2);
  if (h.epsilon == AdamEpsilon::Torch) {
    a.one_minus_beta1 = static_cast<T>(1.0 - h.beta1);
    a.one_minus_beta2 = static_cast<T>(1.0 - h.beta2);
    a.step = static_cast<T>(-(h.lr / bc1));
    a.bc2_sqrt = static_cast<T>(std::sqrt(bc2));
  } else {
    a.one_minus_beta1 = T(1) - a.beta1;
    a.one_minus_beta2 = T(1) - a.beta2;
    a.step = static_cast<T>(h.lr * std::sqrt(bc2) / bc1);
  }
  a.eps = static_cast<T>(h.eps);
  a.l2 = h.weight_decay != 0.0 && !h.decoupled_weight_decay;
  a.weight_decay = static_cast<T>(h.weight_decay);
  a.decoupled = h.weight_decay != 0.0 && h.decoupled_weight_decay;
  a.decay_scale = static_cast<T>(1.0 - h.lr * h.weight_decay);
  if (h.clip == AdamClip::Official) {
    a.clip = true;
    a.clip_bc = static_cast<T>(bc2);
  } else if (h.clip == AdamClip::Port && step > 1) {
    a.clip = true;
    a.clip_bc = static_cast<T>(1.0 - std::pow(h.beta2, t - 1.0));
  }
  return a;
}

template <class T>
struct SgdArgs {
  int64_t n = 0;
  bool l2 = false;
  T weight_decay = 0;
  T momentum = 0, one_minus_dampening = 1;
  bool first = false;  // the momentum buffer starts as this step's (decayed) gradient
  bool nesterov = false;
  T neg_lr = 0;
};

template <class T>
SgdArgs<T> sgd_args(const SgdHyper& h, bool first, int64_t n) {
  SgdArgs<T> a;
  a.n = n;
  a.l2 = h.weight_decay != 0.0;
  a.weight_decay = static_cast<T>(h.weight_decay);
  a.momentum = static_cast<T>(h.momentum);
  a.one_minus_dampening = static_cast<T>(1.0 - h.dampening);
  a.first = first;
  a.nesterov = h.nesterov;
  a.neg_lr = static_cast<T>(-h.lr);
  return a;
}

template <class T>
struct EmaArgs {
  int64_t n = 0;
  T decay = 0, one_minus_decay = 0;
};

template <class T>
struct GradMapArgs {
  int64_t n = 0;
  T a = 0, b = 0;  // Scale: c = a; Clamp: [a, b]
};

// ---- the arithmetic of one element

namespace optim_detail {
// Single IEEE operations, rounded to nearest and never fused, for float and double alike.
#if defined(__CUDA_ARCH__)
EBM_HD float mul(float a, float b) { return __fmul_rn(a, b); }
EBM_HD double mul(double a, double b) { return __dmul_rn(a, b); }
EBM_HD float add(float a, float b) { return __fadd_rn(a, b); }
EBM_HD double add(double a, double b) { return __dadd_rn(a, b); }
EBM_HD float div(float a, float b) { return __fdiv_rn(a, b); }
EBM_HD double div(double a, double b) { return __ddiv_rn(a, b); }
EBM_HD float sqrt(float a) { return __fsqrt_rn(a); }
EBM_HD double sqrt(double a) { return __dsqrt_rn(a); }
#else
template <class T> EBM_HD T mul(T a, T b) { return a * b; }
template <class T> EBM_HD T add(T a, T b) { return a + b; }
template <class T> EBM_HD T div(T a, T b) { return a / b; }
EBM_HD float sqrt(float a) { return sqrtf(a); }
EBM_HD double sqrt(double a) { return ::sqrt(a); }
#endif
template <class T> EBM_HD T sub(T a, T b) { return add(a, -b); }
template <class T> EBM_HD T mul_add(T a, T b, T c) { return add(mul(a, b), c); }  // a·b + c
// min(max(v, lo), hi) with a NaN v kept (torch.clamp); lo <= hi.
template <class T> EBM_HD T clamp(T v, T lo, T hi) {
  const T c = v < lo ? lo : v;
  return v != v ? v : (c > hi ? hi : c);
}
}  // namespace optim_detail

// p, m, v updated in place by one Adam step with gradient g.
template <AdamEpsilon E, class T>
EBM_HD void adam_element(const AdamArgs<T>& a, T& p, T g, T& m, T& v) {
  namespace d = optim_detail;
  if (a.clip) {
    const T b = d::add(d::mul(T(3), d::sqrt(d::div(v, a.clip_bc))), T(0.1));
    g = d::clamp(g, -b, b);
  }
  if (a.l2) g = d::mul_add(a.weight_decay, p, g);
  if (a.decoupled) p = d::mul(p, a.decay_scale);
  if constexpr (E == AdamEpsilon::Torch) {
    m = d::mul_add(a.one_minus_beta1, g, d::mul(m, a.beta1));
    v = d::mul_add(d::mul(a.one_minus_beta2, g), g, d::mul(v, a.beta2));
    const T denom = d::add(d::div(d::sqrt(v), a.bc2_sqrt), a.eps);
    p = d::add(p, d::div(d::mul(a.step, m), denom));
  } else {
    m = d::mul_add(d::sub(g, m), a.one_minus_beta1, m);
    v = d::mul_add(d::sub(d::mul(g, g), v), a.one_minus_beta2, v);
    p = d::sub(p, d::div(d::mul(m, a.step), d::add(d::sqrt(v), a.eps)));
  }
}

// p and the momentum buffer b (read only when Momentum and not a.first) after one SGD step.
template <bool Momentum, class T>
EBM_HD void sgd_element(const SgdArgs<T>& a, T& p, T g, T& b) {
  namespace d = optim_detail;
  if (a.l2) g = d::mul_add(a.weight_decay, p, g);
  T step = g;
  if constexpr (Momentum) {
    b = a.first ? g : d::mul_add(a.one_minus_dampening, g, d::mul(b, a.momentum));
    step = a.nesterov ? d::mul_add(a.momentum, b, g) : b;
  }
  p = d::mul_add(a.neg_lr, step, p);
}

template <EmaForm F, class T>
EBM_HD T ema_element(const EmaArgs<T>& a, T shadow, T value) {
  namespace d = optim_detail;
  if constexpr (F == EmaForm::Tf) return d::sub(shadow, d::mul(d::sub(shadow, value), a.one_minus_decay));
  else return d::mul_add(a.one_minus_decay, value, d::mul(a.decay, shadow));
}

template <GradMap M, class T>
EBM_HD T grad_map_element(const GradMapArgs<T>& a, T g) {
  if constexpr (M == GradMap::Scale) return optim_detail::mul(g, a.a);
  else return optim_detail::clamp(g, a.a, a.b);
}

// Norm pieces accumulate in double (a float's square is exact in double): SumSquares folds
// x·x + acc (never fused), MaxAbs keeps the largest |x| and propagates NaN (torch's max does).
template <NormKind K, class T>
EBM_HD double norm_fold(double acc, T x) {
  const double v = static_cast<double>(x);
  if constexpr (K == NormKind::SumSquares) return optim_detail::mul_add(v, v, acc);
  else {
    const double av = v < 0 ? -v : v;
    return (av > acc || av != av) ? av : acc;
  }
}
template <NormKind K>
EBM_HD double norm_combine(double a, double b) {
  if constexpr (K == NormKind::SumSquares) return optim_detail::add(a, b);
  else return (b > a || b != b) ? b : a;
}

// ---- memory of one update (raw pointers; outputs may equal their inputs: in place)

template <class T>
struct AdamPtrs {
  const T* param = nullptr;
  const T* grad = nullptr;
  const T* exp_avg = nullptr;
  const T* exp_avg_sq = nullptr;
  T* param_out = nullptr;
  T* exp_avg_out = nullptr;
  T* exp_avg_sq_out = nullptr;
};

template <class T>
struct SgdPtrs {
  const T* param = nullptr;
  const T* grad = nullptr;
  const T* buf = nullptr;  // read when momentum is on and it is not the first step
  T* param_out = nullptr;
  T* buf_out = nullptr;    // written when momentum is on
};

template <class T>
struct EmaPtrs {
  const T* shadow = nullptr;
  const T* value = nullptr;
  T* shadow_out = nullptr;
};

template <class T>
struct GradMapPtrs {
  const T* x = nullptr;
  T* out = nullptr;
};

// Element i of each update.
template <AdamEpsilon E, class T>
EBM_HD void adam_index(const AdamArgs<T>& a, const AdamPtrs<T>& q, int64_t i) {
  T p = q.param[i], m = q.exp_avg[i], v = q.exp_avg_sq[i];
  adam_element<E, T>(a, p, q.grad[i], m, v);
  q.param_out[i] = p;
  q.exp_avg_out[i] = m;
  q.exp_avg_sq_out[i] = v;
}
template <bool Momentum, class T>
EBM_HD void sgd_index(const SgdArgs<T>& a, const SgdPtrs<T>& q, int64_t i) {
  T p = q.param[i], b = T(0);
  if constexpr (Momentum) b = a.first ? T(0) : q.buf[i];
  sgd_element<Momentum, T>(a, p, q.grad[i], b);
  q.param_out[i] = p;
  if constexpr (Momentum) q.buf_out[i] = b;
}
template <EmaForm F, class T>
EBM_HD void ema_index(const EmaArgs<T>& a, const EmaPtrs<T>& q, int64_t i) {
  q.shadow_out[i] = ema_element<F, T>(a, q.shadow[i], q.value[i]);
}
template <GradMap M, class T>
EBM_HD void grad_map_index(const GradMapArgs<T>& a, const GradMapPtrs<T>& q, int64_t i) {
  q.out[i] = grad_map_element<M, T>(a, q.x[i]);
}

// The CUDA kernels' per-thread work as plain EBM_HD code: a grid-stride loop over the elements
// (tests/cpu/test_optim.cpp runs these over the launch grid on the CPU).
#define EBM_OPTIM_GRID_STRIDE(i, n)                                                              \
  for (int64_t i = static_cast<int64_t>(block_idx) * block_dim + thread_idx,                     \
               stride_ = static_cast<int64_t>(grid_dim) * block_dim;                            \
       i < (n); i += stride_)
template <AdamEpsilon E, class T>
EBM_HD void adam_body(const AdamArgs<T>& a, const AdamPtrs<T>& q, uint32_t block_idx,
                      uint32_t thread_idx, uint32_t grid_dim, uint32_t block_dim) {
  EBM_OPTIM_GRID_STRIDE(i, a.n) adam_index<E, T>(a, q, i);
}
template <bool Momentum, class T>
EBM_HD void sgd_body(const SgdArgs<T>& a, const SgdPtrs<T>& q, uint32_t block_idx,
                     uint32_t thread_idx, uint32_t grid_dim, uint32_t block_dim) {
  EBM_OPTIM_GRID_STRIDE(i, a.n) sgd_index<Momentum, T>(a, q, i);
}
template <EmaForm F, class T>
EBM_HD void ema_body(const EmaArgs<T>& a, const EmaPtrs<T>& q, uint32_t block_idx,
                     uint32_t thread_idx, uint32_t grid_dim, uint32_t block_dim) {
  EBM_OPTIM_GRID_STRIDE(i, a.n) ema_index<F, T>(a, q, i);
}
template <GradMap M, class T>
EBM_HD void grad_map_body(const GradMapArgs<T>& a, const GradMapPtrs<T>& q, uint32_t block_idx,
                          uint32_t thread_idx, uint32_t grid_dim, uint32_t block_dim) {
  EBM_OPTIM_GRID_STRIDE(i, a.n) grad_map_index<M, T>(a, q, i);
}
#undef EBM_OPTIM_GRID_STRIDE

// The launch of the elementwise update kernels: kOptimBlock threads per block, one element per
// thread, at most max_blocks blocks (the grid-stride loop does the rest).
constexpr uint32_t kOptimBlock = 256;
struct OptimLaunchDims {
  uint32_t grid = 0;  // 0: nothing to launch
  uint32_t block = kOptimBlock;
};
inline OptimLaunchDims optim_launch_dims(int64_t n, int64_t max_blocks) {
  OptimLaunchDims d;
  int64_t blocks = n <= 0 ? 0 : (n + kOptimBlock - 1) / kOptimBlock;
  if (blocks > max_blocks) blocks = max_blocks;
  d.grid = static_cast<uint32_t>(blocks);
  return d;
}

// ---- norm pieces: a fixed split, the same on both backends (so the same bits)
//
// A tensor of n elements is cut into chunks of kNormChunk; chunk c is reduced by kNormLanes
// lanes, lane l folding elements c·kNormChunk + l, + kNormLanes, ... in order, then the lanes
// pairwise (lane l += lane l + s for s = kNormLanes/2, ..., 1). The chunks' results are reduced
// the same way (lane l folding chunks l, l + kNormLanes, ...). On the GPU a lane is a thread of
// a kNormLanes-thread block and the pairwise step a shared-memory tree; the CPU runs the lanes
// as a vectorised loop. The results do not depend on the GPU, the thread count or the run.
constexpr int64_t kNormChunk = 8192;
constexpr uint32_t kNormLanes = 256;
EBM_HD int64_t norm_chunks(int64_t n) { return n <= 0 ? 0 : (n + kNormChunk - 1) / kNormChunk; }
template <NormKind K>
EBM_HD double norm_identity() { return 0.0; }  // both kinds: squares and |x| are >= 0
// lanes[0] after the pairwise tree over kNormLanes values (the array is overwritten).
template <NormKind K>
EBM_HD double norm_tree(double* lanes) {
  for (uint32_t s = kNormLanes / 2; s > 0; s /= 2)
    for (uint32_t l = 0; l < s; ++l) lanes[l] = norm_combine<K>(lanes[l], lanes[l + s]);
  return lanes[0];
}

namespace ops {

// One Adam step (step = t >= 1, counting this update) on param, exp_avg, exp_avg_sq in place;
// bumps their versions. All four tensors: same shape, dtype (float32 or float64) and device;
// grad must not share storage with the others.
void adam_step_(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq,
                const AdamHyper& h, int64_t step);
// One SGD step; momentum_buffer is read unless `first` and written when h.momentum != 0 (may be
// undefined otherwise). torch.optim.SGD's buffer starts as the first step's gradient.
void sgd_step_(Tensor& param, const Tensor& grad, Tensor& momentum_buffer, const SgdHyper& h,
               bool first);
// shadow ← the EMA update with value (same shape, dtype and device), in place.
void ema_update_(Tensor& shadow, const Tensor& value, double decay, EmaForm form);
// x ← x·c in place.
void grad_scale_(Tensor& x, double c);
// x ← clamp(x, lo, hi) in place (NaN stays NaN); lo <= hi.
void grad_clamp_(Tensor& x, double lo, double hi);
// Per tensor: Σx² (SumSquares) or max|x| (MaxAbs, NaN if any is NaN) in double, by the fixed
// split above. All tensors on one device; on CUDA one synchronising copy for all of them.
std::vector<double> norm_parts(const std::vector<Tensor>& xs, NormKind kind);

}  // namespace ops
}  // namespace ebm
