// GraphedChain (samplers/chain_graph.h) on a device: N calls of run_ with fresh x and inputs
// each call equal N eager igebm_langevin_ chains from the same generator state, bit for bit
// (x, the diagnostic and the generator), over a small conv energy with a float and an int64
// input; a shape change warms up and recaptures; replays allocate nothing; a host sync inside
// the chain makes the capture fail once, with a warning, and the chain stays eager and exact;
// spectral-norm layers that iterate on every forward update their u, v in place under replay
// exactly as eagerly. The decisions themselves are tested without a GPU
// (tests/cpu/test_chain_graph.cpp).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/device_hooks.h"
#include "core/storage.h"
#include "cuda_test_util.h"
#include "samplers/chain_graph.h"
#include "samplers/langevin.h"
#include "test_util.h"
#include "chain_test_util.h"

namespace ebm::samplers {
namespace {

using device_hooks::CudaPoolStats;
using test::bit_differences;
using test::TinyConvEnergy;

// The chain under test and its eager twin: the same energy weights (or the same energy, when it
// has no state the chain changes), generators from the same state.
struct Twins {
  explicit Twins(uint64_t seed, bool spectral_norm = false, bool enabled = true)
      : graph_energy(seed, Device::cuda(), spectral_norm),
        eager_energy(seed, Device::cuda(), spectral_norm),
        graph_gen(seed, 6),  // an offset off the Philox block boundary
        eager_gen(seed, 6),
        chain(
            [this](Tensor& x, const std::vector<Tensor>& in) {
              return igebm_langevin_(
                  x, [&](const Tensor& v) { return graph_energy(v, in[0], in[1]); }, o, graph_gen);
            },
            graph_gen, enabled) {}

  // One call on fresh inputs of batch n: graph vs eager, compared bit for bit.
  void call(int64_t n) {
    SCOPED_TRACE(::testing::Message() << "batch " << n << ", call " << calls++);
    const Tensor x0 = test::uniform({n, TinyConvEnergy::kChannels, 8, 7}, 0.0, 1.0, DType::Float32).to(Device::cuda());
    const Tensor shift = test::uniform({n, 1, 1, 1}, -0.2, 0.2, DType::Float32).to(Device::cuda());
    std::vector<int64_t> l(static_cast<size_t>(n));
    for (auto& v : l) v = static_cast<int64_t>(test::rng()() % TinyConvEnergy::kClasses);
    const Tensor labels = Tensor::from_vector(l, Shape{n}).to(Device::cuda());
    Tensor xg = x0.clone(), xe = x0.clone();
    const Tensor dg = chain.run_(xg, {shift, labels});
    const Tensor de = igebm_langevin_(
        xe, [&](const Tensor& v) { return eager_energy(v, shift, labels); }, o, eager_gen);
    EXPECT_EQ(bit_differences(xg, xe), 0);
    EXPECT_EQ(bit_differences(dg, de), 0) << "the diagnostic";
    EXPECT_EQ(graph_gen.state(), eager_gen.state());
    EXPECT_GT(bit_differences(xg, x0), x0.numel() / 2) << "the chain moved x";
  }

  IgebmLangevinOptions o = test::chain_options(5);
  TinyConvEnergy graph_energy, eager_energy;
  Generator graph_gen, eager_gen;
  GraphedChain chain;
  int calls = 0;
};

TEST(GraphedChainCuda, ReplaysEqualEagerChainsBitForBit) {
  EBM_REQUIRE_CUDA();
  const uint64_t seed = test::rng()();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  Twins t(seed);
  for (int i = 0; i < 5; ++i) t.call(4);
  EXPECT_EQ(t.chain.eager_runs(), 1);
  EXPECT_EQ(t.chain.captures(), 1);
  EXPECT_EQ(t.chain.replays(), 4);
  EXPECT_TRUE(t.chain.failure().empty()) << t.chain.failure();
}

TEST(GraphedChainCuda, AShapeChangeWarmsUpAndRecaptures) {
  EBM_REQUIRE_CUDA();
  const uint64_t seed = test::rng()();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  Twins t(seed);
  for (int64_t n : {4, 4, 4, 6, 6, 6, 4, 4}) t.call(n);
  EXPECT_EQ(t.chain.eager_runs(), 3);
  EXPECT_EQ(t.chain.captures(), 3);
  EXPECT_EQ(t.chain.replays(), 5);
  t.chain.reset();
  t.call(4);
  EXPECT_EQ(t.chain.eager_runs(), 4) << "reset() warms up again";
}

TEST(GraphedChainCuda, ReplaysAllocateNothing) {
  EBM_REQUIRE_CUDA();
  Twins t(test::rng()());
  t.call(4);
  t.call(4);  // captured
  Tensor x = test::uniform({4, TinyConvEnergy::kChannels, 8, 7}, 0.0, 1.0, DType::Float32).to(Device::cuda());
  const Tensor shift = Tensor::zeros({4, 1, 1, 1}, DType::Float32, Device::cuda());
  const Tensor labels = Tensor::zeros({4}, DType::Int64, Device::cuda());
  const std::vector<Tensor> inputs{shift, labels};
  cuda::synchronize();
  const CudaPoolStats before = device_hooks::cuda_pool_stats(0);
  const MemoryStats storages = memory_stats(DeviceType::CUDA);
  EXPECT_GT(before.graph_bytes, 0);
  for (int i = 0; i < 10; ++i) t.chain.run_(x, inputs);
  cuda::synchronize();
  const CudaPoolStats after = device_hooks::cuda_pool_stats(0);
  EXPECT_EQ(after.allocations, before.allocations);
  EXPECT_EQ(after.cuda_mallocs, before.cuda_mallocs);
  EXPECT_EQ(after.allocated_bytes, before.allocated_bytes);
  EXPECT_EQ(after.graph_bytes, before.graph_bytes);
  EXPECT_EQ(memory_stats(DeviceType::CUDA).allocations, storages.allocations);
  EXPECT_EQ(t.chain.replays(), 11);
}

TEST(GraphedChainCuda, AHostSyncInTheChainFailsTheCaptureOnceAndStaysEagerAndExact) {
  EBM_REQUIRE_CUDA();
  const uint64_t seed = test::rng()();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  Twins t(seed);
  double seen = 0;
  // The same chain plus a host read of x (a synchronisation) before it.
  t.chain = GraphedChain(
      [&](Tensor& x, const std::vector<Tensor>& in) {
        seen += sum(x).item();
        return igebm_langevin_(x, [&](const Tensor& v) { return t.graph_energy(v, in[0], in[1]); }, t.o,
                               t.graph_gen);
      },
      t.graph_gen);
  t.call(4);
  ::testing::internal::CaptureStderr();
  t.call(4);  // the capture fails; this call runs eagerly
  t.call(4);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("GraphedChain: CUDA graph capture of the chain failed"), std::string::npos) << err;
  EXPECT_EQ(err.find("GraphedChain", err.find("GraphedChain") + 1), std::string::npos) << "warned once: " << err;
  EXPECT_FALSE(t.chain.failure().empty());
  EXPECT_NE(err.find(t.chain.failure()), std::string::npos) << "the warning names the reason";
  EXPECT_FALSE(t.chain.enabled());
  EXPECT_EQ(t.chain.eager_runs(), 3);
  EXPECT_EQ(t.chain.captures(), 0);
  EXPECT_EQ(t.chain.replays(), 0);
  EXPECT_GT(seen, 0.0);
  cuda::synchronize();
  EXPECT_EQ(device_hooks::cuda_pool_stats(0).graph_bytes, 0) << "the failed capture's memory came back";
}

TEST(GraphedChainCuda, SpectralNormIteratingEveryForwardReplaysAsEager) {
  EBM_REQUIRE_CUDA();
  const uint64_t seed = test::rng()();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  Twins t(seed, /*spectral_norm=*/true);
  for (int i = 0; i < 4; ++i) t.call(3);
  EXPECT_EQ(t.chain.captures(), 1) << t.chain.failure();
  EXPECT_EQ(t.chain.replays(), 3);
  nn::SpectralNorm* g = t.graph_energy.conv1().spectral_norm();
  nn::SpectralNorm* e = t.eager_energy.conv1().spectral_norm();
  ASSERT_TRUE(g && e);
  EXPECT_EQ(bit_differences(g->u(), e->u()), 0) << "u iterated in place by every replayed forward";
  EXPECT_EQ(bit_differences(g->v(), e->v()), 0);
}

TEST(GraphedChainCuda, DisabledStaysEager) {
  EBM_REQUIRE_CUDA();
  Twins t(test::rng()(), false, /*enabled=*/false);
  for (int i = 0; i < 3; ++i) t.call(2);
  EXPECT_EQ(t.chain.eager_runs(), 3);
  EXPECT_EQ(t.chain.captures(), 0);
  EXPECT_EQ(device_hooks::cuda_pool_stats(0).graph_bytes, 0);
}

}  // namespace
}  // namespace ebm::samplers
