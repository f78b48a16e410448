// The CUDA build's implementation of core/device_hooks.h: device memory for Storage and the
// copies and memsets of Tensor. Every transfer is queued on the device's current_stream();
// host<->device copies then wait for that stream, so the host buffer may be reused (and a
// device-to-host result read) as soon as cuda_copy returns. Plain cudaMalloc/cudaFree for now;
// the caching pool is a later step.
#include "core/device_hooks.h"

#include <cstring>

#include "core/common.h"
#include "cuda/check.h"
#include "cuda/device.h"

namespace ebm::device_hooks {

bool compiled_with_cuda() { return true; }
int cuda_device_count() { return cuda::device_count(); }
std::string cuda_unavailable_reason() { return cuda::unavailable_reason(); }

void* cuda_alloc(size_t bytes, int device) {
  if (cuda::device_count() == 0)
    EBM_THROW(DeviceError, "cannot allocate ", bytes, " bytes on cuda:", device, ": ",
              cuda::unavailable_reason());
  cuda::DeviceGuard guard(device);
  void* p = nullptr;
  cudaError_t err = cudaMalloc(&p, bytes);
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // out of memory is not sticky: clear it so later checks stay clean
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    cudaGetLastError();
    EBM_THROW(CudaError, "CUDA out of memory: cannot allocate ", bytes, " bytes (",
              cuda::format_bytes(static_cast<double>(bytes)), ") on cuda:", device, "; it has ",
              cuda::format_bytes(static_cast<double>(free_b)), " free of ",
              cuda::format_bytes(static_cast<double>(total_b)), " total");
  }
  EBM_CUDA_CHECK(err);
  return p;
}

void cuda_free(void* p, int device) noexcept {
  if (!p) return;
  // No DeviceGuard (it may throw): switch and restore by hand, logging failures. cudaFree waits
  // for work still using the memory, so no stream synchronisation is needed before it.
  int previous = -1;
  EBM_CUDA_CHECK_LOG(cudaGetDevice(&previous));
  if (previous != device) EBM_CUDA_CHECK_LOG(cudaSetDevice(device));
  EBM_CUDA_CHECK_LOG(cudaFree(p));
  if (previous >= 0 && previous != device) EBM_CUDA_CHECK_LOG(cudaSetDevice(previous));
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
