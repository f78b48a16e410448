// The CUDA build's implementation of core/device_hooks.h: device memory for Storage and the
// copies and memsets of Tensor. Every transfer is queued on the device's current_stream();
// host<->device copies then wait for that stream, so the host buffer may be reused (and a
// device-to-host result read) as soon as cuda_copy returns, which is why such a copy inside a
// CUDA graph capture (core/graph.h) is refused with a message saying so. Memory comes from the
// caching pool of memory_pool.h (blocks tied to the current stream; EBM_CUDA_POOL=0 bypasses the
// cache; a capture's allocations come from the graph's private pool).
#include "core/device_hooks.h"

#include <cstring>

#include "core/common.h"
#include "cuda/check.h"
#include "cuda/device.h"
#include "cuda/graph.h"
#include "cuda/memory_pool.h"

namespace ebm::device_hooks {

bool compiled_with_cuda() { return true; }
int cuda_device_count() { return cuda::device_count(); }
std::string cuda_unavailable_reason() { return cuda::unavailable_reason(); }

void* cuda_alloc(size_t bytes, int device) {
  if (cuda::device_count() == 0)
    EBM_THROW(DeviceError, "cannot allocate ", bytes, " bytes on cuda:", device, ": ",
              cuda::unavailable_reason());
  return cuda::pool_allocate(bytes, device);
}

void cuda_free(void* p, int device) noexcept { cuda::pool_free(p, device); }

CudaPoolStats cuda_pool_stats(int device) {
  if (cuda::device_count() == 0) return {};
  return cuda::pool_stats(device);
}

void cuda_empty_cache(int device) {
  if (cuda::device_count() == 0) return;
  cuda::empty_cache(device);
}

void cuda_reset_peak_pool_stats(int device) {
  if (cuda::device_count() == 0) return;
  cuda::reset_peak_pool_stats(device);
}

void cuda_copy(void* dst, bool dst_on_device, const void* src, bool src_on_device, size_t bytes,
               int device) {
  if (bytes == 0) return;
  if (!dst_on_device && !src_on_device) {
    std::memcpy(dst, src, bytes);
    return;
  }
  cuda::DeviceGuard guard(device);
  cudaStream_t stream = cuda::current_stream(device);
  if (dst_on_device && src_on_device) {
    // Default lets unified addressing route a copy between two devices too.
    EBM_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, stream));
    return;
  }
  EBM_CHECK(!cuda::stream_capturing(stream), CudaError, "cannot copy ", bytes, " bytes ",
            dst_on_device ? "from the host to cuda:" : "from cuda:", device,
            dst_on_device ? "" : " to the host",
            " while its current stream is being captured into a CUDA graph: a copy between host "
            "and device waits for the device, a host synchronisation that a captured region must "
            "not contain (Tensor::to(cpu), to_vector, item() and from_vector onto the device are "
            "such copies); move it before or after the capture");
  cudaMemcpyKind kind = dst_on_device ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToHost;
  EBM_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, kind, stream));
  EBM_CUDA_CHECK(cudaStreamSynchronize(stream));
}

void cuda_memset_zero(void* p, size_t bytes, int device) {
  if (bytes == 0) return;
  cuda::DeviceGuard guard(device);
  EBM_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, cuda::current_stream(device)));
}

}  // namespace ebm::device_hooks
