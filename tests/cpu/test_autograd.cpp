// The autograd engine: leaf accumulation, grad() leaving parameters alone and pruning the graph,
// intermediates as inputs, shared subexpressions, unused inputs, in-place detection, deep
// graphs, grad mode, and second-order gradients through create_graph.
#include "autograd/node.h"
#include "test_util.h"

namespace ebm {
namespace {

using test::randn;

// A node that counts its backward calls, to observe graph pruning.
struct CountingNode : Node {
  int* calls;
  explicit CountingNode(int* c) : calls(c) {}
  const char* name() const override { return "counting"; }
  std::vector<Tensor> apply(const std::vector<Tensor>& g, const std::vector<bool>&) override {
    ++*calls;
    return {g[0]};
  }
};
Tensor counting_identity(const Tensor& x, int* calls) {
  Tensor y = x.detach().clone();
  if (any_requires_grad({x})) record(std::make_shared<CountingNode>(calls), {x}, {&y});
  return y;
}

TEST(Autograd, BackwardAccumulatesIntoLeaves) {
  Tensor w = randn({3}).set_requires_grad();
  Tensor x = randn({3});
  backward(sum(w * x));
  EXPECT_TENSOR_NEAR(w.grad(), x, 1e-15, 0);
  backward(sum(w * x));  // a second backward adds
  EXPECT_TENSOR_NEAR(w.grad(), x * 2.0, 1e-15, 0);
  w.zero_grad();
  EXPECT_FALSE(w.grad().defined());
}

TEST(Autograd, AliasedGradientsDoNotCorruptEachOther) {
  // add() hands one tensor to both inputs; accumulating into one leaf must not change the other.
  Tensor a = randn({4}).set_requires_grad(), b = randn({4}).set_requires_grad();
  backward(sum(a + b));
  backward(sum(a * 3.0));
  EXPECT_TENSOR_NEAR(a.grad(), Tensor::full({4}, 4.0, DType::Float64), 1e-15, 0);
  EXPECT_TENSOR_NEAR(b.grad(), Tensor::full({4}, 1.0, DType::Float64), 1e-15, 0);
}

TEST(Autograd, GradLeavesParameterGradsUntouchedAndPrunes) {
  Tensor w = randn({5}).set_requires_grad();
  Tensor x = randn({5}).set_requires_grad();
  int weight_branch_calls = 0;
  Tensor w2 = counting_identity(w, &weight_branch_calls);  // a branch that only leads to w
  Tensor e = sum(square(x) * w2);
  auto gx = grad(e, {x})[0];
  EXPECT_FALSE(w.grad().defined()) << "grad() must not write parameter gradients";
  EXPECT_EQ(weight_branch_calls, 0) << "the branch leading only to w must not be evaluated";
  EXPECT_TENSOR_NEAR(gx, 2.0 * x.detach() * w.detach(), 1e-14, 0);
  backward(e);
  EXPECT_EQ(weight_branch_calls, 1);
  EXPECT_TENSOR_NEAR(w.grad(), square(x.detach()), 1e-14, 0);
}

TEST(Autograd, SharedSubexpressionSumsBothPaths) {
  Tensor x = randn({3}).set_requires_grad();
  Tensor h = exp(x);
  Tensor y = sum(h * h + h);  // d/dx = 2 e^{2x} + e^x
  auto g = grad(y, {x})[0];
  Tensor ex = exp(x.detach());
  EXPECT_TENSOR_NEAR(g, 2.0 * ex * ex + ex, 1e-13, 0);
}

TEST(Autograd, GradWithRespectToIntermediate) {
  Tensor x = randn({4}).set_requires_grad();
  Tensor h = tanh(x);
  Tensor y = sum(h * 3.0);
  auto g = grad(y, {h, x});
  EXPECT_TENSOR_NEAR(g[0], Tensor::full({4}, 3.0, DType::Float64), 1e-15, 0);
  Tensor t = tanh(x.detach());
  EXPECT_TENSOR_NEAR(g[1], 3.0 * (1.0 - t * t), 1e-14, 0);
}

TEST(Autograd, UnusedInputsAndNonScalarOutputs) {
  Tensor x = randn({2}).set_requires_grad(), z = randn({2}).set_requires_grad();
  Tensor y = sum(x * 2.0);
  EXPECT_THROW(grad(y, {z}), ValueError);
  auto g = grad(y, {x, z}, Tensor(), false, /*allow_unused=*/true);
  EXPECT_TRUE(g[0].defined());
  EXPECT_FALSE(g[1].defined());
  Tensor v = x * 2.0;  // not a scalar
  EXPECT_THROW(backward(v), ShapeError);
  backward(v, Tensor::ones({2}, DType::Float64));
  EXPECT_TENSOR_NEAR(x.grad(), Tensor::full({2}, 2.0, DType::Float64), 1e-15, 0);
  Tensor plain = randn({2});
  EXPECT_THROW(backward(sum(plain)), ValueError);  // nothing requires grad
}

TEST(Autograd, InPlaceWriteToSavedTensorIsDetected) {
  Tensor x = randn({3}).set_requires_grad();
  Tensor h = x * 1.0;
  Tensor y = sum(exp(h));  // exp saves its input h
  h.fill_(0.0);
  try {
    backward(y);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("modified in place"), std::string::npos) << e.what();
  }
}

TEST(Autograd, NoGradGuardRecordsNothing) {
  Tensor x = randn({3}).set_requires_grad();
  {
    NoGradGuard ng;
    Tensor y = x * 2.0;
    EXPECT_FALSE(y.requires_grad());
    EXPECT_TRUE(GradMode::enabled() == false);
  }
  EXPECT_TRUE(GradMode::enabled());
  EXPECT_TRUE((x * 2.0).requires_grad());
  EXPECT_FALSE(x.detach().requires_grad());
}

TEST(Autograd, DeepChainDoesNotOverflowTheStack) {
  // 20000 recorded ops: an unrolled sampler over many steps builds graphs this deep.
  Tensor x = Tensor::full({1}, 0.5, DType::Float64).set_requires_grad();
  Tensor h = x;
  for (int i = 0; i < 20000; ++i) h = h * 1.0001;
  auto g = grad(sum(h), {x})[0];
  EXPECT_NEAR(g.item(), std::pow(1.0001, 20000), 1e-8 * std::pow(1.0001, 20000));
}

TEST(Autograd, GraphIsFreedWithItsOutputs) {
  MemoryStats before = memory_stats(DeviceType::CPU);
  {
    Tensor x = randn({256, 256}).set_requires_grad();
    Tensor y = sum(exp(tanh(x) * 2.0));
    backward(y);
  }
  EXPECT_EQ(memory_stats(DeviceType::CPU).allocated_bytes, before.allocated_bytes)
      << "saved tensors must be released with the graph (no reference cycles)";
}

TEST(Autograd, SecondOrderThroughCreateGraph) {
  // f = sum(x^3 + sin-free mix); df/dx = 3x^2 + 2x*w; d/dx sum(df/dx) = 6x + 2w.
  Tensor x = randn({4}).set_requires_grad();
  Tensor w = randn({4}).set_requires_grad();
  Tensor f = sum(pow(x, 3.0) + square(x) * w);
  Tensor gx = grad(f, {x}, Tensor(), /*create_graph=*/true)[0];
  EXPECT_TRUE(gx.requires_grad());
  auto g2 = grad(sum(gx), {x, w});
  EXPECT_TENSOR_NEAR(g2[0], 6.0 * x.detach() + 2.0 * w.detach(), 1e-12, 1e-14);
  EXPECT_TENSOR_NEAR(g2[1], 2.0 * x.detach(), 1e-12, 1e-14);
}

TEST(Autograd, ReductionsGradcheck) {
  for (const std::vector<int>& axes : std::vector<std::vector<int>>{{}, {0}, {1}, {0, 2}, {-1}}) {
    SCOPED_TRACE(::testing::PrintToString(axes));
    auto x = randn({3, 4, 5});
    test::gradcheck([&](const std::vector<Tensor>& in) { return sum(in[0], axes, true); }, {x});
    test::gradcheck([&](const std::vector<Tensor>& in) { return mean(in[0], axes); }, {x});
    test::gradcheck([&](const std::vector<Tensor>& in) { return max(in[0], axes); }, {x});
    test::gradcheck([&](const std::vector<Tensor>& in) { return logsumexp(in[0], axes); }, {x});
  }
}

TEST(Autograd, ViewOpsGradcheck) {
  test::gradcheck([](const std::vector<Tensor>& in) { return exp(reshape(in[0], {6, 2})); }, {randn({3, 4})});
  test::gradcheck([](const std::vector<Tensor>& in) { return square(slice(in[0], 1, 3)); }, {randn({4, 3})});
  test::gradcheck([](const std::vector<Tensor>& in) { return flatten(in[0]); }, {randn({2, 3, 2})});
}

}  // namespace
}  // namespace ebm
