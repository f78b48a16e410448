// Matrix product and linear layer: forward against naive triple loops on fresh random inputs
// (float32 and float64, every transpose combination, shapes large enough for Eigen's threads),
// gradients and second-order gradients by finite differences, the needs mask, error messages.
#include <cmath>
#include <limits>

#include "test_util.h"

namespace ebm {
namespace {

using test::randn;

// Naive op(a) op(b) in double; mag[i, j] = sum_k |a_ik b_kj|, the scale of the rounding error.
std::pair<Tensor, Tensor> naive_matmul(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  auto av = a.to_vector<double>(), bv = b.to_vector<double>();
  int64_t m = ta ? a.size(1) : a.size(0), k = ta ? a.size(0) : a.size(1);
  int64_t n = tb ? b.size(0) : b.size(1);
  auto A = [&](int64_t i, int64_t j) { return ta ? av[j * a.size(1) + i] : av[i * a.size(1) + j]; };
  auto B = [&](int64_t i, int64_t j) { return tb ? bv[j * b.size(1) + i] : bv[i * b.size(1) + j]; };
  std::vector<double> c(m * n), mag(m * n);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t q = 0; q < k; ++q) {
        c[i * n + j] += A(i, q) * B(q, j);
        mag[i * n + j] += std::fabs(A(i, q) * B(q, j));
      }
  return {Tensor::from_vector(c, {m, n}), Tensor::from_vector(mag, {m, n})};
}

// A sum of `terms` products in any order is within (terms + 1)·u·sum|products| of the exact
// value (Higham, Accuracy and Stability, Thm 3.1; +1 for the final rounding), u the unit
// roundoff of the dtype. Blocked and threaded GEMMs only reorder the sum, so this bound is
// what any correct implementation meets, while an indexing bug misses it by orders of magnitude.
void expect_within_sum_bound(const Tensor& actual, const Tensor& ref, const Tensor& mag,
                             int64_t terms) {
  ASSERT_EQ(actual.shape(), ref.shape());
  double u = actual.dtype() == DType::Float32 ? std::numeric_limits<float>::epsilon() / 2
                                              : std::numeric_limits<double>::epsilon() / 2;
  auto a = actual.to_vector<double>(), r = ref.to_vector<double>(), s = mag.to_vector<double>();
  int bad = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    double bound = (terms + 2) * u * s[i] + 1e-300;
    if (!(std::fabs(a[i] - r[i]) <= bound) && bad++ < 5)
      ADD_FAILURE() << "element " << i << ": got " << a[i] << ", expected " << r[i] << " (bound "
                    << bound << ")";
  }
  EXPECT_EQ(bad, 0);
}

struct MatmulCase {
  int64_t m, k, n;
};
const MatmulCase kMatmulCases[] = {{1, 1, 1}, {3, 5, 4}, {1, 17, 9}, {8, 1, 6},
                                   {67, 129, 45}, {128, 160, 96}};

TEST(Matmul, ForwardMatchesNaiveReference) {
  for (const auto& c : kMatmulCases)
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (DType dt : {DType::Float32, DType::Float64}) {
          SCOPED_TRACE(str(c.m, "x", c.k, "x", c.n, " ta=", ta, " tb=", tb, " ", dtype_name(dt)));
          Tensor a = ta ? randn({c.k, c.m}, dt) : randn({c.m, c.k}, dt);
          Tensor b = tb ? randn({c.n, c.k}, dt) : randn({c.k, c.n}, dt);
          Tensor y = ops::matmul(a, b, ta, tb);
          EXPECT_EQ(y.dtype(), dt);
          auto [ref, mag] = naive_matmul(a, b, ta, tb);
          expect_within_sum_bound(y, ref, mag, c.k);
        }
}

TEST(Matmul, EmptyInnerDimensionGivesZeros) {
  Tensor y = ops::matmul(Tensor::zeros({3, 0}), Tensor::zeros({0, 2}));
  EXPECT_EQ(y.shape(), Shape({3, 2}));
  for (float v : y.to_vector<float>()) EXPECT_EQ(v, 0.0f);
}

TEST(Matmul, GradientMatchesFiniteDifferences) {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      SCOPED_TRACE(str("ta=", ta, " tb=", tb));
      Tensor a = ta ? randn({5, 3}) : randn({3, 5});
      Tensor b = tb ? randn({4, 5}) : randn({5, 4});
      test::gradcheck([&](const std::vector<Tensor>& in) { return matmul(in[0], in[1], ta, tb); },
                      {a, b});
    }
}

TEST(Matmul, SecondOrderGradientMatchesFiniteDifferences) {
  // f(a, b) = d/da sum(v ⊙ (a b)²), recorded with create_graph, then differentiated again.
  Tensor v = randn({3, 4});
  test::gradcheck(
      [&](const std::vector<Tensor>& in) {
        GradModeGuard on(true);
        Tensor e = sum(square(matmul(in[0], in[1])) * v);
        return grad(e, {in[0]}, Tensor(), /*create_graph=*/true)[0];
      },
      {randn({3, 5}), randn({5, 4})});
}

TEST(Matmul, ErrorsNameOpAndShapes) {
  test::expect_error<ShapeError>([] { ops::matmul(randn({2, 3}), randn({4, 5})); },
                           {"matmul", "[2, 3]", "[4, 5]"});
  test::expect_error<ShapeError>([] { ops::matmul(randn({3, 2}), randn({3, 5}), false, false); },
                           {"matmul", "[3, 2]", "[3, 5]"});
  test::expect_error<ShapeError>([] { ops::matmul(randn({2, 3, 4}), randn({4, 5})); },
                           {"matmul", "[2, 3, 4]"});
  test::expect_error<DTypeError>([] { ops::matmul(randn({2, 3}), randn({3, 2}, DType::Float32)); },
                           {"matmul", "float64", "float32"});
}

// Naive x wᵀ + b with its rounding scale.
std::pair<Tensor, Tensor> naive_linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  auto [y, mag] = naive_matmul(x, w, false, true);
  if (!b.defined()) return {y, mag};
  auto yv = y.to_vector<double>(), mv = mag.to_vector<double>(), bv = b.to_vector<double>();
  int64_t out = w.size(0);
  for (size_t i = 0; i < yv.size(); ++i) {
    yv[i] += bv[i % out];
    mv[i] += std::fabs(bv[i % out]);
  }
  return {Tensor::from_vector(yv, y.shape()), Tensor::from_vector(mv, y.shape())};
}

TEST(Linear, ForwardMatchesNaiveReference) {
  struct Case { int64_t n, in, out; };
  for (Case c : {Case{1, 1, 1}, Case{4, 7, 3}, Case{1, 64, 10}, Case{128, 256, 96}})
    for (bool bias : {false, true})
      for (DType dt : {DType::Float32, DType::Float64}) {
        SCOPED_TRACE(str(c.n, "x", c.in, "->", c.out, " bias=", bias, " ", dtype_name(dt)));
        Tensor x = randn({c.n, c.in}, dt), w = randn({c.out, c.in}, dt);
        Tensor b = bias ? randn({c.out}, dt) : Tensor();
        Tensor y = ops::linear(x, w, b);
        auto [ref, mag] = naive_linear(x, w, b);
        expect_within_sum_bound(y, ref, mag, c.in + 1);
      }
}

TEST(Linear, GradientMatchesFiniteDifferences) {
  test::gradcheck([](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); },
                  {randn({4, 6}), randn({3, 6}), randn({3})});
  test::gradcheck([](const std::vector<Tensor>& in) { return linear(in[0], in[1]); },
                  {randn({2, 5}), randn({7, 5})});
}

TEST(Linear, SecondOrderGradientMatchesFiniteDifferences) {
  Tensor v = randn({4, 3});
  test::gradcheck(
      [&](const std::vector<Tensor>& in) {
        GradModeGuard on(true);
        Tensor e = sum(square(linear(in[0], in[1], in[2])) * v);
        return grad(e, {in[0]}, Tensor(), /*create_graph=*/true)[0];
      },
      {randn({4, 6}), randn({3, 6}), randn({3})});
}

TEST(Linear, GradWrtInputOnlyLeavesParametersAlone) {
  Tensor x = randn({5, 8}).set_requires_grad();
  Tensor w = randn({4, 8}).set_requires_grad();
  Tensor b = randn({4}).set_requires_grad();
  Tensor e = sum(square(linear(x, w, b)));
  Tensor gx = grad(e, {x})[0];
  EXPECT_FALSE(w.grad().defined());
  EXPECT_FALSE(b.grad().defined());
  backward(e);
  ASSERT_TRUE(w.grad().defined() && b.grad().defined());
  EXPECT_TENSOR_NEAR(gx, x.grad(), 1e-14, 1e-14);
}

TEST(Linear, ErrorsNameOpAndShapes) {
  test::expect_error<ShapeError>([] { ops::linear(randn({2, 3}), randn({4, 5})); },
                           {"linear", "[2, 3]", "[4, 5]"});
  test::expect_error<ShapeError>([] { ops::linear(randn({2, 3}), randn({4, 3}), randn({5})); },
                           {"linear", "[5]", "[4, 3]"});
  test::expect_error<ShapeError>([] { ops::linear(randn({2, 2, 3}), randn({4, 3})); },
                           {"linear", "[2, 2, 3]"});
}

}  // namespace
}  // namespace ebm
