// Elementwise ops: forward against naive scalar references on fresh random inputs (float32 and
// float64), broadcasting cases, error messages, and gradients by central finite differences.
#include <cmath>

#include "kernel_test_util.h"
#include "test_util.h"

namespace ebm {
namespace {

using test::randn;
using test::uniform;

double naive_unary(UnaryOp op, double x, double a, double b) {
  switch (op) {
    case UnaryOp::Neg: return -x;
    case UnaryOp::Exp: return std::exp(x);
    case UnaryOp::Log: return std::log(x);
    case UnaryOp::Sqrt: return std::sqrt(x);
    case UnaryOp::Abs: return std::fabs(x);
    case UnaryOp::Sign: return (x > 0) - (x < 0);
    case UnaryOp::Square: return x * x;
    case UnaryOp::Reciprocal: return 1 / x;
    case UnaryOp::Relu: return x > 0 ? x : 0;
    case UnaryOp::Step: return x > 0;
    case UnaryOp::LeakyRelu: return x > 0 ? x : a * x;
    case UnaryOp::LeakyReluGrad: return x > 0 ? 1 : a;
    case UnaryOp::Silu: return x / (1 + std::exp(-x));
    case UnaryOp::SiluGrad: {
      double s = 1 / (1 + std::exp(-x));
      return s + x * s * (1 - s);
    }
    case UnaryOp::Softplus: return std::log(1 + std::exp(x));
    case UnaryOp::Tanh: return std::tanh(x);
    case UnaryOp::Sigmoid: return 1 / (1 + std::exp(-x));
    case UnaryOp::Pow: return std::pow(x, a);
    case UnaryOp::Clamp: return std::min(std::max(x, a), b);
    case UnaryOp::ClampMask: return x >= a && x <= b;
    case UnaryOp::Affine: return a * x + b;
  }
  return NAN;
}

using test::kUnaryCases;
using test::UnaryCase;

class UnaryTest : public ::testing::TestWithParam<UnaryCase> {};

TEST_P(UnaryTest, ForwardMatchesNaiveReference) {
  const UnaryCase& c = GetParam();
  for (DType dt : {DType::Float32, DType::Float64}) {
    // Large enough to take the multi-threaded path.
    Tensor x = c.positive ? uniform({3, 5, 67, 71}, 0.05, 4.0, dt) : randn({3, 5, 67, 71}, dt, 3.0);
    Tensor y = ops::unary(c.op, x, c.a, c.b);
    auto xv = x.to_vector<double>();
    std::vector<double> ref(xv.size());
    for (size_t i = 0; i < xv.size(); ++i) ref[i] = naive_unary(c.op, xv[i], c.a, c.b);
    double rel = dt == DType::Float32 ? 2e-6 : 1e-13;  // a few ulp of the type
    EXPECT_TENSOR_NEAR(y, Tensor::from_vector(ref, x.shape()), rel, rel);
  }
}

TEST_P(UnaryTest, GradientMatchesFiniteDifferences) {
  const UnaryCase& c = GetParam();
  Tensor x = c.positive ? uniform({4, 7}, 0.2, 3.0) : randn({4, 7});
  // Keep away from the kinks of piecewise ops, where finite differences are meaningless.
  auto v = x.to_vector<double>();
  for (auto& e : v)
    for (double kink : {0.0, c.a, c.b})
      if (std::fabs(e - kink) < 1e-3) e += 1e-2;
  x = Tensor::from_vector(v, x.shape());
  test::gradcheck([&](const std::vector<Tensor>& in) { return unary(c.op, in[0], c.a, c.b); }, {x});
}

INSTANTIATE_TEST_SUITE_P(AllOps, UnaryTest, ::testing::ValuesIn(kUnaryCases),
                         [](const auto& info) { return std::string(unary_op_name(info.param.op)); });

TEST(Softplus, IsStableForLargeInputs) {
  Tensor x = Tensor::from_vector(std::vector<float>{-100.f, 100.f, 0.f}, {3});
  auto y = ops::unary(UnaryOp::Softplus, x).to_vector<float>();
  EXPECT_NEAR(y[0], 0.0f, 1e-30f);
  EXPECT_FLOAT_EQ(y[1], 100.0f);
  EXPECT_FLOAT_EQ(y[2], std::log(2.0f));
}

double naive_binary(BinaryOp op, double x, double y) {
  switch (op) {
    case BinaryOp::Add: return x + y;
    case BinaryOp::Sub: return x - y;
    case BinaryOp::Mul: return x * y;
    case BinaryOp::Div: return x / y;
    case BinaryOp::Maximum: return std::max(x, y);
    case BinaryOp::Minimum: return std::min(x, y);
    case BinaryOp::GreaterMask: return x > y;
  }
  return NAN;
}

// Naive broadcast reference: index each operand by the output's multi-index.
Tensor naive_broadcast(BinaryOp op, const Tensor& x, const Tensor& y) {
  Shape out = broadcast_shapes(x.shape(), y.shape(), "test");
  auto xv = x.to_vector<double>(), yv = y.to_vector<double>();
  std::vector<double> z(out.numel());
  auto index_in = [&](const Shape& s, const std::vector<int64_t>& idx) {
    int64_t flat = 0;
    int lead = out.ndim() - s.ndim();
    for (int i = 0; i < s.ndim(); ++i) flat = flat * s[i] + (s[i] == 1 ? 0 : idx[i + lead]);
    return flat;
  };
  std::vector<int64_t> idx(out.ndim());
  for (int64_t f = 0; f < out.numel(); ++f) {
    int64_t rem = f;
    for (int i = out.ndim() - 1; i >= 0; --i) {
      idx[i] = rem % out[i];
      rem /= out[i];
    }
    z[f] = naive_binary(op, xv[index_in(x.shape(), idx)], yv[index_in(y.shape(), idx)]);
  }
  return Tensor::from_vector(z, out);
}

struct BroadcastCase {
  Shape x, y;
};
const BroadcastCase kBroadcastCases[] = {
    {{2, 3, 4, 5}, {2, 3, 4, 5}},  // same shape
    {{2, 3, 4, 5}, {}},            // scalar
    {{2, 3, 4, 5}, {1, 3, 1, 1}},  // per-channel
    {{1, 3, 1, 1}, {2, 3, 4, 5}},  // per-channel on the left
    {{2, 3, 4, 5}, {5}},           // trailing vector
    {{2, 1, 4, 1}, {1, 3, 1, 5}},  // both sides broadcast
    {{64, 32, 33}, {64, 1, 33}},   // middle dim, big enough for threads
    {{7, 1}, {1, 9}},              // outer product
    {{2, 3, 1, 4, 2}, {3, 5, 1, 2}},  // five dims
};

TEST(Binary, ForwardBroadcastMatchesNaive) {
  for (const auto& c : kBroadcastCases)
    for (BinaryOp op : {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div,
                        BinaryOp::Maximum, BinaryOp::Minimum, BinaryOp::GreaterMask})
      for (DType dt : {DType::Float32, DType::Float64}) {
        SCOPED_TRACE(str(binary_op_name(op), " ", c.x, " ", c.y, " ", dtype_name(dt)));
        Tensor x = randn(c.x, dt), y = uniform(c.y, 0.5, 2.0, dt);
        Tensor z = ops::binary(op, x, y);
        double rel = dt == DType::Float32 ? 1e-6 : 1e-14;
        EXPECT_TENSOR_NEAR(z, naive_broadcast(op, x, y), rel, rel);
      }
}

TEST(Binary, GradientsReduceOverBroadcastDims) {
  for (const auto& c : kBroadcastCases) {
    if (Shape(c.x).numel() > 500 || Shape(c.y).numel() > 500) continue;  // FD cost
    for (BinaryOp op : {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div,
                        BinaryOp::Maximum, BinaryOp::Minimum}) {
      SCOPED_TRACE(str(binary_op_name(op), " ", c.x, " ", c.y));
      test::gradcheck([&](const std::vector<Tensor>& in) { return binary(op, in[0], in[1]); },
                      {randn(c.x), uniform(c.y, 0.5, 2.0)});
    }
  }
}

TEST(Binary, MaximumTieSplitsGradient) {
  Tensor x = Tensor::from_vector(std::vector<double>{1.0, 2.0}, {2}).set_requires_grad();
  Tensor y = Tensor::from_vector(std::vector<double>{1.0, 1.0}, {2}).set_requires_grad();
  auto g = grad(sum(maximum(x, y)), {x, y});
  EXPECT_EQ(g[0].to_vector<double>(), (std::vector<double>{0.5, 1.0}));
  EXPECT_EQ(g[1].to_vector<double>(), (std::vector<double>{0.5, 0.0}));
}

TEST(Binary, InPlaceAndAxpy) {
  Tensor x = randn({4, 3, 2, 2});
  Tensor b = randn({1, 3, 1, 1});
  Tensor expected = ops::binary(BinaryOp::Mul, x, b);
  Tensor y = x.clone();
  uint64_t v = y.storage().version();
  ops::binary_(BinaryOp::Mul, y, b);
  EXPECT_GT(y.storage().version(), v);
  EXPECT_TENSOR_NEAR(y, expected, 1e-15, 0);
  Tensor z = x.clone();
  ops::axpy_(z, -2.0, x);
  EXPECT_TENSOR_NEAR(z, ops::unary(UnaryOp::Neg, x), 1e-15, 0);
}

TEST(Binary, ErrorsNameOpAndShapes) {
  Tensor x = randn({2, 3}), y = randn({4});
  try {
    ops::binary(BinaryOp::Add, x, y);
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("add"), std::string::npos) << m;
    EXPECT_NE(m.find("[2, 3]"), std::string::npos) << m;
    EXPECT_NE(m.find("[4]"), std::string::npos) << m;
  }
  EXPECT_THROW(ops::binary(BinaryOp::Mul, x, randn({2, 3}, DType::Float32)), DTypeError);
  Tensor small = randn({3});
  EXPECT_THROW(ops::binary_(BinaryOp::Add, small, x), ShapeError);  // result would not fit
  EXPECT_THROW(ops::unary(UnaryOp::Exp, Tensor::zeros({2}, DType::Int64)), DTypeError);
}

}  // namespace
}  // namespace ebm

namespace ebm {
namespace {

// Second order through silu (GEBM's gradient penalty differentiates grad_x E of a swish net):
// d2/dx2 sum(silu(x)) by create_graph against finite differences of the first derivative.
TEST(Silu, SecondOrderGradient) {
  test::gradcheck(
      [](const std::vector<Tensor>& in) {
        GradModeGuard on(true);  // gradcheck evaluates f under NoGradGuard for its differences
        Tensor x = in[0];
        return grad(sum(silu(x)), {x}, Tensor(), /*create_graph=*/true)[0];
      },
      {test::randn({3, 4})});
}

}  // namespace
}  // namespace ebm
