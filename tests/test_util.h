// Shared test helpers: fresh random tensors, tolerant comparisons, naive references and the
// central finite-difference gradient check (run in float64 on the CPU).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "autograd/ops.h"

namespace ebm::test {

// A fresh seed per call, so every run exercises new inputs (printed on failure via SCOPED_TRACE).
inline std::mt19937_64& rng() {
  static std::mt19937_64 gen(std::random_device{}());
  return gen;
}

inline Tensor randn(const Shape& s, DType dt = DType::Float64, double scale = 1.0) {
  std::normal_distribution<double> d(0.0, scale);
  std::vector<double> v(s.numel());
  for (auto& x : v) x = d(rng());
  return Tensor::from_vector(v, s).to(dt);
}

inline Tensor uniform(const Shape& s, double lo, double hi, DType dt = DType::Float64) {
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<double> v(s.numel());
  for (auto& x : v) x = d(rng());
  return Tensor::from_vector(v, s).to(dt);
}

// Max over elements of |a - b| / (abs_tol + rel_tol * |b|); <= 1 means "close".
inline double close_ratio(const Tensor& a, const Tensor& b, double rel_tol, double abs_tol) {
  auto va = a.to_vector<double>(), vb = b.to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    double diff = std::fabs(va[i] - vb[i]);
    double r = diff == 0 ? 0.0 : diff / (abs_tol + rel_tol * std::fabs(vb[i]));  // exact match passes tol 0
    if (!(r <= worst)) worst = std::isnan(r) ? INFINITY : r;  // NaN never passes
  }
  return worst;
}

#define EXPECT_TENSOR_NEAR(a, b, rel, abs_)                                     \
  do {                                                                          \
    ASSERT_EQ((a).shape(), (b).shape());                                        \
    EXPECT_LE(::ebm::test::close_ratio((a), (b), (rel), (abs_)), 1.0)           \
        << "actual " << (a) << "\nexpected " << (b);                            \
  } while (0)

// Runs f, expecting an exception of type E whose message contains every string in parts.
template <class E, class F>
void expect_error(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "expected an exception containing '" << parts.front() << "'";
  } catch (const E& e) {
    std::string m = e.what();
    for (const auto& p : parts) EXPECT_NE(m.find(p), std::string::npos) << "'" << p << "' not in: " << m;
  }
}

// Central finite differences of sum(f(inputs) * w) for a fixed random weight w, compared with
// autograd's gradient for every input. Inputs must be float64 leaves. Tolerances: float64 with
// eps = 1e-6 gives truncation error ~eps^2 * f''' and rounding ~1e-16/eps, so 1e-6 relative.
inline void gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                      std::vector<Tensor> inputs, double eps = 1e-6, double rel_tol = 1e-6,
                      double abs_tol = 1e-7) {
  for (auto& x : inputs) x.set_requires_grad(true);
  Tensor out = f(inputs);
  Tensor w = randn(out.shape(), out.dtype());
  Tensor loss = sum(out * w);
  std::vector<Tensor> analytic = grad(loss, inputs, Tensor(), false, /*allow_unused=*/true);
  NoGradGuard ng;
  auto value = [&] { return ops::sum(ops::binary(BinaryOp::Mul, f(inputs), w)).item(); };
  for (size_t k = 0; k < inputs.size(); ++k) {
    Tensor& x = inputs[k];
    double* p = x.data<double>();
    std::vector<double> numeric(x.numel());
    for (int64_t i = 0; i < x.numel(); ++i) {
      double orig = p[i];
      p[i] = orig + eps;
      double fp = value();
      p[i] = orig - eps;
      double fm = value();
      p[i] = orig;
      numeric[i] = (fp - fm) / (2 * eps);
    }
    Tensor num = Tensor::from_vector(numeric, x.shape());
    Tensor ana = analytic[k].defined() ? analytic[k] : Tensor::zeros(x.shape(), DType::Float64);
    EXPECT_LE(close_ratio(ana, num, rel_tol, abs_tol), 1.0)
        << "gradient of input " << k << "\nautograd " << ana << "\nnumeric " << num;
  }
}

}  // namespace ebm::test
