// Spectral normalisation's whole-model power iteration (core/ops/spectral_norm.h): one iteration
// v = normalize(Wᵀu), u = normalize(W v) plus σ = uᵀ W v for every SN layer of the papers'
// networks in one batched call, on the CPU and, when a device is present at run time, the GPU
// (float32). Bytes/s count each weight read twice (the iteration's two matrix-vector products;
// the vectors are negligible); "vs_copy" is that rate over the rate of a copy of the same number
// of weight bytes (memcpy / cudaMemcpyAsync D2D, which reads and writes them, so the same byte
// count moves), measured in the same run. The target on the GPU: vs_copy >= 0.7.
// GPU rows: cudaEvent timing around the call only, L2 flushed (memset) before each repetition (in
// training the weights leave L2 between refreshes). BM_*GpuPerLayer calls the op once per layer
// (4 launches each), to show what batching saves.
// Twin: bench/reference/spectral_norm_torch.py.
// Run: build/bench/bench_spectral_norm --benchmark_out=sn.json --benchmark_out_format=json
//
// The models (SN layers and their weight shapes [out, in, k, k] / [out, in]):
//   igebm_resnet32     IGEBM ResNet32, 128 filters (CIFAR-10 conditional; specs/igebm-drl.md
//                      §1.3): stem 3→128; res_optim, res_1 128→128; res_2 128→256 with 3×3 skip;
//                      res_3..res_5 256→256. 14 layers, 5.31 M weights.
//   igebm_resnet32l    IGEBM ResNet32Large (unconditional): stem; three 128 blocks; 128→256 (+skip),
//                      two 256; 256→512 (+skip), two 512. 21 layers, 18.58 M weights.
//   drl_ch128          DRL net_res_temb2 (§2.4), ch 128, ch_mult (1,2,2,2), 8 res blocks per level:
//                      temb Dense 128→512, 512→512; stem 3→128; per block conv1, Dense_b 512→C,
//                      conv2 (+ 3×3 skip at 128→256). 100 layers, 34.67 M weights.
#include <benchmark/benchmark.h>

#include <cmath>
#include <string>
#include <vector>

#include "copy_bench.h"
#include "core/ops/random.h"
#include "core/ops/spectral_norm.h"
#if defined(EBM_WITH_CUDA)
#include "cuda/device.h"
#endif

namespace {

using namespace ebm;
using namespace ebm::bench;

struct Model {
  const char* name;
  std::vector<Shape> layers;
};

void conv(std::vector<Shape>& l, int64_t out, int64_t in) { l.push_back({out, in, 3, 3}); }

// IGEBM residual block: conv1, conv2 (capped), and a 3×3 skip conv when the channels change.
void igebm_block(std::vector<Shape>& l, int64_t in, int64_t out) {
  conv(l, out, in);
  conv(l, out, out);
  if (in != out) conv(l, out, in);
}

const std::vector<Model>& models() {
  static const std::vector<Model> m = [] {
    std::vector<Model> all;
    std::vector<Shape> r32;  // ResNet32, num_filters 128
    conv(r32, 128, 3);
    for (auto [in, out] : {std::pair<int64_t, int64_t>{128, 128}, {128, 128}, {128, 256}, {256, 256},
                           {256, 256}, {256, 256}})
      igebm_block(r32, in, out);
    all.push_back({"igebm_resnet32", r32});
    std::vector<Shape> r32l;  // ResNet32Large, num_filters 128
    conv(r32l, 128, 3);
    for (auto [in, out] : {std::pair<int64_t, int64_t>{128, 128}, {128, 128}, {128, 128}, {128, 256},
                           {256, 256}, {256, 256}, {256, 512}, {512, 512}, {512, 512}})
      igebm_block(r32l, in, out);
    all.push_back({"igebm_resnet32l", r32l});
    std::vector<Shape> drl;  // net_res_temb2, ch 128, ch_mult (1, 2, 2, 2), 8 blocks per level
    drl.push_back({512, 128});
    drl.push_back({512, 512});
    conv(drl, 128, 3);
    int64_t ch = 128;
    for (int64_t mult : {1, 2, 2, 2})
      for (int b = 0; b < 8; ++b) {
        const int64_t out = 128 * mult;
        conv(drl, out, ch);
        drl.push_back({out, 512});
        conv(drl, out, out);
        if (ch != out) conv(drl, out, ch);
        ch = out;
      }
    all.push_back({"drl_ch128", drl});
    return all;
  }();
  return m;
}

int64_t weight_count(const Model& m) {
  int64_t n = 0;
  for (const Shape& s : m.layers) n += s.numel();
  return n;
}

std::vector<SpectralNormState> make_layers(const Model& m, Device d) {
  std::vector<SpectralNormState> l;
  Generator g(7);
  for (const Shape& s : m.layers) {
    const int64_t rows = s[0], cols = s.numel() / s[0];
    l.push_back({ops::normal(s, g, 0.0, 0.05, DType::Float32, d),
                 ops::normal({rows}, g, 0.0, 1.0 / std::sqrt(double(rows)), DType::Float32, d),
                 ops::normal({cols}, g, 0.0, 1.0 / std::sqrt(double(cols)), DType::Float32, d)});
  }
  return l;
}

// Counters: bytes/s at two reads of every weight, the copy rate for the same bytes, the ratio.
void set_rates(benchmark::State& st, const Model& m, double copy_rate, double seconds) {
  const double bytes = 2.0 * 4.0 * static_cast<double>(weight_count(m));
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * bytes));
  st.SetLabel(str(m.name, ", ", m.layers.size(), " layers, ", weight_count(m) / 1e6, " M weights"));
  st.counters["copy_GB/s"] = copy_rate / 1e9;
  st.counters["vs_copy"] = seconds > 0 ? st.iterations() * bytes / seconds / copy_rate : 0.0;
}

// ---- CPU

void BM_PowerIterationCpu(benchmark::State& st) {
  const Model& m = models()[st.range(0)];
  std::vector<SpectralNormState> l = make_layers(m, Device::cpu());
  const double t = time_cpu(st, [&] { ops::spectral_norm_power_iteration_(l, 1); });
  set_rates(st, m, cpu_copy_rate(weight_count(m)), t);
}

void BM_CopyCpu(benchmark::State& st) {
  const Model& m = models()[st.range(0)];
  const int64_t n = weight_count(m);
  const double t = time_cpu_copy(st, n);
  set_rates(st, m, cpu_copy_rate(n), t);
}

// ---- GPU

#if defined(EBM_WITH_CUDA)
bool have_gpu(benchmark::State& st) {
  if (cuda::device_count() > 0 && cuda::unavailable_reason().empty()) return true;
  st.SkipWithError(("no CUDA device: " + cuda::unavailable_reason()).c_str());
  return false;
}

void BM_PowerIterationGpu(benchmark::State& st) {
  if (!have_gpu(st)) return;
  const Model& m = models()[st.range(0)];
  std::vector<SpectralNormState> l = make_layers(m, Device::cuda());
  const double t = time_gpu(st, [&](cudaStream_t) { ops::spectral_norm_power_iteration_(l, 1); });
  set_rates(st, m, gpu_copy_rate(weight_count(m)), t);
}

void BM_PowerIterationGpuPerLayer(benchmark::State& st) {
  if (!have_gpu(st)) return;
  const Model& m = models()[st.range(0)];
  std::vector<SpectralNormState> l = make_layers(m, Device::cuda());
  std::vector<std::vector<SpectralNormState>> one;
  for (const auto& s : l) one.push_back({s});
  const double t = time_gpu(st, [&](cudaStream_t) {
    for (auto& o : one) ops::spectral_norm_power_iteration_(o, 1);
  });
  set_rates(st, m, gpu_copy_rate(weight_count(m)), t);
}

void BM_CopyGpu(benchmark::State& st) {
  if (!have_gpu(st)) return;
  const Model& m = models()[st.range(0)];
  const int64_t n = weight_count(m);
  const double t = time_gpu_copy(st, n);
  set_rates(st, m, gpu_copy_rate(n), t);
}
#else
void no_gpu(benchmark::State& st) { st.SkipWithError("no CUDA device (built without CUDA)"); }
void BM_PowerIterationGpu(benchmark::State& st) { no_gpu(st); }
void BM_PowerIterationGpuPerLayer(benchmark::State& st) { no_gpu(st); }
void BM_CopyGpu(benchmark::State& st) { no_gpu(st); }
#endif

#define EBM_MODELS ->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond)->UseManualTime()
BENCHMARK(BM_PowerIterationCpu) EBM_MODELS;
BENCHMARK(BM_CopyCpu) EBM_MODELS;
BENCHMARK(BM_PowerIterationGpu) EBM_MODELS;
BENCHMARK(BM_PowerIterationGpuPerLayer) EBM_MODELS;
BENCHMARK(BM_CopyGpu) EBM_MODELS;

}  // namespace

BENCHMARK_MAIN();
