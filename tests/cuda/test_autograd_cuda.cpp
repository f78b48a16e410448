// The autograd engine on cuda tensors: the gradient of sum(exp(x) * w + x) with respect to a
// broadcast x equals the CPU's. This runs the tape and backward() over cuda elementwise ops,
// ones/zeros fills, reductions and sum_to (x is broadcast against w, so its gradient is a sum
// over the broadcast axes), and gradient accumulation of the two paths into x.
//
// Tolerance: every elementwise step is bit for bit in float32 (portable exp, IEEE products and
// sums) and within 2 ulp in float64 (libm exp); the gradient is sum_to over two axes of
// exp(x)·w + 1, so the reduction bound of test_reduce_cuda.cpp applies with S = Σ(|exp(x)·w| + 1)
// (details at the tolerances below); the forward loss likewise over all four axes.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "autograd/ops.h"
#include "cuda_test_util.h"

namespace ebm {
namespace {

Tensor randn(const Shape& s, DType dt, std::mt19937_64& gen) {
  std::normal_distribution<double> d(0.0, 1.0);
  std::vector<double> v(static_cast<size_t>(s.numel()));
  for (auto& e : v) e = d(gen);
  return Tensor::from_vector(v, s).to(dt);
}

TEST(AutogradCuda, GradOfSumExpTimesWPlusXMatchesCpu) {
  EBM_REQUIRE_CUDA();
  std::mt19937_64 gen(std::random_device{}());
  const Shape xs{3, 1, 7}, ws{4, 3, 5, 7};
  for (DType dt : {DType::Float32, DType::Float64}) {
    SCOPED_TRACE(dtype_name(dt));
    const bool f32 = dt == DType::Float32;
    const Tensor x = randn(xs, dt, gen), w = randn(ws, dt, gen);

    Tensor xc = x.clone().set_requires_grad();
    Tensor loss_c = sum(exp(xc) * w + xc);
    Tensor gc = grad(loss_c, {xc})[0];

    Tensor xg = x.to(Device::cuda()).set_requires_grad();
    Tensor wg = w.to(Device::cuda());
    Tensor loss_g = sum(exp(xg) * wg + xg);
    ASSERT_TRUE(loss_g.device().is_cuda());
    Tensor gg = grad(loss_g, {xg})[0];
    ASSERT_TRUE(gg.device().is_cuda());
    ASSERT_EQ(gg.shape(), xs);
    EXPECT_FALSE(xg.grad().defined()) << "grad() must not write the leaf's .grad";

    // S per gradient element (the terms exp(x)·w and 1 it sums) and for the loss (exp(x)·w and
    // x), in double on the CPU.
    NoGradGuard no_grad;
    const Tensor ew = ops::unary(UnaryOp::Abs, (exp(x) * w).to(DType::Float64));
    const std::vector<double> S = ops::sum_to(ew + 1.0, xs).to_vector<double>();
    const double S_loss =
        ops::sum(ew + ops::unary(UnaryOp::Abs, x.to(DType::Float64))).item();
    const double u23 = std::ldexp(1.0, -23), u53 = std::ldexp(1.0, -53);
    const double noise_g = 2.0 * ((4 + 8) + (5 + 8)) * u53;  // sum_to over axes 0 and 2
    const double noise_l = 2.0 * ((4 + 8) + (3 + 8) + (5 + 8) + (7 + 8)) * u53;
    // float32: two reduction passes plus the rounding of adding the two paths' gradients;
    // float64: exp 2 ulp, a product and the final add 1 ulp each (8 half-ulps of 2^-53).
    const double rel_g = (f32 ? 3 * u23 : 8 * u53) + noise_g;
    const double rel_l = (f32 ? 4 * u23 : 8 * u53) + noise_l;

    const std::vector<double> a = gg.to_vector<double>(), b = gc.to_vector<double>();
    for (size_t i = 0; i < b.size(); ++i)
      EXPECT_LE(std::fabs(a[i] - b[i]), rel_g * S[i]) << "element " << i << ": " << a[i] << " vs " << b[i];
    EXPECT_LE(std::fabs(loss_g.item() - loss_c.item()), rel_l * S_loss);
  }
}

}  // namespace
}  // namespace ebm
