// Gradient clipping (nn/grad_clip.h): torch.nn.utils.clip_grad_norm_ / clip_grad_value_ and TF's
// clip_by_global_norm over the fused norm pieces and in-place scale / clamp of core/ops/optim.h.
#include "nn/grad_clip.h"

#include <cmath>

#include "core/ops/optim.h"

namespace ebm::nn {

namespace {

// The defined gradients, checked: floating, shaped like their parameter, on one device.
std::vector<Tensor> collect(const NamedTensors& params, const char* op, bool one_device = true) {
  std::vector<Tensor> grads;
  std::string first;
  for (const auto& [name, p] : params) {
    EBM_CHECK(p.defined(), ValueError, op, ": parameter '", name, "' is undefined");
    Tensor g = p.grad();
    if (!g.defined()) continue;
    EBM_CHECK(g.dtype() == DType::Float32 || g.dtype() == DType::Float64, DTypeError, op,
              ": the gradient of parameter '", name, "' must be float32 or float64, got ",
              g.description());
    EBM_CHECK(g.shape() == p.shape(), ShapeError, op, ": the gradient of parameter '", name, "' is ",
              g.description(), " but the parameter is ", p.description());
    if (grads.empty())
      first = name;
    else if (one_device)
      EBM_CHECK(g.device() == grads[0].device(), DeviceError, op, ": the gradient of parameter '",
                name, "' is on ", g.device(), " but that of '", first, "' on ", grads[0].device(),
                "; all gradients must be on one device");
    grads.push_back(g);
  }
  return grads;
}

NormKind norm_kind(double norm_type, const char* op) {
  if (norm_type == 2.0) return NormKind::SumSquares;
  EBM_CHECK(std::isinf(norm_type) && norm_type > 0, ValueError, op,
            ": norm_type must be 2 or infinity, got ", norm_type);
  return NormKind::MaxAbs;
}

double total_norm(const std::vector<Tensor>& grads, NormKind kind) {
  const std::vector<double> parts = ops::norm_parts(grads, kind);
  double t = 0.0;
  for (double v : parts) t = kind == NormKind::SumSquares ? t + v : norm_combine<NormKind::MaxAbs>(t, v);
  return kind == NormKind::SumSquares ? std::sqrt(t) : t;
}

// The factor a gradient of dtype T is multiplied by.
template <class T>
T clip_coefficient(double norm, double max_norm, ClipForm form) {
  const T n = static_cast<T>(norm), c = static_cast<T>(max_norm);
  if (form == ClipForm::Torch) {
    const T coef = c / (n + static_cast<T>(1e-6));
    return coef > T(1) ? T(1) : coef;  // torch.clamp(max=1): NaN stays NaN
  }
  if (!std::isfinite(n)) return static_cast<T>(NAN);
  const T a = T(1) / n, b = T(1) / c;
  return c * (a < b ? a : b);
}

double clip_norm_impl(const NamedTensors& params, double max_norm, double norm_type,
                      bool error_if_nonfinite, ClipForm form) {
  const char* op = "clip_grad_norm_";
  EBM_CHECK(std::isfinite(max_norm) && max_norm > 0, ValueError, op,
            ": max_norm must be finite and > 0, got ", max_norm);
  const NormKind kind = norm_kind(norm_type, op);
  std::vector<Tensor> grads = collect(params, op);
  if (grads.empty()) return 0.0;
  const double norm = total_norm(grads, kind);
  EBM_CHECK(!error_if_nonfinite || std::isfinite(norm), ValueError, op, ": the total norm of order ",
            norm_type, " of the gradients is ", norm, ", so they cannot be clipped");
  for (Tensor& g : grads) {
    const double coef = g.dtype() == DType::Float32 ? clip_coefficient<float>(norm, max_norm, form)
                                                    : clip_coefficient<double>(norm, max_norm, form);
    if (coef != 1.0) ops::grad_scale_(g, coef);  // × 1 changes no bit
  }
  return norm;
}

}  // namespace

double grad_norm(const NamedTensors& params, double norm_type) {
  const NormKind kind = norm_kind(norm_type, "grad_norm");
  std::vector<Tensor> grads = collect(params, "grad_norm");
  return grads.empty() ? 0.0 : total_norm(grads, kind);
}

double grad_norm(const std::vector<Tensor>& params, double norm_type) {
  NamedTensors named;
  for (size_t i = 0; i < params.size(); ++i) named.emplace_back(std::to_string(i), params[i]);
  return grad_norm(named, norm_type);
}

double clip_grad_norm_(const NamedTensors& params, double max_norm, double norm_type,
                       bool error_if_nonfinite, ClipForm form) {
  return clip_norm_impl(params, max_norm, norm_type, error_if_nonfinite, form);
}

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type,
                       bool error_if_nonfinite, ClipForm form) {
  NamedTensors named;
  for (size_t i = 0; i < params.size(); ++i) named.emplace_back(std::to_string(i), params[i]);
  return clip_norm_impl(named, max_norm, norm_type, error_if_nonfinite, form);
}

void clip_grad_value_(const NamedTensors& params, double clip_value) {
  const char* op = "clip_grad_value_";
  EBM_CHECK(std::isfinite(clip_value) && clip_value >= 0, ValueError, op,
            ": clip_value must be finite and >= 0, got ", clip_value);
  for (Tensor& g : collect(params, op, false)) ops::grad_clamp_(g, -clip_value, clip_value);
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  NamedTensors named;
  for (size_t i = 0; i < params.size(); ++i) named.emplace_back(std::to_string(i), params[i]);
  clip_grad_value_(named, clip_value);
}

}  // namespace ebm::nn
