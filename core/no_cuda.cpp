// What core declares and the CUDA backend defines, in a build without CUDA: every request for
// device memory and every CUDA graph capture is a clear error ("not compiled with CUDA").
#include "core/common.h"
#include "core/device_hooks.h"
#include "core/graph.h"

namespace ebm {

namespace device_hooks {

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

}  // namespace device_hooks

// ---- CUDA graphs (core/graph.h): no capture can start, so no graph is ever valid.

struct CudaGraph::Impl {};
CudaGraph::CudaGraph() = default;
CudaGraph::CudaGraph(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CudaGraph::~CudaGraph() = default;
CudaGraph::CudaGraph(CudaGraph&&) noexcept = default;
CudaGraph& CudaGraph::operator=(CudaGraph&&) noexcept = default;
Device CudaGraph::device() const { EBM_THROW(ValueError, "CudaGraph::device: the graph is empty"); }
void CudaGraph::replay() {
  EBM_THROW(ValueError, "CudaGraph::replay: the graph is empty (this build of ebm was not "
                        "compiled with CUDA)");
}
int64_t CudaGraph::replays() const { return 0; }
size_t CudaGraph::nodes() const { return 0; }
device_hooks::CudaPoolStats CudaGraph::memory_stats() const { return {}; }

struct CudaGraphCapture::Impl {};
CudaGraphCapture::CudaGraphCapture(Device device) : device_(device) {
  EBM_CHECK(device.is_cuda(), ValueError, "CUDA graph capture needs a CUDA device, got ", device);
  EBM_THROW(DeviceError, "CUDA graph capture on ", device, " requested but this build of ebm was "
            "not compiled with CUDA (reconfigure with -DEBM_CUDA=ON)");
}
CudaGraphCapture::~CudaGraphCapture() = default;
bool CudaGraphCapture::active() const { return false; }
CudaGraph CudaGraphCapture::end() {
  EBM_THROW(ValueError, "CudaGraphCapture::end: no capture is open");
}

}  // namespace ebm
