// GraphedChain (samplers/chain_graph.h) without a GPU: on CPU tensors run_ is the chain called
// directly, bit for bit, over several calls with fresh inputs (same noise, same diagnostic, same
// generator state afterwards), counting eager runs only; errors of the chain come through. The
// warm-up / capture / replay decisions (ChainGraphPlan) are checked on hand-made CUDA signatures,
// so CI covers the logic; tests/cuda/test_chain_graph_cuda.cpp runs the graphs.
#include <gtest/gtest.h>

#include <vector>

#include "samplers/chain_graph.h"
#include "samplers/langevin.h"
#include "test_util.h"
#include "chain_test_util.h"

namespace ebm::samplers {
namespace {

using Step = ChainGraphPlan::Step;
using test::bit_differences;
using test::TinyConvEnergy;

constexpr int64_t kBatch = 3;

Tensor fresh_labels() {
  std::vector<int64_t> l(kBatch);
  for (auto& v : l) v = static_cast<int64_t>(test::rng()() % TinyConvEnergy::kClasses);
  return Tensor::from_vector(l, Shape{kBatch});
}

TEST(GraphedChain, OnTheCpuRunIsTheChainCalledDirectlyBitForBit) {
  const uint64_t seed = test::rng()();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  TinyConvEnergy energy(seed, Device::cpu());
  const IgebmLangevinOptions o = test::chain_options(4);
  Generator graph_gen(seed, 6), direct_gen(seed, 6);  // an offset off the Philox block boundary
  GraphedChain chain(
      [&](Tensor& x, const std::vector<Tensor>& in) {
        return igebm_langevin_(x, [&](const Tensor& v) { return energy(v, in[0], in[1]); }, o, graph_gen);
      },
      graph_gen);
  for (int call = 0; call < 4; ++call) {
    SCOPED_TRACE(::testing::Message() << "call " << call);
    const Tensor x0 = test::uniform({kBatch, TinyConvEnergy::kChannels, 6, 5}, 0.0, 1.0, DType::Float32);
    const Tensor shift = test::uniform({kBatch, 1, 1, 1}, -0.2, 0.2, DType::Float32);
    const Tensor labels = fresh_labels();
    Tensor xg = x0.clone(), xd = x0.clone();
    const Tensor dg = chain.run_(xg, {shift, labels});
    const Tensor dd =
        igebm_langevin_(xd, [&](const Tensor& v) { return energy(v, shift, labels); }, o, direct_gen);
    EXPECT_EQ(bit_differences(xg, xd), 0);
    EXPECT_GT(bit_differences(xg, x0), x0.numel() / 2) << "the chain moved x";
    EXPECT_EQ(graph_gen.state(), direct_gen.state());
    // The diagnostic: mean |∇ₓE| of the last step, a positive 0-dim tensor, as the direct call's.
    ASSERT_EQ(dg.dim(), 0);
    EXPECT_EQ(bit_differences(dg, dd), 0);
    EXPECT_GT(dg.item(), 0.0);
  }
  EXPECT_EQ(chain.eager_runs(), 4);
  EXPECT_EQ(chain.captures(), 0);
  EXPECT_EQ(chain.replays(), 0);
  EXPECT_TRUE(chain.enabled());
  EXPECT_TRUE(chain.failure().empty());
}

TEST(GraphedChain, PassesUndefinedInputsAndTheChainsErrorsThrough) {
  Generator gen(1);
  int calls = 0;
  GraphedChain chain(
      [&](Tensor& x, const std::vector<Tensor>& in) {
        ++calls;
        EXPECT_EQ(in.size(), 2u);
        EXPECT_FALSE(in[0].defined());
        x.fill_(static_cast<double>(in[1].item()));
        return sum(x);
      },
      gen);
  Tensor x = Tensor::zeros({2, 3});
  const Tensor d = chain.run_(x, {Tensor(), Tensor::scalar(1.5)});
  EXPECT_EQ(x.to_vector<float>(), std::vector<float>(6, 1.5f));
  EXPECT_EQ(d.item(), 9.0);
  EXPECT_EQ(calls, 1);
  GraphedChain failing([](Tensor&, const std::vector<Tensor>&) -> Tensor { EBM_THROW(ValueError, "energy broke"); },
                       gen);
  test::expect_error<ValueError>([&] { failing.run_(x); }, {"energy broke"});
  test::expect_error<ValueError>([&] { Tensor none; chain.run_(none); }, {"GraphedChain::run_", "undefined"});
}

// Signatures as a CUDA run would make them, without a device.
ChainSignature cuda_signature(const Shape& x, DType input_dtype = DType::Int64, Device input_device = Device::cuda()) {
  ChainSignature s;
  s.tensors = {{true, x, DType::Float32, Device::cuda()}, {true, Shape{x[0]}, input_dtype, input_device}, {}};
  s.graphable = input_device.is_cuda();
  return s;
}

TEST(ChainGraphPlan, WarmsUpThenCapturesThenReplaysAndStartsOverOnNewShapes) {
  ChainGraphPlan plan;
  const ChainSignature a = cuda_signature({4, 3, 8, 8}), b = cuda_signature({6, 3, 8, 8});
  EXPECT_EQ(plan.next(a), Step::Eager);
  EXPECT_EQ(plan.next(a), Step::Capture);
  plan.captured();
  EXPECT_EQ(plan.next(a), Step::Replay);
  EXPECT_EQ(plan.next(a), Step::Replay);
  EXPECT_EQ(plan.next(b), Step::Eager) << "new shape: warm up again";
  EXPECT_EQ(plan.next(b), Step::Capture);
  plan.captured();
  EXPECT_EQ(plan.next(b), Step::Replay);
  EXPECT_EQ(plan.next(a), Step::Eager) << "back to the old shape: the graph was for b";
  EXPECT_EQ(plan.next(cuda_signature({4, 3, 8, 8}, DType::Float32)), Step::Eager) << "an input's dtype changed";
  EXPECT_EQ(plan.next(cuda_signature({4, 3, 8, 8}, DType::Float32)), Step::Capture);
  plan.reset();
  EXPECT_EQ(plan.next(a), Step::Eager) << "after reset()";
  EXPECT_EQ(plan.next(a), Step::Capture);
}

TEST(ChainGraphPlan, StaysEagerWhenDisabledFailedOrNotOnOneCudaDevice) {
  ChainGraphPlan off(false);
  const ChainSignature a = cuda_signature({4, 3, 8, 8});
  for (int i = 0; i < 3; ++i) EXPECT_EQ(off.next(a), Step::Eager);
  EXPECT_FALSE(off.enabled());

  ChainGraphPlan failed;
  EXPECT_EQ(failed.next(a), Step::Eager);
  EXPECT_EQ(failed.next(a), Step::Capture);
  failed.disable();  // the capture threw
  for (int i = 0; i < 3; ++i) EXPECT_EQ(failed.next(a), Step::Eager);

  ChainGraphPlan plan;
  const ChainSignature split = cuda_signature({4, 3, 8, 8}, DType::Int64, Device::cpu());
  EXPECT_FALSE(split.graphable);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(plan.next(split), Step::Eager) << "an input on the host";
  EXPECT_EQ(plan.next(a), Step::Eager);
  EXPECT_EQ(plan.next(a), Step::Capture);
  plan.captured();
  EXPECT_EQ(plan.next(split), Step::Eager);
  EXPECT_EQ(plan.next(a), Step::Replay) << "an eager call elsewhere keeps the graph";
}

TEST(ChainSignature, DescribesXAndTheInputs) {
  const Tensor x = Tensor::zeros({2, 1, 4, 4}), l = Tensor::zeros({2}, DType::Int64);
  const ChainSignature s = ChainSignature::of(x, {l, Tensor()});
  ASSERT_EQ(s.tensors.size(), 3u);
  EXPECT_EQ(s.tensors[0].shape, x.shape());
  EXPECT_EQ(s.tensors[1].dtype, DType::Int64);
  EXPECT_FALSE(s.tensors[2].defined);
  EXPECT_FALSE(s.graphable) << "CPU tensors";
  EXPECT_EQ(s, ChainSignature::of(Tensor::ones({2, 1, 4, 4}), {Tensor::ones({2}, DType::Int64), Tensor()}));
  EXPECT_NE(s, ChainSignature::of(x, {l}));
  EXPECT_NE(s, ChainSignature::of(x, {l, l}));
  EXPECT_NE(s, ChainSignature::of(x.to(DType::Float64), {l, Tensor()}));
}

}  // namespace
}  // namespace ebm::samplers
