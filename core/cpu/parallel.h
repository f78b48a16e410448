// OpenMP helper of the CPU backend: parallelise only when the work pays for the threads.
#pragma once

#include <cstdint>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace ebm::cpu {

// Below this much work (items x cost per item) a loop runs on one thread.
constexpr int64_t kParallelGrain = 1 << 15;

// Calls body(begin, end) over [0, n) in one contiguous chunk per OpenMP thread when
// n * cost_per_item is large enough, else once on the calling thread.
template <class F>
void parallel_for(int64_t n, int64_t cost_per_item, F&& body) {
  if (n <= 0) return;
#if defined(_OPENMP)
  if (n > 1 && n * cost_per_item >= kParallelGrain && !omp_in_parallel()) {
#pragma omp parallel
    {
      int64_t threads = omp_get_num_threads(), tid = omp_get_thread_num();
      int64_t chunk = (n + threads - 1) / threads;
      int64_t b = tid * chunk, e = b + chunk < n ? b + chunk : n;
      if (b < e) body(b, e);
    }
    return;
  }
#endif
  body(int64_t(0), n);
}

}  // namespace ebm::cpu
