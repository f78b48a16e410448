// Helpers for benchmarks of memory-bound kernels that report their rate against a copy of the same
// number of floats measured in the same run (bench_langevin.cpp, bench_spectral_norm.cpp): manual
// timing of one call per iteration after one untimed warm-up, on the host clock (CPU) or with
// cudaEvents on the engine's stream after an L2-flushing memset (GPU), and the copy itself
// (memcpy / cudaMemcpyAsync D2D) as a benchmark body and as a cached rate: bytes read + written
// per second, 8 B per float.
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <vector>

#if defined(EBM_WITH_CUDA)
#include <cuda_runtime_api.h>

#include "cuda/check.h"
#include "cuda/device.h"
#endif

namespace ebm::bench {

// Runs f once per iteration, timed on the host clock (manual time), after one untimed warm-up;
// returns the summed time of all iterations.
template <class F>
double time_cpu(benchmark::State& st, F&& f) {
  f();
  double total = 0;
  for (auto _ : st) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    st.SetIterationTime(dt);
    total += dt;
  }
  return total;
}

// memcpy of `from` into `to` (same size), kept from being optimised away.
inline void copy_floats(const std::vector<float>& from, std::vector<float>& to) {
  std::memcpy(to.data(), from.data(), from.size() * sizeof(float));
  benchmark::DoNotOptimize(to.data());
}

// memcpy of n floats: bytes read + written per second (median of 10 after 2 warm-ups), per n.
inline double cpu_copy_rate(int64_t n) {
  static std::map<int64_t, double> cache;
  auto it = cache.find(n);
  if (it != cache.end()) return it->second;
  std::vector<float> a(n, 1.0f), b(n, 0.0f);
  std::vector<double> t;
  for (int r = 0; r < 12; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    copy_floats(a, b);
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin() + 2, t.end());  // two warm-up copies, then the median
  return cache[n] = 8.0 * n / t[2 + (t.size() - 2) / 2];
}

// The body of a BM_CopyCpu row: times a memcpy of n floats per iteration (time_cpu).
inline double time_cpu_copy(benchmark::State& st, int64_t n) {
  std::vector<float> a(n, 1.0f), b(n, 0.0f);
  return time_cpu(st, [&] { copy_floats(a, b); });
}

#if defined(EBM_WITH_CUDA)
// Times work(stream) on the engine's stream with cudaEvents, after an L2-flushing memset.
class GpuTimer {
 public:
  GpuTimer() {
    const cuda::DeviceInfo info = cuda::device_info(0);
    flush_bytes_ = std::max<size_t>(2 * info.l2_cache_bytes, size_t(64) << 20);
    EBM_CUDA_CHECK(cudaMalloc(&flush_, flush_bytes_));
    EBM_CUDA_CHECK(cudaEventCreate(&start_));
    EBM_CUDA_CHECK(cudaEventCreate(&stop_));
  }
  ~GpuTimer() {
    EBM_CUDA_CHECK_LOG(cudaFree(flush_));
    EBM_CUDA_CHECK_LOG(cudaEventDestroy(start_));
    EBM_CUDA_CHECK_LOG(cudaEventDestroy(stop_));
  }
  template <class F>
  double seconds(F&& work) {
    cudaStream_t s = cuda::current_stream();
    EBM_CUDA_CHECK(cudaMemsetAsync(flush_, 0, flush_bytes_, s));
    EBM_CUDA_CHECK(cudaEventRecord(start_, s));
    work(s);
    EBM_CUDA_CHECK(cudaEventRecord(stop_, s));
    EBM_CUDA_CHECK(cudaEventSynchronize(stop_));
    float ms = 0;
    EBM_CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
    return ms * 1e-3;
  }

 private:
  void* flush_ = nullptr;
  size_t flush_bytes_ = 0;
  cudaEvent_t start_{}, stop_{};
};

inline GpuTimer& gpu_timer() {
  static GpuTimer t;
  return t;
}

// Runs work(stream) once per iteration, timed by gpu_timer (manual time), after a warm-up;
// returns the summed time of all iterations.
template <class F>
double time_gpu(benchmark::State& st, F&& work) {
  gpu_timer().seconds(work);
  double total = 0;
  for (auto _ : st) {
    const double dt = gpu_timer().seconds(work);
    st.SetIterationTime(dt);
    total += dt;
  }
  return total;
}

// Two device buffers of n floats, freed at scope exit.
class DeviceFloats {
 public:
  explicit DeviceFloats(int64_t n) : bytes_(static_cast<size_t>(n) * 4) {
    EBM_CUDA_CHECK(cudaMalloc(&a_, bytes_));
    EBM_CUDA_CHECK(cudaMalloc(&b_, bytes_));
  }
  ~DeviceFloats() {
    EBM_CUDA_CHECK_LOG(cudaFree(a_));
    EBM_CUDA_CHECK_LOG(cudaFree(b_));
  }
  DeviceFloats(const DeviceFloats&) = delete;
  DeviceFloats& operator=(const DeviceFloats&) = delete;
  // Copies the first buffer into the second on stream s.
  void copy(cudaStream_t s) const { EBM_CUDA_CHECK(cudaMemcpyAsync(b_, a_, bytes_, cudaMemcpyDeviceToDevice, s)); }

 private:
  void *a_ = nullptr, *b_ = nullptr;
  size_t bytes_;
};

// D2D copy of n floats: bytes read + written per second (median of 20 after 2 warm-ups), per n.
inline double gpu_copy_rate(int64_t n) {
  static std::map<int64_t, double> cache;
  auto it = cache.find(n);
  if (it != cache.end()) return it->second;
  std::vector<double> t;
  {
    const DeviceFloats buf(n);
    for (int r = 0; r < 22; ++r) t.push_back(gpu_timer().seconds([&](cudaStream_t s) { buf.copy(s); }));
  }
  std::sort(t.begin() + 2, t.end());
  return cache[n] = 8.0 * n / t[2 + (t.size() - 2) / 2];
}

// The body of a BM_CopyGpu row: times a D2D copy of n floats per iteration (time_gpu).
inline double time_gpu_copy(benchmark::State& st, int64_t n) {
  const DeviceFloats buf(n);
  return time_gpu(st, [&](cudaStream_t s) { buf.copy(s); });
}
#endif

}  // namespace ebm::bench
