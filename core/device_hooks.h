// The few things core needs from the CUDA backend, as plain C++ (no CUDA headers), so a
// CPU-only build is an ordinary C++ build. cuda/device_hooks.cpp defines them when EBM_CUDA is
// on; core/no_cuda.cpp defines them otherwise, throwing "not compiled with CUDA".
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ebm::device_hooks {

bool compiled_with_cuda();
// Number of usable CUDA devices (0 without a driver or device; never throws).
int cuda_device_count();
// Why no CUDA device can be used, or "" when one can: "not compiled with CUDA", "no CUDA device",
// "CUDA driver too old (...)", ...
std::string cuda_unavailable_reason();
void* cuda_alloc(size_t bytes, int device);
void cuda_free(void* p, int device) noexcept;
// Copies between host and device or device and device (kind inferred from the two devices).
void cuda_copy(void* dst, bool dst_on_device, const void* src, bool src_on_device, size_t bytes,
               int device);
void cuda_memset_zero(void* p, size_t bytes, int device);

// Counters of one device's caching allocator (cuda/memory_pool.h). Sizes are the pool's rounded
// block sizes except requested_bytes; allocated + cached = reserved. In the caching mode every
// allocation is a cache hit or one cudaMalloc: allocations = cache_hits + cuda_mallocs.
struct CudaPoolStats {
  bool caching = false;               // false with EBM_CUDA_POOL=0 (and without CUDA)
  int64_t requested_bytes = 0;        // live, as the callers asked
  int64_t allocated_bytes = 0;        // live blocks
  int64_t cached_bytes = 0;           // free blocks kept for reuse
  int64_t reserved_bytes = 0;         // held from cudaMalloc
  int64_t peak_allocated_bytes = 0;   // since start or the last reset
  int64_t peak_reserved_bytes = 0;
  int64_t allocations = 0;            // requests served
  int64_t frees = 0;
  int64_t cache_hits = 0;             // requests served without a cudaMalloc
  int64_t cuda_mallocs = 0;           // successful cudaMalloc calls
  int64_t cuda_frees = 0;
  int64_t oom_retries = 0;            // failed cudaMallocs retried after releasing the cache
  int64_t graph_bytes = 0;            // whole segments lent to CUDA graphs' private pools
                                      // (core/graph.h; part of allocated_bytes)
};
// All zero where CUDA is not compiled in or no device is usable; DeviceError for an index that
// names no device.
CudaPoolStats cuda_pool_stats(int device);
// Returns the device's wholly free cached memory to the driver (nothing to do without CUDA).
void cuda_empty_cache(int device);
// The peak counters of cuda_pool_stats restart from the current values.
void cuda_reset_peak_pool_stats(int device);

}  // namespace ebm::device_hooks
