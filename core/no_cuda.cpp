// Device hooks of a build without CUDA: every request for device memory is a clear error.
#include "core/common.h"
#include "core/device_hooks.h"

namespace ebm::device_hooks {

namespace {
[[noreturn]] void fail() {
  EBM_THROW(DeviceError, "a CUDA tensor was requested but this build of ebm was not compiled with "
                         "CUDA (reconfigure with -DEBM_CUDA=ON)");
}
}  // namespace

bool compiled_with_cuda() { return false; }
int cuda_device_count() { return 0; }
std::string cuda_unavailable_reason() { return "not compiled with CUDA"; }
void* cuda_alloc(size_t, int) { fail(); }
void cuda_free(void*, int) noexcept {}
void cuda_copy(void*, bool, const void*, bool, size_t, int) { fail(); }
void cuda_memset_zero(void*, size_t, int) { fail(); }
// Nothing was ever allocated, so the counters are zero and there is no cache to empty.
CudaPoolStats cuda_pool_stats(int) { return {}; }
void cuda_empty_cache(int) {}
void cuda_reset_peak_pool_stats(int) {}

}  // namespace ebm::device_hooks
