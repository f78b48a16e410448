// CUDA graph capture (core/graph.h, cuda/graph.cpp) on a device: a captured K-step Langevin
// chain (autograd gradient of a small energy + fused IGEBM update, noise from a Generator)
// replayed N times equals N eager chains from the same generator state bit for bit, on the
// default stream and on another one; replays allocate nothing (pool counters unchanged); the
// graph's private pool keeps the capture's tensors valid after the graph, gives its memory back
// afterwards and never hands it (nor device blocks freed during the capture) to other work
// while the graph lives; a recapture reuses the cached segments; host synchronisations inside a
// capture, nested captures and replays inside a capture give clear errors. The pool's
// bookkeeping and the replay arithmetic are also tested without a GPU
// (tests/cpu/test_graph_pool.cpp, tests/cpu/test_langevin.cpp).
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "core/device_hooks.h"
#include "core/graph.h"
#include "core/ops/langevin.h"
#include "core/ops/random.h"
#include "core/storage.h"
#include "cuda/memory_pool.h"
#include "cuda_test_util.h"
#include "test_util.h"

namespace ebm {
namespace {

using device_hooks::CudaPoolStats;
using test::expect_error;

constexpr int kSteps = 5;
const Shape kShape{6, 3, 7, 11};  // 1386 elements: not a multiple of 4

CudaPoolStats pool_stats() { return device_hooks::cuda_pool_stats(0); }

std::vector<float> host(const Tensor& t) { return t.to(Device::cpu()).to_vector<float>(); }

int64_t bit_differences(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  int64_t bad = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) bad += std::memcmp(&a[i], &b[i], 4) != 0;
  return bad;
}

// IGEBM's K-step chain (core/ops/langevin.h): the first step's noise, then K times the gradient
// of E(x) = sum(2 (x - 0.5)^2 + softplus(1.5 x - 0.2) / 10) by autograd (minimum near 0.47, so
// chains stay inside the clamp range [0, 1] and keep moving) and one fused update (clip, step,
// clamp, next noise). Returns the last energy (a tensor made inside a capture, when captured).
Tensor run_chain(Tensor& x, Generator& gen) {
  ops::langevin_step_(x, Tensor(), LangevinParams::noise_only(0.005), gen);
  Tensor energy;
  for (int k = 1; k <= kSteps; ++k) {
    Tensor xr = x.detach();
    xr.set_requires_grad(true);
    energy = sum(square(xr - 0.5) * 2.0 + softplus(xr * 1.5 - 0.2) * 0.1);
    Tensor g = grad(energy, {xr})[0];
    ops::langevin_step_(x, g, LangevinParams::igebm(10.0, 0.01, k < kSteps ? 0.005 : 0.0), gen);
  }
  return energy.detach();
}

Tensor start_point() { return test::uniform(kShape, 0.0, 1.0, DType::Float32).to(Device::cuda()); }

// One eager chain on scratch data: warms the pool, the autograd path and the kernels.
void warm_up() {
  Tensor x = start_point();
  Generator gen(1);
  run_chain(x, gen);
  cuda::synchronize();
}

TEST(CudaGraph, ReplaysOfACapturedChainEqualEagerChainsBitForBit) {
  EBM_REQUIRE_CUDA();
  warm_up();
  const uint64_t seed = test::rng()();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  const Tensor x0 = start_point();
  Tensor xg = x0.clone(), xe = x0.clone();
  Generator graph_gen(seed, 6), eager_gen(seed, 6);  // an offset off the Philox block boundary

  CudaGraphCapture capture(Device::cuda());
  Tensor energy_g = run_chain(xg, graph_gen);
  CudaGraph graph = capture.end();
  EXPECT_FALSE(capture.active());
  EXPECT_EQ(graph_gen.state(), eager_gen.state()) << "a capture draws nothing";
  EXPECT_GE(graph.nodes(), size_t(2 * kSteps + 1));
  EXPECT_EQ(bit_differences(host(xg), host(x0)), 0) << "a capture runs nothing";

  std::vector<float> previous = host(x0);
  for (int r = 0; r < 4; ++r) {
    SCOPED_TRACE(::testing::Message() << "replay " << r);
    graph.replay();
    const Tensor energy_e = run_chain(xe, eager_gen);
    EXPECT_EQ(graph_gen.state(), eager_gen.state());
    const std::vector<float> now = host(xg);
    EXPECT_EQ(bit_differences(now, host(xe)), 0);
    EXPECT_EQ(bit_differences(host(energy_g), host(energy_e)), 0);
    EXPECT_GT(bit_differences(now, previous), int64_t(now.size() / 2)) << "fresh noise each replay";
    previous = now;
  }
  EXPECT_EQ(graph.replays(), 4);

  // A replay on another stream is ordered after the previous one and equals eager as well.
  cudaStream_t other = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&other, cudaStreamNonBlocking), cudaSuccess);
  {
    cuda::StreamGuard on(other);
    graph.replay();
  }
  EBM_CUDA_CHECK(cudaStreamSynchronize(other));
  run_chain(xe, eager_gen);
  EXPECT_EQ(bit_differences(host(xg), host(xe)), 0);
  graph = CudaGraph();  // waits for the replays before the stream goes
  EBM_CUDA_CHECK(cudaStreamDestroy(other));
}

TEST(CudaGraph, ReplaysAllocateNothing) {
  EBM_REQUIRE_CUDA();
  warm_up();
  Tensor x = start_point();
  Generator gen(test::rng()());
  CudaGraphCapture capture(Device::cuda());
  Tensor energy = run_chain(x, gen);
  CudaGraph graph = capture.end();
  graph.replay();
  cuda::synchronize();
  const CudaPoolStats before = pool_stats();
  const MemoryStats storages = memory_stats(DeviceType::CUDA);
  EXPECT_GT(before.graph_bytes, 0);
  EXPECT_EQ(before.graph_bytes, graph.memory_stats().reserved_bytes);
  for (int r = 0; r < 20; ++r) graph.replay();
  cuda::synchronize();
  const CudaPoolStats after = pool_stats();
  EXPECT_EQ(after.allocations, before.allocations);
  EXPECT_EQ(after.frees, before.frees);
  EXPECT_EQ(after.cuda_mallocs, before.cuda_mallocs);
  EXPECT_EQ(after.allocated_bytes, before.allocated_bytes);
  EXPECT_EQ(after.cached_bytes, before.cached_bytes);
  EXPECT_EQ(after.reserved_bytes, before.reserved_bytes);
  EXPECT_EQ(after.graph_bytes, before.graph_bytes);
  EXPECT_EQ(memory_stats(DeviceType::CUDA).allocations, storages.allocations);
  EXPECT_EQ(after.allocated_bytes + after.cached_bytes, after.reserved_bytes);
}

TEST(CudaGraph, TheGraphsMemoryOutlivesItWhileUsedAndThenComesBack) {
  EBM_REQUIRE_CUDA();
  warm_up();
  Tensor x = start_point(), xe = x.clone();
  const uint64_t seed = test::rng()();
  Generator gen(seed), eager_gen(seed);
  cuda::synchronize();
  const CudaPoolStats start = pool_stats();
  Tensor energy;
  {
    CudaGraphCapture capture(Device::cuda());
    energy = run_chain(x, gen);
    CudaGraph graph = capture.end();
    graph.replay();
  }  // the graph is gone; `energy`, made in the capture, is still referenced
  const Tensor energy_e = run_chain(xe, eager_gen);
  EXPECT_EQ(bit_differences(host(energy), host(energy_e)), 0) << "the last replay's value";
  EXPECT_GT(pool_stats().graph_bytes, 0) << "energy's segment stays with it";
  energy = Tensor();
  CudaPoolStats s = pool_stats();
  EXPECT_EQ(s.graph_bytes, 0);
  EXPECT_EQ(s.allocated_bytes, start.allocated_bytes);
  EXPECT_EQ(s.allocated_bytes + s.cached_bytes, s.reserved_bytes);

  // A recapture of the same chain is lent the segments the first graph gave back.
  const int64_t mallocs = s.cuda_mallocs;
  {
    CudaGraphCapture capture(Device::cuda());
    run_chain(x, gen);
    CudaGraph graph = capture.end();
    EXPECT_EQ(pool_stats().cuda_mallocs, mallocs) << "no cudaMalloc during the recapture";
  }
  s = pool_stats();
  EXPECT_EQ(s.graph_bytes, 0);
  EXPECT_EQ(s.allocated_bytes, start.allocated_bytes);
}

TEST(CudaGraph, MemoryFreedDuringTheCaptureIsNotHandedOutWhileTheGraphLives) {
  EBM_REQUIRE_CUDA();
  warm_up();
  Tensor x = start_point();
  Tensor before = Tensor::empty(kShape, DType::Float32, Device::cuda());  // made before, freed inside
  std::set<const void*> graph_buffers = {before.data_ptr()};
  CudaGraphCapture capture(Device::cuda());
  ops::binary_(BinaryOp::Add, x, before);  // the graph reads `before` at every replay
  before = Tensor();
  for (int i = 0; i < 4; ++i) {  // temporaries of the capture, freed inside it
    Tensor t = ops::unary(UnaryOp::Exp, x);
    graph_buffers.insert(t.data_ptr());
    ops::binary_(BinaryOp::Mul, x, t);
  }
  CudaGraph graph = capture.end();
  std::vector<Tensor> eager;
  for (int i = 0; i < 16; ++i) {
    eager.push_back(Tensor::empty(kShape, DType::Float32, Device::cuda()));
    EXPECT_EQ(graph_buffers.count(eager.back().data_ptr()), 0u) << "eager tensor " << i;
  }
  graph.replay();
  cuda::synchronize();
}

TEST(CudaGraph, HostSynchronisationInsideACaptureIsAClearError) {
  EBM_REQUIRE_CUDA();
  Tensor x = start_point();
  const cuda::StreamHandle eager_stream = cuda::current_stream();
  expect_error<CudaError>(
      [&] {
        CudaGraphCapture capture(Device::cuda());
        ops::binary_(BinaryOp::Add, x, x);
        (void)x.to(Device::cpu());
      },
      {"to the host", "being captured into a CUDA graph", "host synchronisation"});
  expect_error<CudaError>(
      [&] {
        CudaGraphCapture capture(Device::cuda());
        cuda::synchronize();
      },
      {"cudaStreamSynchronize", "cudaErrorStreamCapture"});
  expect_error<CudaError>(
      [&] {
        CudaGraphCapture capture(Device::cuda());
        ops::binary_(BinaryOp::Add, x, x);
        (void)cudaStreamSynchronize(cuda::current_stream());  // the error ignored
        capture.end();
      },
      {"CUDA graph capture on cuda:0 failed", "host synchronisation"});
  // Everything is restored: eager work runs on the engine's stream, the graph pools are gone.
  EXPECT_EQ(cuda::current_stream(), eager_stream);
  const std::vector<float> v = host(x);
  EXPECT_EQ(v.size(), size_t(kShape.numel()));
  EXPECT_EQ(pool_stats().graph_bytes, 0);
}

TEST(CudaGraph, FromVectorOntoTheDeviceInsideACaptureIsRefused) {
  EBM_REQUIRE_CUDA();
  CudaGraphCapture capture(Device::cuda());
  expect_error<CudaError>(
      [&] { Tensor::from_vector(std::vector<float>{1.0f, 2.0f}, {2}, Device::cuda()); },
      {"from the host to cuda:0", "being captured into a CUDA graph"});
}

TEST(CudaGraph, CapturesDoNotNestAndReplaysWaitForTheEnd) {
  EBM_REQUIRE_CUDA();
  Tensor x = start_point();
  CudaGraphCapture first(Device::cuda());
  ops::binary_(BinaryOp::Add, x, x);
  CudaGraph graph = first.end();
  CudaGraphCapture capture(Device::cuda());
  expect_error<DeviceError>([] { CudaGraphCapture nested(Device::cuda()); },
                            {"already capturing", "do not nest"});
  expect_error<DeviceError>([&] { graph.replay(); }, {"capturing", "replay after end()"});
  ops::binary_(BinaryOp::Add, x, x);
  CudaGraph second = capture.end();
  expect_error<ValueError>([&] { capture.end(); }, {"already ended"});
  graph.replay();
  second.replay();
  cuda::synchronize();
}

// Draws with an explicit (seed, offset) are baked into the graph: every replay repeats them.
TEST(CudaGraph, ExplicitSeedAndOffsetAreBakedIn) {
  EBM_REQUIRE_CUDA();
  LangevinParams p = LangevinParams::noise_only(0.5);
  p.seed = test::rng()();
  p.offset = 8;
  Tensor x = Tensor::zeros({1001}, DType::Float32, Device::cuda());
  CudaGraphCapture capture(Device::cuda());
  x.zero_();
  ops::langevin_step_(x, Tensor(), p);
  CudaGraph graph = capture.end();
  Tensor noise = Tensor::empty({1001});
  ops::fill_normal_(noise, p.seed, p.offset, 0.0, 0.5);
  for (int r = 0; r < 2; ++r) {
    graph.replay();
    EXPECT_EQ(bit_differences(host(x), noise.to_vector<float>()), 0) << "replay " << r;
  }
}

}  // namespace
}  // namespace ebm
