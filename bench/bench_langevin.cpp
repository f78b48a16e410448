// The fused Langevin update (core/ops/langevin.h) against the same update as separate ops, on the
// CPU and, when a device is present at run time, the GPU. Bytes/s count the update's compulsory
// traffic (IGEBM and SGLD: read x, read ∇x, write x = 12 B per element; DRL adds x̃: 16 B), also
// for the unfused rows, so the rates compare directly. "vs_copy" is that rate over the copy rate
// (memcpy / cudaMemcpyAsync D2D, 8 B per element) measured by this program in the same run.
// GPU rows: cudaEvent timing around the work only, L2 flushed (memset) before each repetition.
// Twin: bench/reference/langevin_torch.py.
// Run: build/bench/bench_langevin --benchmark_out=langevin.json --benchmark_out_format=json
#include <benchmark/benchmark.h>

#include <vector>

#include "copy_bench.h"
#include "core/ops/elementwise.h"
#include "core/ops/langevin.h"
#include "core/ops/random.h"
#if defined(EBM_WITH_CUDA)
#include "cuda/device.h"
#include "cuda/philox_fill.h"
#endif

namespace {

using namespace ebm;
using namespace ebm::bench;

Tensor randn(const Shape& s, uint64_t seed, double std = 1.0, Device d = Device::cpu()) {
  Generator g(seed);
  return ops::normal(s, g, 0.0, std, DType::Float32, d);
}

// IGEBM's default step with noise for the next step: the sampler's hot path.
const LangevinParams kIgebm = LangevinParams::igebm(10.0, 0.01, 0.005);

// The noise fill of the unfused sequence: ops::fill_normal_ (CPU), or the Philox fill kernel for
// a cuda tensor (the op has no CUDA dispatch yet); the same numbers either way.
void fill_noise(Tensor& noise, uint64_t seed, uint64_t offset, double std) {
#if defined(EBM_WITH_CUDA)
  if (noise.device().is_cuda()) {
    cuda::philox_fill_normal(static_cast<float*>(noise.data_ptr()), noise.numel(), seed, offset,
                             0.0f, static_cast<float>(std), cuda::current_stream());
    return;
  }
#endif
  ops::fill_normal_(noise, seed, offset, 0.0, std);
}

// The same update as the separate ops a sampler would otherwise call (noise buffer kept).
void igebm_unfused(Tensor& x, const Tensor& g, Tensor& noise, uint64_t seed, uint64_t offset) {
  Tensor gc = ops::unary(UnaryOp::Clamp, g, -0.01, 0.01);
  ops::binary_(BinaryOp::Add, x, ops::unary(UnaryOp::Affine, gc, -10.0, 0.0));
  x = ops::unary(UnaryOp::Clamp, x, 0.0, 1.0);
  fill_noise(noise, seed, offset, 0.005);
  ops::binary_(BinaryOp::Add, x, noise);
}

// ---- CPU

// Counters of a finished benchmark: bytes/s of the update's compulsory traffic, the copy rate
// of the same size, and their ratio. `seconds` is the summed time of all iterations.
void set_rates(benchmark::State& st, int64_t n, double bytes_per_element, double copy_rate,
               double seconds) {
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * n * bytes_per_element));
  st.counters["copy_GB/s"] = copy_rate / 1e9;
  st.counters["vs_copy"] = seconds > 0 ? st.iterations() * n * bytes_per_element / seconds / copy_rate : 0.0;
}

void BM_CopyCpu(benchmark::State& st) {
  const int64_t n = st.range(0);
  const double t = time_cpu_copy(st, n);
  set_rates(st, n, 8.0, cpu_copy_rate(n), t);
}

void BM_IgebmFusedCpu(benchmark::State& st) {
  const int64_t n = st.range(0);
  Tensor x = randn({n}, 1), g = randn({n}, 2, 0.02);
  Generator gen(3);
  const double t = time_cpu(st, [&] { ops::langevin_step_(x, g, kIgebm, gen); });
  set_rates(st, n, 12.0, cpu_copy_rate(n), t);
}

void BM_IgebmUnfusedCpu(benchmark::State& st) {
  const int64_t n = st.range(0);
  Tensor x = randn({n}, 1), g = randn({n}, 2, 0.02), noise = Tensor::zeros({n});
  Generator gen(3);
  const double t = time_cpu(
      st, [&] { igebm_unfused(x, g, noise, gen.seed(), gen.reserve(ops::normal_words(n))); });
  set_rates(st, n, 12.0, cpu_copy_rate(n), t);
}

void BM_IgebmFusedNoNoiseCpu(benchmark::State& st) {  // the last step of a chain: no Philox
  const int64_t n = st.range(0);
  Tensor x = randn({n}, 1), g = randn({n}, 2, 0.02);
  const LangevinParams p = LangevinParams::igebm(10.0, 0.01, 0.0);
  const double t = time_cpu(st, [&] { ops::langevin_step_(x, g, p); });
  set_rates(st, n, 12.0, cpu_copy_rate(n), t);
}

// DRL at batch n / 3072 (CIFAR-sized samples), six levels.
LangevinDrlInputs drl_inputs(int64_t n, Device d) {
  const int64_t b = n / 3072;
  std::vector<int64_t> lv(b);
  for (int64_t i = 0; i < b; ++i) lv[i] = i % 6;
  return {randn({b, 3072}, 4, 1.0, d), Tensor::from_vector(lv, {b}).to(d),
          ops::drl_langevin_table({2e-5, 1.7e-3, 4.7e-3, 7.9e-3, 1.1e-2, 1.9e-2},
                                  {0.1, 0.27, 0.4, 0.5, 0.6, 1.0}, {1, 1, 1, 1, 1, 0}, 1.0,
                                  DType::Float32, d)};
}

void BM_DrlFusedCpu(benchmark::State& st) {
  const int64_t n = st.range(0);
  Tensor x = randn({n / 3072, 3072}, 1), g = randn({n / 3072, 3072}, 2);
  LangevinDrlInputs in = drl_inputs(n, Device::cpu());
  Generator gen(3);
  const double t = time_cpu(st, [&] { ops::langevin_step_(x, g, LangevinParams::drl(), gen, in); });
  set_rates(st, n, 16.0, cpu_copy_rate(n), t);
}

// ---- GPU

#if defined(EBM_WITH_CUDA)
bool have_gpu(benchmark::State& st) {
  if (cuda::device_count() > 0 && cuda::unavailable_reason().empty()) return true;
  st.SkipWithError("no CUDA device");
  return false;
}

void BM_CopyGpu(benchmark::State& st) {
  if (!have_gpu(st)) return;
  const int64_t n = st.range(0);
  const double t = time_gpu_copy(st, n);
  set_rates(st, n, 8.0, gpu_copy_rate(n), t);
}

void BM_IgebmFusedGpu(benchmark::State& st) {
  if (!have_gpu(st)) return;
  const int64_t n = st.range(0);
  Tensor x = randn({n}, 1, 1.0, Device::cuda()), g = randn({n}, 2, 0.02, Device::cuda());
  Generator gen(3);
  const double t = time_gpu(st, [&](cudaStream_t) { ops::langevin_step_(x, g, kIgebm, gen); });
  set_rates(st, n, 12.0, gpu_copy_rate(n), t);
}

void BM_IgebmUnfusedGpu(benchmark::State& st) {
  if (!have_gpu(st)) return;
  const int64_t n = st.range(0);
  Tensor x = randn({n}, 1, 1.0, Device::cuda()), g = randn({n}, 2, 0.02, Device::cuda());
  Tensor noise = Tensor::zeros({n}, DType::Float32, Device::cuda());
  Generator gen(3);
  try {  // the separate ops need the CUDA elementwise backend
    igebm_unfused(x, g, noise, gen.seed(), gen.reserve(ops::normal_words(n)));
  } catch (const Error& e) {
    st.SkipWithError(("separate ops unavailable on CUDA: " + e.message()).c_str());
    return;
  }
  const double t = time_gpu(st, [&](cudaStream_t) {
    igebm_unfused(x, g, noise, gen.seed(), gen.reserve(ops::normal_words(n)));
  });
  set_rates(st, n, 12.0, gpu_copy_rate(n), t);
}

void BM_DrlFusedGpu(benchmark::State& st) {
  if (!have_gpu(st)) return;
  const int64_t n = st.range(0);
  Tensor x = randn({n / 3072, 3072}, 1, 1.0, Device::cuda());
  Tensor g = randn({n / 3072, 3072}, 2, 1.0, Device::cuda());
  LangevinDrlInputs in = drl_inputs(n, Device::cuda());
  Generator gen(3);
  const double t = time_gpu(
      st, [&](cudaStream_t) { ops::langevin_step_(x, g, LangevinParams::drl(), gen, in); });
  set_rates(st, n, 16.0, gpu_copy_rate(n), t);
}
#else
void no_gpu(benchmark::State& st) { st.SkipWithError("no CUDA device (built without CUDA)"); }
void BM_CopyGpu(benchmark::State& st) { no_gpu(st); }
void BM_IgebmFusedGpu(benchmark::State& st) { no_gpu(st); }
void BM_IgebmUnfusedGpu(benchmark::State& st) { no_gpu(st); }
void BM_DrlFusedGpu(benchmark::State& st) { no_gpu(st); }
#endif

// Sizes: 1M, 4M, 16M elements on the CPU (and 3072-multiples for DRL); up to 64M on the GPU.
#define EBM_CPU_SIZES ->Arg(1 << 20)->Arg(1 << 22)->Arg(1 << 24)
#define EBM_GPU_SIZES ->Arg(1 << 20)->Arg(1 << 22)->Arg(1 << 24)->Arg(1 << 26)
BENCHMARK(BM_CopyCpu) EBM_CPU_SIZES->Unit(benchmark::kMicrosecond)->UseManualTime();
BENCHMARK(BM_IgebmFusedCpu) EBM_CPU_SIZES->Unit(benchmark::kMicrosecond)->UseManualTime();
BENCHMARK(BM_IgebmUnfusedCpu) EBM_CPU_SIZES->Unit(benchmark::kMicrosecond)->UseManualTime();
BENCHMARK(BM_IgebmFusedNoNoiseCpu) EBM_CPU_SIZES->Unit(benchmark::kMicrosecond)->UseManualTime();
BENCHMARK(BM_DrlFusedCpu)->Arg(3072 * 341)->Arg(3072 * 5461)->Unit(benchmark::kMicrosecond)->UseManualTime();
BENCHMARK(BM_CopyGpu) EBM_GPU_SIZES->Unit(benchmark::kMicrosecond)->UseManualTime();
BENCHMARK(BM_IgebmFusedGpu) EBM_GPU_SIZES->Unit(benchmark::kMicrosecond)->UseManualTime();
BENCHMARK(BM_IgebmUnfusedGpu) EBM_GPU_SIZES->Unit(benchmark::kMicrosecond)->UseManualTime();
BENCHMARK(BM_DrlFusedGpu)->Arg(3072 * 341)->Arg(3072 * 5461)->Arg(3072 * 21845)
    ->Unit(benchmark::kMicrosecond)->UseManualTime();

}  // namespace

BENCHMARK_MAIN();
