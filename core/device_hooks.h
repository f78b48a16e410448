// The few things core needs from the CUDA backend, as plain C++ (no CUDA headers), so a
// CPU-only build is an ordinary C++ build. cuda/device_hooks.cpp defines them when EBM_CUDA is
// on; core/no_cuda.cpp defines them otherwise, throwing "not compiled with CUDA".
#pragma once

#include <cstddef>
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

}  // namespace ebm::device_hooks
