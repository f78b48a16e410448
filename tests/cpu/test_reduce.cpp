// Reductions forward against naive loops (float32 and float64), logsumexp stability and -inf
// rows, sum_to (the adjoint of broadcasting), and axis errors.
#include <cmath>
#include <limits>

#include "test_util.h"

namespace ebm {
namespace {

// Naive reduction of a [A, B, C] tensor over a subset of axes with keepdim.
Tensor naive(const Tensor& x, std::vector<int> axes, const char* kind) {
  const Shape& s = x.shape();
  auto v = x.to_vector<double>();
  std::vector<int64_t> od = s.vec();
  for (int a : axes) od[a] = 1;
  Shape out(od);
  bool is_max = std::string(kind) == "max", is_lse = std::string(kind) == "lse";
  std::vector<double> acc(out.numel(), is_max || is_lse ? -INFINITY : 0.0);
  std::vector<double> m = acc;
  auto oidx = [&](int64_t i, int64_t j, int64_t k) {
    int64_t idx[3] = {i, j, k};
    for (int a : axes) idx[a] = 0;
    return (idx[0] * od[1] + idx[1]) * od[2] + idx[2];
  };
  for (int pass = 0; pass < (is_lse ? 2 : 1); ++pass)
    for (int64_t i = 0; i < s[0]; ++i)
      for (int64_t j = 0; j < s[1]; ++j)
        for (int64_t k = 0; k < s[2]; ++k) {
          double e = v[(i * s[1] + j) * s[2] + k];
          int64_t o = oidx(i, j, k);
          if (is_max || (is_lse && pass == 0)) m[o] = std::max(m[o], e);
          else if (is_lse) acc[o] = (acc[o] == -INFINITY ? 0 : acc[o]) + std::exp(e - m[o]);
          else acc[o] += e;
        }
  int64_t count = s.numel() / out.numel();
  for (size_t o = 0; o < acc.size(); ++o) {
    if (is_max) acc[o] = m[o];
    if (is_lse) acc[o] = m[o] + std::log(acc[o]);
    if (std::string(kind) == "mean") acc[o] /= count;
  }
  return Tensor::from_vector(acc, out);
}

TEST(Reduce, ForwardMatchesNaive) {
  for (DType dt : {DType::Float32, DType::Float64})
    for (const std::vector<int>& axes : std::vector<std::vector<int>>{{0}, {1}, {2}, {0, 1}, {0, 2}, {1, 2}, {0, 1, 2}}) {
      Tensor x = test::randn({37, 41, 29}, dt, 2.0);  // big enough for the threaded path
      SCOPED_TRACE(str(dtype_name(dt), " axes ", ::testing::PrintToString(axes)));
      double rel = dt == DType::Float32 ? 1e-5 : 1e-12;
      EXPECT_TENSOR_NEAR(ops::sum(x, axes, true), naive(x, axes, "sum"), rel, rel);
      EXPECT_TENSOR_NEAR(ops::mean(x, axes, true), naive(x, axes, "mean"), rel, rel);
      EXPECT_TENSOR_NEAR(ops::max(x, axes, true), naive(x, axes, "max"), 0, 1e-300);  // exact
      EXPECT_TENSOR_NEAR(ops::logsumexp(x, axes, true), naive(x, axes, "lse"), rel, rel);
    }
}

TEST(Reduce, KeepdimAndShapes) {
  Tensor x = test::randn({2, 3, 4});
  EXPECT_EQ(ops::sum(x, {1}).shape(), Shape({2, 4}));
  EXPECT_EQ(ops::sum(x, {1}, true).shape(), Shape({2, 1, 4}));
  EXPECT_EQ(ops::sum(x).shape(), Shape({}));
  EXPECT_EQ(ops::mean(x, {-1, 0}).shape(), Shape({3}));
  try {
    ops::sum(x, {3});
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("axis 3"), std::string::npos) << e.what();
  }
}

TEST(Reduce, LogSumExpIsStable) {
  Tensor x = Tensor::from_vector(std::vector<float>{1000.f, 1000.f, -1000.f, -1000.f}, {2, 2});
  auto y = ops::logsumexp(x, {1}).to_vector<float>();
  EXPECT_FLOAT_EQ(y[0], 1000.f + std::log(2.f));
  EXPECT_FLOAT_EQ(y[1], -1000.f + std::log(2.f));
  float ninf = -std::numeric_limits<float>::infinity();
  Tensor z = Tensor::from_vector(std::vector<float>{ninf, ninf}, {1, 2});
  EXPECT_EQ(ops::logsumexp(z, {1}).item(), -INFINITY);
}

TEST(Reduce, SumToIsTheAdjointOfBroadcast) {
  Tensor g = test::randn({4, 3, 5, 6});
  Tensor s = ops::sum_to(g, {1, 3, 1, 1});
  EXPECT_TENSOR_NEAR(s, ops::sum(g, {0, 2, 3}, true), 1e-14, 0);
  EXPECT_TENSOR_NEAR(ops::sum_to(g, {6}), ops::sum(g, {0, 1, 2}), 1e-14, 0);
  EXPECT_EQ(ops::sum_to(test::randn({3}), {1, 3}).shape(), Shape({1, 3}));
  EXPECT_THROW(ops::sum_to(g, {2, 1, 1, 1}), ShapeError);
}

}  // namespace
}  // namespace ebm
