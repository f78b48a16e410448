// DRL's noise ladder, conditional and progressive samplers and loss (see drl.h).
#include "samplers/drl.h"

#include <cmath>
#include <utility>

#include "autograd/ops.h"
#include "core/ops/index.h"
#include "core/ops/langevin.h"
#include "core/ops/random.h"
#include "core/philox.h"
#include "samplers/langevin.h"

namespace ebm::samplers {

DrlSchedule DrlSchedule::make(int64_t T, double b_square) {
  EBM_CHECK(T >= 2 && T <= 501, ValueError, "DrlSchedule: num_diffusion_timesteps must lie in [2, 501] "
            "(the official grouping of 1000 DDPM steps), got ", T);
  EBM_CHECK(b_square > 0 && std::isfinite(b_square), ValueError,
            "DrlSchedule: mcmc_step_size_b_square must be > 0, got ", b_square);
  // DDPM's β, in double as numpy's linspace (the last value exactly 0.02).
  constexpr int kSteps = 1000;
  std::vector<double> sqrt_alpha(kSteps);
  for (int j = 0; j < kSteps; ++j) {
    const double beta = j == kSteps - 1 ? 0.02 : 1e-4 + j * ((0.02 - 1e-4) / (kSteps - 1));
    sqrt_alpha[j] = std::sqrt(1.0 - beta);
  }
  std::vector<int64_t> idx;
  const int64_t stride = kSteps / ((T - 1) * 2);
  for (int64_t i = 0; i < T; ++i) idx.push_back(i * stride);
  idx.push_back(kSteps - 1);

  DrlSchedule s;
  s.num_timesteps = T;
  s.b_square = b_square;
  s.a.assign(T + 1, 1.0);
  for (int64_t j = 0; j <= idx[0]; ++j) s.a[0] *= sqrt_alpha[j];
  for (int64_t i = 1; i <= T; ++i)
    for (int64_t j = idx[i - 1] + 1; j <= idx[i]; ++j) s.a[i] *= sqrt_alpha[j];
  double cum = 1.0;
  for (int64_t i = 0; i <= T; ++i) {
    s.sigma.push_back(std::sqrt(1.0 - s.a[i] * s.a[i]));
    cum *= s.a[i];
    s.alpha_bar.push_back(cum);
    s.sigma_bar.push_back(std::sqrt(1.0 - cum * cum));
    s.a_prev.push_back(i == T ? 1.0 : s.a[i]);
    s.recovery.push_back(i == T ? 0.0 : 1.0);
  }
  for (int64_t t = 0; t < T; ++t) {
    const double sig2 = s.sigma[t + 1] * s.sigma[t + 1];
    const double c_t = s.sigma_bar[t] / s.sigma_bar[0];  // the code's c_t_square: not squared
    s.step_sq.push_back(b_square * sig2 * c_t);
    s.step.push_back(std::sqrt(s.step_sq.back()));
    s.tether.push_back(s.recovery[t + 1] * s.step_sq.back() / (2.0 * sig2));
    s.loss_weight.push_back(s.sigma[1] / s.sigma[t + 1]);
  }
  return s;
}

namespace {

Tensor level_tensor(const std::vector<double>& v, size_t first, size_t n, DType dt, Device dev) {
  std::vector<double> part(v.begin() + first, v.begin() + first + n);
  return Tensor::from_vector(part, Shape{static_cast<int64_t>(n)}).to(dt).to(dev);
}

}  // namespace

DrlLadder::DrlLadder(DrlSchedule schedule, DrlLadderOptions options, DType dtype, Device device)
    : s_(std::move(schedule)), o_(options), dtype_(dtype), device_(device) {
  const size_t T = static_cast<size_t>(s_.num_timesteps);
  EBM_CHECK(T >= 1 && s_.a.size() == T + 1 && s_.step_sq.size() == T && s_.loss_weight.size() == T,
            ValueError, "DrlLadder: the schedule is not complete (build it with DrlSchedule::make)");
  EBM_CHECK(o_.steps >= 0 && o_.noise_scale >= 0 && std::isfinite(o_.noise_scale), ValueError,
            "DrlLadder: need mcmc_num_steps >= 0 and noise_scale >= 0, got ", o_.steps, " and ",
            o_.noise_scale);
  EBM_CHECK(dtype == DType::Float32 || dtype == DType::Float64, DTypeError,
            "DrlLadder: dtype must be float32 or float64");
  std::vector<double> sig_sq;
  for (size_t t = 0; t < T; ++t) sig_sq.push_back(s_.sigma[t + 1] * s_.sigma[t + 1]);
  std::vector<double> r(s_.recovery.begin() + 1, s_.recovery.end());
  table_ = ops::drl_langevin_table(s_.step_sq, sig_sq, r, o_.noise_scale, dtype, device);
  alpha_bar_ = level_tensor(s_.alpha_bar, 0, T, dtype, device);
  sigma_bar_ = level_tensor(s_.sigma_bar, 0, T, dtype, device);
  a_next_ = level_tensor(s_.a, 1, T, dtype, device);
  sigma_next_ = level_tensor(s_.sigma, 1, T, dtype, device);
  a_prev_ = level_tensor(s_.a_prev, 1, T, dtype, device);
  weight_ = level_tensor(s_.loss_weight, 0, T, dtype, device);
}

void DrlLadder::check_levels(const Tensor& t, int64_t n, const char* op) const {
  EBM_CHECK(t.defined() && t.dtype() == DType::Int64 && t.dim() == 1 && t.size(0) == n, ValueError,
            op, ": the levels t must be int64 [", n, "], got ",
            t.defined() ? t.description() : std::string("an undefined tensor"));
  EBM_CHECK(t.device() == device_, DeviceError, op, ": t is on ", t.device(), " but the ladder on ", device_);
}

Tensor DrlLadder::gather(const Tensor& per_level, const Tensor& t, int ndim) const {
  std::vector<int64_t> dims(static_cast<size_t>(ndim), 1);
  dims[0] = t.size(0);
  return ops::index_select(per_level, t).view(Shape(dims));
}

Tensor DrlLadder::random_levels(int64_t n, Generator& gen) const {
  EBM_CHECK(n >= 0, ValueError, "DrlLadder::random_levels: n must be >= 0, got ", n);
  const uint64_t seed = gen.seed(), offset = gen.reserve(static_cast<uint64_t>(n));
  std::vector<int64_t> t(static_cast<size_t>(n));
  const uint64_t T = static_cast<uint64_t>(s_.num_timesteps);
  for (int64_t b = 0; b < n; ++b)  // ⌊word·T / 2³²⌋: uniform up to T/2³² (no modulo bias worth naming)
    t[b] = static_cast<int64_t>((static_cast<uint64_t>(philox::word(seed, offset + b)) * T) >> 32);
  return Tensor::from_vector(t, Shape{n}, device_);
}

std::pair<Tensor, Tensor> DrlLadder::q_sample_pairs(const Tensor& x, const Tensor& t, Generator& gen) const {
  check_levels(t, x.size(0), "DrlLadder::q_sample_pairs");
  EBM_CHECK(x.device() == device_, DeviceError, "DrlLadder::q_sample_pairs: x is on ", x.device(),
            " but the ladder on ", device_);
  NoGradGuard no_grad;
  const int nd = x.dim();
  Tensor x0 = x.detach().to(dtype_);
  Tensor eps = ops::randn(x.shape(), gen, dtype_, device_), eps2 = ops::randn(x.shape(), gen, dtype_, device_);
  Tensor x_t = add(mul(gather(alpha_bar_, t, nd), x0), mul(gather(sigma_bar_, t, nd), eps));
  Tensor x_next = add(mul(gather(a_next_, t, nd), x_t), mul(gather(sigma_next_, t, nd), eps2));
  return {x_t, x_next};
}

Tensor DrlLadder::langevin(const Tensor& x_tilde, const Tensor& t, const DrlFn& f, Generator& gen) const {
  check_levels(t, x_tilde.size(0), "DrlLadder::langevin");
  EBM_CHECK(x_tilde.dtype() == dtype_, DTypeError, "DrlLadder::langevin: x_tilde is ", x_tilde.description(),
            " but the ladder is ", dtype_name(dtype_));
  EBM_CHECK(x_tilde.device() == device_, DeviceError, "DrlLadder::langevin: x_tilde is on ", x_tilde.device(),
            " but the ladder on ", device_);
  Tensor y = x_tilde.detach().clone();
  const LangevinDrlInputs in{x_tilde.detach(), t, table_};
  const LangevinParams p = LangevinParams::drl(o_.noise_scale > 0);
  const EnergyFn f_at_t = [&](const Tensor& v) { return f(v, t); };
  for (int64_t k = 0; k < o_.steps; ++k) {
    Tensor g = energy_grad(y, f_at_t);  // ∇_y Σ f(y, t)
    ops::langevin_step_(y, g, p, gen, in);
  }
  return y;
}

Tensor DrlLadder::to_x(const Tensor& y, const Tensor& t) const {
  check_levels(t, y.size(0), "DrlLadder::to_x");
  return ops::binary(BinaryOp::Div, y.detach(), gather(a_prev_, t, y.dim()));
}

Tensor DrlLadder::to_y(const Tensor& x, const Tensor& t) const {
  check_levels(t, x.size(0), "DrlLadder::to_y");
  return ops::binary(BinaryOp::Mul, gather(a_prev_, t, x.dim()), x.detach());
}

Tensor DrlLadder::sample_progressive(const Shape& shape, const DrlFn& f, Generator& gen,
                                     std::vector<Tensor>* trace) const {
  Tensor x = ops::randn(shape, gen, dtype_, device_);
  if (trace) trace->assign(1, x.clone());
  for (int64_t t = s_.num_timesteps - 1; t >= 0; --t) {
    Tensor level = Tensor::from_vector(std::vector<int64_t>(static_cast<size_t>(shape[0]), t), Shape{shape[0]}, device_);
    x = to_x(langevin(x, level, f, gen), level);
    if (trace) trace->push_back(x.clone());
  }
  return x;
}

DrlLoss DrlLadder::loss(const Tensor& f_pos, const Tensor& f_neg, const Tensor& t) const {
  EBM_CHECK(f_pos.defined() && f_neg.defined() && f_pos.dim() == 1 && f_pos.shape() == f_neg.shape(),
            ShapeError, "DrlLadder::loss: f(y+) and f(y-) must be [B] vectors of one shape, got ",
            f_pos.defined() ? f_pos.description() : "undefined", " and ",
            f_neg.defined() ? f_neg.description() : "undefined");
  check_levels(t, f_pos.size(0), "DrlLadder::loss");
  Tensor w = ops::index_select(weight_.to(f_pos.dtype()), t);
  DrlLoss out;
  Tensor per_sample = mul(w, sub(f_neg, f_pos));
  out.loss = mean(per_sample);
  out.per_sample = per_sample.detach();
  NoGradGuard no_grad;
  out.f_pos = mean(f_pos.detach()).item();
  out.f_neg = mean(f_neg.detach()).item();
  return out;
}

DrlLoss DrlLadder::recovery_loss(const DrlFn& f, const Tensor& x_pos, const Tensor& y_neg, const Tensor& t) const {
  EBM_CHECK(x_pos.shape() == y_neg.shape(), ShapeError, "DrlLadder::recovery_loss: x_t is ",
            x_pos.description(), " but y- is ", y_neg.description());
  const int64_t B = x_pos.size(0);
  Tensor y = ops::concat({to_y(x_pos, t), y_neg.detach()}, 0);
  Tensor tt = ops::concat({t, t}, 0);
  Tensor f_all = f(y, tt);
  EBM_CHECK(f_all.defined() && f_all.dim() == 1 && f_all.size(0) == 2 * B, ShapeError,
            "DrlLadder::recovery_loss: f must return one value per sample, [", 2 * B, "], got ",
            f_all.defined() ? f_all.description() : std::string("an undefined tensor"));
  return loss(slice(f_all, 0, B), slice(f_all, B, 2 * B), t);
}

DrlLevelStats DrlLadder::level_stats(const DrlLoss& l, const Tensor& t) const {
  const std::vector<double> v = l.per_sample.to_vector<double>();
  const std::vector<int64_t> lv = t.to_vector<int64_t>();
  DrlLevelStats s;
  s.count.assign(static_cast<size_t>(s_.num_timesteps), 0);
  s.mean.assign(static_cast<size_t>(s_.num_timesteps), 0.0);
  for (size_t b = 0; b < v.size() && b < lv.size(); ++b) {
    if (lv[b] < 0 || lv[b] >= s_.num_timesteps) continue;
    s.count[lv[b]] += 1;
    s.mean[lv[b]] += v[b];
  }
  for (size_t k = 0; k < s.mean.size(); ++k)
    if (s.count[k] > 0) s.mean[k] /= static_cast<double>(s.count[k]);
  return s;
}

}  // namespace ebm::samplers
