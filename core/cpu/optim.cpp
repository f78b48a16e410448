// CPU backend of the fused optimizer updates (core/ops/optim.h): argument checks, parallel loops
// over the shared EBM_HD element functions (so the CPU computes the GPU's arithmetic bit for
// bit), the norm pieces by the fixed lane split, and, in a CUDA build, the hand-off of cuda
// tensors to the launchers of cuda/kernels/optim.cu on the tensor's current stream.
#include "core/ops/optim.h"

#include <algorithm>
#include <cmath>

#include "core/cpu/parallel.h"
#include "core/ops/dispatch.h"
#if defined(EBM_WITH_CUDA)
#include "cuda/optim.h"
#include "cuda/stream.h"
#endif

namespace ebm::ops {

namespace {

// Work per element in "elementwise op" units (a division and a square root dominate Adam).
constexpr int64_t kAdamCost = 16, kSgdCost = 4, kMapCost = 2;

// `t` joins `param` in an in-place update: same shape, dtype and device, and no storage shared
// with the tensors the update writes.
void check_operand(const Tensor& param, const Tensor& t, const char* op, const char* arg) {
  check_defined(t, op, arg);
  check_same_device(param, t, op);
  check_same_dtype(param, t, op);
  check_same_shape(param, t, op);
}

void check_disjoint(const Tensor& a, const char* an, const Tensor& b, const char* bn, const char* op) {
  EBM_CHECK(!a.shares_storage_with(b), ValueError, op, ": ", an, " must not share storage with ",
            bn, " (the update writes in place): ", a.description(), " and ", b.description());
}

void check_finite(double v, const char* op, const char* what) {
  EBM_CHECK(std::isfinite(v), ValueError, op, ": ", what, " must be finite, got ", v);
}

template <class F>
void cpu_loop(int64_t n, int64_t cost, const F& f) {
  cpu::parallel_for(n, cost, [&](int64_t lo, int64_t hi) {
#pragma omp simd
    for (int64_t i = lo; i < hi; ++i) f(i);
  });
}

template <NormKind K, class T>
double norm_part_cpu(const T* x, int64_t n) {
  const int64_t chunks = norm_chunks(n);
  std::vector<double> partial(static_cast<size_t>(chunks));
  cpu::parallel_for(chunks, kNormChunk, [&](int64_t c_lo, int64_t c_hi) {
    double lanes[kNormLanes];
    for (int64_t c = c_lo; c < c_hi; ++c) {
      for (uint32_t l = 0; l < kNormLanes; ++l) lanes[l] = norm_identity<K>();
      const int64_t end = (c + 1) * kNormChunk < n ? (c + 1) * kNormChunk : n;
      int64_t i = c * kNormChunk;
      for (; i + kNormLanes <= end; i += kNormLanes) {
        const T* xi = x + i;
#pragma omp simd
        for (uint32_t l = 0; l < kNormLanes; ++l) lanes[l] = norm_fold<K, T>(lanes[l], xi[l]);
      }
      for (uint32_t l = 0; i + l < end; ++l) lanes[l] = norm_fold<K, T>(lanes[l], x[i + l]);
      partial[static_cast<size_t>(c)] = norm_tree<K>(lanes);
    }
  });
  double lanes[kNormLanes];
  for (uint32_t l = 0; l < kNormLanes; ++l) lanes[l] = norm_identity<K>();
  for (int64_t c = 0; c < chunks; ++c)
    lanes[c % kNormLanes] = norm_combine<K>(lanes[c % kNormLanes], partial[static_cast<size_t>(c)]);
  return norm_tree<K>(lanes);
}

}  // namespace

void adam_step_(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq,
                const AdamHyper& h, int64_t step) {
  const char* op = "adam_step_";
  check_defined(param, op, "param");
  check_float(param, op, "param");
  check_operand(param, grad, op, "grad");
  check_operand(param, exp_avg, op, "exp_avg");
  check_operand(param, exp_avg_sq, op, "exp_avg_sq");
  check_disjoint(grad, "grad", param, "param", op);
  check_disjoint(grad, "grad", exp_avg, "exp_avg", op);
  check_disjoint(grad, "grad", exp_avg_sq, "exp_avg_sq", op);
  check_disjoint(exp_avg, "exp_avg", param, "param", op);
  check_disjoint(exp_avg_sq, "exp_avg_sq", param, "param", op);
  check_disjoint(exp_avg, "exp_avg", exp_avg_sq, "exp_avg_sq", op);
  EBM_CHECK(step >= 1, ValueError, op, ": step counts this update and must be >= 1, got ", step);
  check_finite(h.lr, op, "lr");
  check_finite(h.weight_decay, op, "weight_decay");
  EBM_CHECK(h.beta1 >= 0 && h.beta1 < 1 && h.beta2 >= 0 && h.beta2 < 1, ValueError, op,
            ": betas must lie in [0, 1), got (", h.beta1, ", ", h.beta2, ")");
  EBM_CHECK(std::isfinite(h.eps) && h.eps >= 0, ValueError, op, ": eps must be finite and >= 0, got ",
            h.eps);
  param.bump_version();
  exp_avg.bump_version();
  exp_avg_sq.bump_version();
  const int64_t n = param.numel();
  if (n == 0) return;
  EBM_DISPATCH_FLOAT(param.dtype(), op, [&] {
    const AdamArgs<T> a = adam_args<T>(h, step, n);
    AdamPtrs<T> q;
    q.param = q.param_out = static_cast<T*>(param.data_ptr());
    q.grad = static_cast<const T*>(grad.data_ptr());
    q.exp_avg = q.exp_avg_out = static_cast<T*>(exp_avg.data_ptr());
    q.exp_avg_sq = q.exp_avg_sq_out = static_cast<T*>(exp_avg_sq.data_ptr());
    if (param.device().is_cuda()) {
#if defined(EBM_WITH_CUDA)
      cuda::DeviceGuard guard(param.device().index);
      cuda::adam_step(h.epsilon, a, q, cuda::current_stream(param.device().index));
      return;
#else
      require_cpu(param, op);
#endif
    }
    if (h.epsilon == AdamEpsilon::Torch)
      cpu_loop(n, kAdamCost, [&](int64_t i) { adam_index<AdamEpsilon::Torch, T>(a, q, i); });
    else
      cpu_loop(n, kAdamCost, [&](int64_t i) { adam_index<AdamEpsilon::Tf, T>(a, q, i); });
  });
}

void sgd_step_(Tensor& param, const Tensor& grad, Tensor& momentum_buffer, const SgdHyper& h,
               bool first) {
  const char* op = "sgd_step_";
  check_defined(param, op, "param");
  check_float(param, op, "param");
  check_operand(param, grad, op, "grad");
  check_disjoint(grad, "grad", param, "param", op);
  const bool momentum = h.momentum != 0.0;
  if (momentum) {
    check_operand(param, momentum_buffer, op, "momentum_buffer");
    check_disjoint(grad, "grad", momentum_buffer, "momentum_buffer", op);
    check_disjoint(momentum_buffer, "momentum_buffer", param, "param", op);
  }
  check_finite(h.lr, op, "lr");
  check_finite(h.momentum, op, "momentum");
  check_finite(h.dampening, op, "dampening");
  check_finite(h.weight_decay, op, "weight_decay");
  EBM_CHECK(!h.nesterov || (momentum && h.dampening == 0.0), ValueError, op,
            ": Nesterov momentum needs momentum != 0 and dampening 0, got momentum ", h.momentum,
            ", dampening ", h.dampening);
  param.bump_version();
  if (momentum) momentum_buffer.bump_version();
  const int64_t n = param.numel();
  if (n == 0) return;
  EBM_DISPATCH_FLOAT(param.dtype(), op, [&] {
    const SgdArgs<T> a = sgd_args<T>(h, first, n);
    SgdPtrs<T> q;
    q.param = q.param_out = static_cast<T*>(param.data_ptr());
    q.grad = static_cast<const T*>(grad.data_ptr());
    if (momentum) q.buf = q.buf_out = static_cast<T*>(momentum_buffer.data_ptr());
    if (param.device().is_cuda()) {
#if defined(EBM_WITH_CUDA)
      cuda::DeviceGuard guard(param.device().index);
      cuda::sgd_step(momentum, a, q, cuda::current_stream(param.device().index));
      return;
#else
      require_cpu(param, op);
#endif
    }
    if (momentum)
      cpu_loop(n, kSgdCost, [&](int64_t i) { sgd_index<true, T>(a, q, i); });
    else
      cpu_loop(n, kSgdCost, [&](int64_t i) { sgd_index<false, T>(a, q, i); });
  });
}

void ema_update_(Tensor& shadow, const Tensor& value, double decay, EmaForm form) {
  const char* op = "ema_update_";
  check_defined(shadow, op, "shadow");
  check_float(shadow, op, "shadow");
  check_operand(shadow, value, op, "value");
  check_disjoint(value, "value", shadow, "shadow", op);
  EBM_CHECK(decay >= 0 && decay <= 1, ValueError, op, ": decay must lie in [0, 1], got ", decay);
  shadow.bump_version();
  const int64_t n = shadow.numel();
  if (n == 0) return;
  EBM_DISPATCH_FLOAT(shadow.dtype(), op, [&] {
    EmaArgs<T> a;
    a.n = n;
    a.decay = static_cast<T>(decay);
    a.one_minus_decay = static_cast<T>(1.0 - decay);
    EmaPtrs<T> q;
    q.shadow = q.shadow_out = static_cast<T*>(shadow.data_ptr());
    q.value = static_cast<const T*>(value.data_ptr());
    if (shadow.device().is_cuda()) {
#if defined(EBM_WITH_CUDA)
      cuda::DeviceGuard guard(shadow.device().index);
      cuda::ema_update(form, a, q, cuda::current_stream(shadow.device().index));
      return;
#else
      require_cpu(shadow, op);
#endif
    }
    if (form == EmaForm::Tf)
      cpu_loop(n, kMapCost, [&](int64_t i) { ema_index<EmaForm::Tf, T>(a, q, i); });
    else
      cpu_loop(n, kMapCost, [&](int64_t i) { ema_index<EmaForm::Lerp, T>(a, q, i); });
  });
}

namespace {

void grad_map_(GradMap m, Tensor& x, double a, double b, const char* op) {
  check_defined(x, op, "x");
  check_float(x, op, "x");
  x.bump_version();
  const int64_t n = x.numel();
  if (n == 0) return;
  EBM_DISPATCH_FLOAT(x.dtype(), op, [&] {
    GradMapArgs<T> args;
    args.n = n;
    args.a = static_cast<T>(a);
    args.b = static_cast<T>(b);
    GradMapPtrs<T> q;
    q.x = q.out = static_cast<T*>(x.data_ptr());
    if (x.device().is_cuda()) {
#if defined(EBM_WITH_CUDA)
      cuda::DeviceGuard guard(x.device().index);
      cuda::grad_map(m, args, q, cuda::current_stream(x.device().index));
      return;
#else
      require_cpu(x, op);
#endif
    }
    if (m == GradMap::Scale)
      cpu_loop(n, kMapCost, [&](int64_t i) { grad_map_index<GradMap::Scale, T>(args, q, i); });
    else
      cpu_loop(n, kMapCost, [&](int64_t i) { grad_map_index<GradMap::Clamp, T>(args, q, i); });
  });
}

}  // namespace

void grad_scale_(Tensor& x, double c) { grad_map_(GradMap::Scale, x, c, 0.0, "grad_scale_"); }

void grad_clamp_(Tensor& x, double lo, double hi) {
  EBM_CHECK(!(lo > hi) && !std::isnan(lo) && !std::isnan(hi), ValueError,
            "grad_clamp_: needs lo <= hi, got [", lo, ", ", hi, "]");
  grad_map_(GradMap::Clamp, x, lo, hi, "grad_clamp_");
}

std::vector<double> norm_parts(const std::vector<Tensor>& xs, NormKind kind) {
  const char* op = "norm_parts";
  std::vector<double> out(xs.size(), 0.0);
  if (xs.empty()) return out;
  for (size_t k = 0; k < xs.size(); ++k) {
    check_defined(xs[k], op, "x");
    check_float(xs[k], op, "x");
    check_same_device(xs[0], xs[k], op);
  }
  const Device dev = xs[0].device();
  if (dev.is_cuda()) {
#if defined(EBM_WITH_CUDA)
    cuda::DeviceGuard guard(dev.index);
    const cuda::StreamHandle stream = cuda::current_stream(dev.index);
    int64_t ws_elems = 1;
    for (const Tensor& x : xs) ws_elems = std::max(ws_elems, norm_chunks(x.numel()));
    // One workspace per tensor slot would let the launches overlap; they are queued on one
    // stream anyway, so a single workspace of the largest split is reused in order.
    Tensor ws = Tensor::empty({ws_elems}, DType::Float64, dev);
    Tensor parts = Tensor::empty({static_cast<int64_t>(xs.size())}, DType::Float64, dev);
    double* w = static_cast<double*>(ws.data_ptr());
    double* p = static_cast<double*>(parts.data_ptr());
    for (size_t k = 0; k < xs.size(); ++k) {
      EBM_DISPATCH_FLOAT(xs[k].dtype(), op, [&] {
        cuda::norm_part(kind, static_cast<const T*>(xs[k].data_ptr()), xs[k].numel(), w, p + k,
                        stream);
      });
    }
    return parts.to_vector<double>();  // the one synchronising read
#else
    require_cpu(xs[0], op);
#endif
  }
  for (size_t k = 0; k < xs.size(); ++k) {
    out[k] = EBM_DISPATCH_FLOAT(xs[k].dtype(), op, [&] {
      const T* x = xs[k].data<T>();
      return kind == NormKind::SumSquares ? norm_part_cpu<NormKind::SumSquares, T>(x, xs[k].numel())
                                          : norm_part_cpu<NormKind::MaxAbs, T>(x, xs[k].numel());
    });
  }
  return out;
}

}  // namespace ebm::ops
