// Helpers for benchmarks of whole training steps (bench_drl_step.cpp): a device check that skips
// GPU rows without a device, a synchronisation that is a no-op on the CPU, and manual host-clock
// timing of one call per iteration (one untimed warm-up call, an untimed `before` hook per
// iteration) with the ms_per_iter / images_per_s / threads counters the RESULTS tables quote.
#pragma once

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>

#include "core/tensor.h"
#if defined(_OPENMP)
#include <omp.h>
#endif
#if defined(EBM_WITH_CUDA)
#include "cuda/device.h"
#endif

namespace ebm::bench {

inline void device_sync(Device d) {
#if defined(EBM_WITH_CUDA)
  if (d.is_cuda()) cuda::synchronize(d.index);
#else
  (void)d;
#endif
}

// True when rows on d can run; otherwise the row is skipped with the reason.
inline bool device_ready(benchmark::State& st, Device d) {
  if (!d.is_cuda()) return true;
#if defined(EBM_WITH_CUDA)
  if (cuda::device_count() > 0 && cuda::unavailable_reason().empty()) return true;
  st.SkipWithError("no CUDA device");
#else
  st.SkipWithError("no CUDA device (built without CUDA)");
#endif
  return false;
}

inline int cpu_threads() {
#if defined(_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}

// Times f() per iteration on the host clock with the device synchronised around it.
template <class F, class Before>
void time_calls(benchmark::State& st, Device d, int64_t images, F&& f, Before&& before) {
  before();
  f();
  device_sync(d);
  double total = 0;
  for (auto _ : st) {
    before();
    device_sync(d);
    const auto t0 = std::chrono::steady_clock::now();
    f();
    device_sync(d);
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    st.SetIterationTime(dt);
    total += dt;
  }
  const double n = static_cast<double>(st.iterations());
  st.counters["ms_per_iter"] = total / n * 1e3;
  st.counters["images_per_s"] = total > 0 ? images * n / total : 0.0;
  st.counters["threads"] = d.is_cuda() ? 0 : cpu_threads();
}
template <class F>
void time_calls(benchmark::State& st, Device d, int64_t images, F&& f) {
  time_calls(st, d, images, f, [] {});
}

}  // namespace ebm::bench
