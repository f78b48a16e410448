// Helpers for the GPU tests: the skip when there is no usable device (with the reason), and a
// raw device buffer that is poisoned before use and copied back to the host for checking.
#pragma once

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <vector>

#include "cuda/check.h"
#include "cuda/device.h"

// Skips the test, with the reason ("no CUDA device", "CUDA driver too old (...)"), when no
// device is visible. A device that is visible but cannot run this build's kernels is a failure.
#define EBM_REQUIRE_CUDA()                                                   \
  do {                                                                       \
    if (::ebm::cuda::device_count() == 0)                                    \
      GTEST_SKIP() << ::ebm::cuda::unavailable_reason();                     \
    ASSERT_EQ(::ebm::cuda::unavailable_reason(), "");                        \
  } while (0)

namespace ebm::test {

// n elements of T in device memory (plus `pad` spare elements, for misaligned views).
template <class T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t n, size_t pad = 0) : n_(n + pad) {
    EBM_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&p_), (n_ ? n_ : 1) * sizeof(T)));
  }
  ~DeviceBuffer() { EBM_CUDA_CHECK_LOG(cudaFree(p_)); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  T* get() const { return p_; }
  // Every byte set to `byte` (0xFF makes float NaN), queued on the engine's stream.
  void poison(unsigned char byte) {
    EBM_CUDA_CHECK(cudaMemsetAsync(p_, byte, n_ * sizeof(T), cuda::current_stream()));
  }
  // Elements [first, first + count) copied back after the stream's work is done.
  std::vector<T> download(size_t first, size_t count) const {
    std::vector<T> h(count);
    cudaStream_t s = cuda::current_stream();
    if (count)
      EBM_CUDA_CHECK(cudaMemcpyAsync(h.data(), p_ + first, count * sizeof(T),
                                     cudaMemcpyDeviceToHost, s));
    EBM_CUDA_CHECK(cudaStreamSynchronize(s));
    return h;
  }

 private:
  T* p_ = nullptr;
  size_t n_;
};

}  // namespace ebm::test
