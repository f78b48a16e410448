// PyTorch goldens: small composites of conv2d, pooling, upsampling, concat, linear, index_select,
// cross-entropy and the activations, rebuilt with ebm and compared, value and gradients, with
// what PyTorch 1.13 computed in float64 (tests/reference/make_goldens.py wrote
// tests/data/goldens/; see its README). Each case runs in float64 and in float32.
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <string>

#include "autograd/ops/conv.h"
#include "autograd/ops/index.h"
#include "autograd/ops/linalg.h"
#include "core/io/npy.h"
#include "test_util.h"

namespace ebm {
namespace {

// Tolerances, each relative both per element and to the largest magnitude of the golden tensor
// (close when |a - g| <= tol * (|g| + max|G|)); the second term covers elements that are small
// because of cancellation, where no per-element relative bound exists.
//
// float64: torch and ebm sum in different orders, which costs a few ulp (1e-16) per operation,
// times the reduction lengths here (<= 300 terms): ~1e-13 at worst (measured: below 4e-16).
// 1e-10 leaves room and still catches any real mistake (a leaky_relu slope off by 1e-4 fails).
constexpr double kTolFloat64 = 1e-10;
// float32: the inputs are the float64 goldens rounded to float32 (relative 2^-24 = 6e-8 each);
// every stage is a dot product or sum of at most L = 300 terms (conv weight gradients: 128
// positions; per_class_gain's output: 300 terms), whose rounding error is bounded by
// L * 2^-24 = 1.8e-5 of the sum of the terms' magnitudes, and the cases chain up to three such
// stages through O(1)-conditioned activations: worst case ~5e-5, so 1e-4. (Measured with the
// torch 1.13 goldens: below 2e-7, rounding errors being random rather than worst-case; a kernel
// accumulating in fp16 (~5e-4) or bf16 (~4e-3) would still fail.)
constexpr double kTolFloat32 = 1e-4;

std::string golden_path(const std::string& c, const std::string& name) {
  return str(EBM_TEST_DATA_DIR, "/goldens/", c, "/", name, ".npy");
}

// Reads a float64 golden and converts it to dt.
Tensor load(const std::string& c, const std::string& name, DType dt = DType::Float64) {
  Tensor t = read_npy(golden_path(c, name));
  EXPECT_EQ(t.dtype(), name == "labels" ? DType::Int64 : DType::Float64) << c << "/" << name;
  return t.to(dt);
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to_vector<double>()) m = std::max(m, std::fabs(v));
  return m;
}

void expect_matches(const Tensor& actual, const Tensor& golden, double tol, const std::string& what) {
  ASSERT_TRUE(actual.defined()) << what << " is undefined";
  ASSERT_EQ(actual.shape(), golden.shape()) << what;
  double ratio = test::close_ratio(actual, golden, tol, tol * max_abs(golden));
  EXPECT_LE(ratio, 1.0) << what << " differs from PyTorch (tolerance " << tol << ")\nebm "
                        << actual << "\ntorch " << golden;
}

using Inputs = std::map<std::string, Tensor>;
using Build = std::function<Tensor(const Inputs&)>;

// Loads the case's float inputs as leaves that require grad, builds the scalar with ebm,
// runs backward and compares the value and every leaf's .grad with the goldens.
void check_case(const std::string& c, const std::vector<std::string>& names, const Build& build,
                DType dt) {
  SCOPED_TRACE(str(c, " in ", dtype_name(dt)));
  double tol = dt == DType::Float64 ? kTolFloat64 : kTolFloat32;
  Inputs in;
  for (const auto& n : names) in[n] = load(c, n, dt).set_requires_grad(true);
  Tensor out = build(in);
  EXPECT_EQ(out.dtype(), dt);
  expect_matches(out, load(c, "out"), tol, c + "/out");
  backward(out);
  for (const auto& n : names) expect_matches(in[n].grad(), load(c, "grad_" + n), tol, c + "/grad_" + n);
}

class Golden : public ::testing::TestWithParam<DType> {};

TEST_P(Golden, ConvLeakyReluAvgPool) {
  check_case("conv_lrelu_pool", {"x", "w", "b"}, [](const Inputs& in) {
    Tensor h = conv2d(in.at("x"), in.at("w"), in.at("b"), /*stride=*/1, /*padding=*/1);
    return sum(avg_pool2d(leaky_relu(h, 0.2), 2));
  }, GetParam());
}

TEST_P(Golden, ConvStride2ThenPointwiseSiluLogsumexp) {
  check_case("conv_stride2_silu", {"x", "w1", "b1", "w2", "b2"}, [](const Inputs& in) {
    Tensor h = conv2d(in.at("x"), in.at("w1"), in.at("b1"), /*stride=*/2, /*padding=*/1);
    h = silu(conv2d(h, in.at("w2"), in.at("b2")));
    return sum(logsumexp(mean(h, {2, 3}), {1}));
  }, GetParam());
}

TEST_P(Golden, MlpSoftplus) {
  check_case("mlp_softplus", {"x", "w1", "b1", "w2", "b2"}, [](const Inputs& in) {
    Tensor h = softplus(linear(in.at("x"), in.at("w1"), in.at("b1")));
    return sum(linear(h, in.at("w2"), in.at("b2")));
  }, GetParam());
}

TEST_P(Golden, CrossEntropy) {
  Tensor labels = load("cross_entropy", "labels", DType::Int64);
  check_case("cross_entropy", {"logits"}, [&](const Inputs& in) {
    return cross_entropy(in.at("logits"), labels);
  }, GetParam());
}

TEST_P(Golden, UpsampleConcatConvTanh) {
  check_case("upsample_concat", {"x", "z", "w", "b"}, [](const Inputs& in) {
    Tensor h = concat({upsample_nearest2d(in.at("x"), 2), in.at("z")}, 1);
    return sum(tanh(conv2d(h, in.at("w"), in.at("b"), /*stride=*/1, /*padding=*/1)));
  }, GetParam());
}

TEST_P(Golden, PerClassGainWithRepeatedLabel) {
  Tensor labels = load("per_class_gain", "labels", DType::Int64);  // {7, 2, 7}
  check_case("per_class_gain", {"gains", "feat"}, [&](const Inputs& in) {
    Tensor g = reshape(index_select(in.at("gains"), labels), {3, 4, 1, 1});
    return sum(square(g * in.at("feat")));
  }, GetParam());
}

// The sampler's call: grad(E, {x}) with parameters that require grad gives torch's
// autograd.grad(E, [x]) and leaves every .grad (the weights' and x's) undefined.
TEST_P(Golden, LangevinGradLeavesWeightGradsAlone) {
  const std::string c = "langevin_grad";
  DType dt = GetParam();
  double tol = dt == DType::Float64 ? kTolFloat64 : kTolFloat32;
  Tensor x = load(c, "x", dt).set_requires_grad(true);
  Tensor w = load(c, "w", dt).set_requires_grad(true);
  Tensor b = load(c, "b", dt).set_requires_grad(true);
  Tensor energy = sum(avg_pool2d(leaky_relu(conv2d(x, w, b, 1, 1), 0.2), 2));
  expect_matches(energy, load(c, "out"), tol, c + "/out");
  std::vector<Tensor> g = grad(energy, {x});
  ASSERT_EQ(g.size(), 1u);
  expect_matches(g[0], load(c, "grad_x"), tol, c + "/grad_x");
  EXPECT_FALSE(w.grad().defined());
  EXPECT_FALSE(b.grad().defined());
  EXPECT_FALSE(x.grad().defined());
}

INSTANTIATE_TEST_SUITE_P(Dtypes, Golden, ::testing::Values(DType::Float64, DType::Float32),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

}  // namespace
}  // namespace ebm
