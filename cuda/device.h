// CUDA devices and streams: detection (count, properties, why none can be used), and through
// cuda/stream.h (plain C++, usable outside cuda/) the device guard and the stream every launch of
// the engine goes to.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>
#include <type_traits>

#include "cuda/stream.h"  // current_device, DeviceGuard, current_stream, synchronize, StreamGuard

namespace ebm::cuda {

static_assert(std::is_same<cudaStream_t, StreamHandle>::value,
              "cuda/stream.h declares the stream functions with cudaStream_t spelt CUstream_st*");

// ceil(a / b) for non-negative integers, for grid sizes: ceil_div(n, block).
template <class T>
constexpr T ceil_div(T a, T b) {
  static_assert(std::is_integral<T>::value, "ceil_div is for integers");
  return (a + b - 1) / b;
}

// Number of CUDA devices the runtime sees; 0 when there is no driver or no device, or the
// driver is too old. Never throws. Cached after the first call (the set cannot change).
int device_count() noexcept;

// Why CUDA cannot be used, or "" when device 0 can run this build's kernels:
//   "no CUDA device", "no CUDA device (no CUDA driver is installed)",
//   "CUDA driver too old (driver 12.4 < runtime 13.0)",
//   "no kernel image for this GPU (...)", "CUDA unavailable: <error name>: <error text>".
std::string unavailable_reason();

struct DeviceInfo {
  int index = 0;
  std::string name;
  int sm_major = 0, sm_minor = 0;
  int multiprocessors = 0;
  size_t total_memory = 0;     // bytes
  size_t l2_cache_bytes = 0;
  int driver_version = 0;      // as CUDA encodes it: 13000 = 13.0
  int runtime_version = 0;
  int sm() const { return sm_major * 10 + sm_minor; }
  // "NVIDIA H100 80GB HBM3 (cuda:0, sm_90, 132 SMs, 79.2 GiB; driver 13.0, runtime 13.0)"
  std::string to_string() const;
};

// Properties of a device (cached); throws DeviceError for an index out of range.
DeviceInfo device_info(int device);
// Streaming multiprocessors of a device (cached; for grid-stride grid sizes).
int multiprocessor_count(int device);
// "13.0" from 13000.
std::string version_string(int cuda_version);
// "1.50 GiB", "12.0 MiB", "512 B".
std::string format_bytes(double bytes);

// Throws DeviceError unless `device` names a usable device; the message carries
// unavailable_reason() when there is none.
void check_device(int device);

// cudaSuccess when this build's kernels have an image (SASS or JIT-able PTX) for `device`;
// defined next to a trivial kernel in kernels/probe.cu.
cudaError_t probe_kernel_image(int device);

}  // namespace ebm::cuda
