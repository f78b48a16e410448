// CPU backend microbenchmarks: the ops a CPU training step spends its time in (3x3 conv forward
// and both backwards, an elementwise activation, and x -> grad_x E(x) of a small conv energy).
// Twin: bench/reference/cpu_ops_torch.py times the same shapes in PyTorch with the same threads.
// Run: build/bench/bench_cpu_ops --benchmark_out=cpu_ops.json --benchmark_out_format=json
#include <benchmark/benchmark.h>

#include "autograd/ops.h"
#include "autograd/ops/conv.h"
#include "core/ops/conv.h"
#include "core/ops/random.h"

namespace {

using namespace ebm;

Tensor randn(const Shape& s, uint64_t seed) {
  Generator g(seed);
  return ops::randn(s, g);
}

// args: batch, channels, spatial size
void BM_Conv3x3Forward(benchmark::State& st) {
  int n = st.range(0), c = st.range(1), hw = st.range(2);
  Tensor x = randn({n, c, hw, hw}, 1), w = randn({c, c, 3, 3}, 2), b = randn({c}, 3);
  for (auto _ : st) benchmark::DoNotOptimize(ops::conv2d(x, w, b, 1, 1));
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * n * c * c * 9 * hw * hw, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

void BM_Conv3x3BackwardInput(benchmark::State& st) {
  int n = st.range(0), c = st.range(1), hw = st.range(2);
  Tensor g = randn({n, c, hw, hw}, 1), w = randn({c, c, 3, 3}, 2);
  for (auto _ : st) benchmark::DoNotOptimize(ops::conv2d_backward_input(g, w, {n, c, hw, hw}, 1, 1));
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * n * c * c * 9 * hw * hw, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

void BM_Conv3x3BackwardWeight(benchmark::State& st) {
  int n = st.range(0), c = st.range(1), hw = st.range(2);
  Tensor g = randn({n, c, hw, hw}, 1), x = randn({n, c, hw, hw}, 2);
  for (auto _ : st) benchmark::DoNotOptimize(ops::conv2d_backward_weight(g, x, {c, c, 3, 3}, 1, 1));
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * n * c * c * 9 * hw * hw, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

// args: elements
void BM_Silu(benchmark::State& st) {
  Tensor x = randn({st.range(0)}, 1);
  for (auto _ : st) benchmark::DoNotOptimize(ops::unary(UnaryOp::Silu, x));
  st.SetBytesProcessed(st.iterations() * st.range(0) * 8);
}

void BM_AddPerChannel(benchmark::State& st) {
  int64_t n = st.range(0);
  Tensor x = randn({n / (64 * 32 * 32), 64, 32, 32}, 1), b = randn({1, 64, 1, 1}, 2);
  for (auto _ : st) benchmark::DoNotOptimize(ops::binary(BinaryOp::Add, x, b));
  st.SetBytesProcessed(st.iterations() * n * 8);
}

// The Langevin inner step's cost: grad_x of E(x) = sum(avgpool(lrelu(conv(lrelu(conv(x)))))),
// weights requiring grad but left untouched. args: batch
void BM_LangevinGradX(benchmark::State& st) {
  int n = st.range(0);
  Tensor w1 = randn({64, 1, 3, 3}, 1).set_requires_grad(), w2 = randn({64, 64, 3, 3}, 2).set_requires_grad();
  Tensor x0 = randn({n, 1, 32, 32}, 3);
  for (auto _ : st) {
    Tensor x = x0.detach().set_requires_grad();
    Tensor h = leaky_relu(conv2d(x, w1, Tensor(), 1, 1), 0.2);
    h = leaky_relu(conv2d(h, w2, Tensor(), 1, 1), 0.2);
    Tensor e = sum(avg_pool2d(h, 2));
    benchmark::DoNotOptimize(grad(e, {x})[0]);
  }
  st.counters["img/s"] = benchmark::Counter(n, benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK(BM_Conv3x3Forward)->Args({8, 128, 32})->Args({32, 64, 16})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Conv3x3BackwardInput)->Args({8, 128, 32})->Args({32, 64, 16})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Conv3x3BackwardWeight)->Args({8, 128, 32})->Args({32, 64, 16})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Silu)->Arg(1 << 20)->Arg(1 << 24)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_AddPerChannel)->Arg(1 << 20)->Arg(1 << 24)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_LangevinGradX)->Arg(16)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
