// The device pools of memory_pool.h: one CachingPool per device over cudaMalloc/cudaFree,
// created at the first allocation on the device and kept until the process exits (destroying
// them from a static destructor would race the runtime's own shutdown; the driver takes the
// memory back at exit). Each comes with the PoolSet of its CUDA graphs' private pools
// (graph_pool.h); a thread capturing a graph has its allocations for the capture stream and its
// frees routed to the graph's pool (thread-local, set by cuda/graph.cpp).
#include "cuda/memory_pool.h"

#include <array>
#include <atomic>
#include <cstdlib>

#include "cuda/check.h"
#include "cuda/device.h"
#include "cuda/graph.h"  // RelaxedCaptureMode
#include "cuda/graph_pool.h"

namespace ebm::cuda {

namespace {

// As in device.cpp: check_device refuses indices from 64 on.
constexpr int kMaxPools = 64;

// Makes `device` current for a scope without throwing (for the noexcept paths): failures are
// logged, and the previous device is restored.
class QuietDeviceSwitch {
 public:
  explicit QuietDeviceSwitch(int device) noexcept : device_(device) {
    EBM_CUDA_CHECK_LOG(cudaGetDevice(&previous_));
    if (previous_ != device_) EBM_CUDA_CHECK_LOG(cudaSetDevice(device_));
  }
  ~QuietDeviceSwitch() {
    if (previous_ >= 0 && previous_ != device_) EBM_CUDA_CHECK_LOG(cudaSetDevice(previous_));
  }
  QuietDeviceSwitch(const QuietDeviceSwitch&) = delete;
  QuietDeviceSwitch& operator=(const QuietDeviceSwitch&) = delete;

 private:
  int device_;
  int previous_ = -1;
};

class CudaMalloc final : public RawAllocator {
 public:
  explicit CudaMalloc(int device) : device_(device) {}

  void* allocate(size_t bytes) override {
    DeviceGuard guard(device_);
    void* p = nullptr;
    const cudaError_t err = cudaMalloc(&p, bytes);
    if (err == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // out of memory is not sticky: clear it so later checks stay clean
      return nullptr;
    }
    EBM_CUDA_CHECK(err);
    return p;
  }

  void deallocate(void* p, size_t) noexcept override {
    // cudaFree waits for work still using the memory: no stream synchronisation is needed.
    QuietDeviceSwitch on(device_);
    EBM_CUDA_CHECK_LOG(cudaFree(p));
  }

  void memory_info(size_t& free_bytes, size_t& total_bytes) noexcept override {
    QuietDeviceSwitch on(device_);
    if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) {
      cudaGetLastError();
      free_bytes = total_bytes = 0;
    }
  }

  std::string device_name() const override { return str("cuda:", device_); }

 private:
  int device_;
};

struct DevicePool {
  explicit DevicePool(int device) : raw(device), pool(raw, pool_enabled()), graphs(pool) {}
  CudaMalloc raw;
  CachingPool pool;
  PoolSet graphs;
};

// This thread's capture on a device: the graph's pool and the stream being captured.
struct CaptureRoute {
  GraphPool* pool = nullptr;
  cudaStream_t stream = nullptr;
};
thread_local std::array<CaptureRoute, kMaxPools> t_routes{};

CachingPool::Stream key(cudaStream_t s) { return reinterpret_cast<CachingPool::Stream>(s); }

std::array<std::atomic<DevicePool*>, kMaxPools>& pools() {
  static auto* table = new std::array<std::atomic<DevicePool*>, kMaxPools>();  // never freed
  return *table;
}

// The pool of `device`, or nullptr before its first allocation.
DevicePool* existing_pool(int device) noexcept {
  if (device < 0 || device >= kMaxPools) return nullptr;
  return pools()[device].load(std::memory_order_acquire);
}

DevicePool& pool_of(int device) {
  check_device(device);
  EBM_CHECK(device < kMaxPools, DeviceError, "cuda:", device, ": the memory pool supports ",
            kMaxPools, " devices");
  if (DevicePool* p = existing_pool(device)) return *p;
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  DevicePool* p = pools()[device].load(std::memory_order_acquire);
  if (!p) {
    p = new DevicePool(device);
    pools()[device].store(p, std::memory_order_release);
  }
  return *p;
}

}  // namespace

bool pool_enabled() {
  static const bool enabled = pool_enabled_by(std::getenv("EBM_CUDA_POOL"));
  return enabled;
}

void* pool_allocate(size_t bytes, int device) {
  DevicePool& p = pool_of(device);
  cudaStream_t stream = current_stream(device);
  const CaptureRoute& route = t_routes[device];
  if (route.pool && stream == route.stream) {
    RelaxedCaptureMode relaxed;  // a miss lends a segment, maybe a new cudaMalloc'd one
    return route.pool->allocate(bytes);
  }
  return p.pool.allocate(bytes, key(stream));
}

void pool_free(void* ptr, int device) noexcept {
  if (!ptr) return;
  DevicePool* p = existing_pool(device);
  if (!p) {
    std::fprintf(stderr, "ebm: free of %p on cuda:%d, which has no memory pool (ignored)\n", ptr,
                 device);
    return;
  }
  if (device < kMaxPools && t_routes[device].pool) {
    p->graphs.free_capturing(t_routes[device].pool, ptr);
    return;
  }
  if (!p->graphs.free(ptr))
    std::fprintf(stderr, "ebm: memory pool of cuda:%d: free of %p, which it did not allocate "
                 "(ignored)\n", device, ptr);
}

PoolStats pool_stats(int device) {
  check_device(device);
  if (DevicePool* p = existing_pool(device)) return p->pool.stats();
  PoolStats s;
  s.caching = pool_enabled();
  return s;
}

size_t empty_cache(int device) {
  check_device(device);
  DevicePool* p = existing_pool(device);
  return p ? p->pool.empty_cache() : 0;
}

void reset_peak_pool_stats(int device) {
  check_device(device);
  if (DevicePool* p = existing_pool(device)) p->pool.reset_peak();
}

GraphPool* graph_pool_open(int device, StreamHandle origin, StreamHandle capture) {
  DevicePool& p = pool_of(device);
  EBM_CHECK(!t_routes[device].pool, DeviceError, "cuda:", device,
            ": this thread is already capturing a CUDA graph on the device");
  GraphPool* g = p.graphs.open(key(origin), key(capture));
  t_routes[device] = {g, capture};
  return g;
}

void graph_pool_stop_routing(int device) noexcept {
  if (device >= 0 && device < kMaxPools) t_routes[device] = {};
}

void* graph_pool_allocate(GraphPool* pool, size_t bytes) {
  RelaxedCaptureMode relaxed;
  return pool->allocate(bytes);
}

void graph_pool_close(int device, GraphPool* pool) noexcept {
  if (!pool) return;
  if (DevicePool* p = existing_pool(device)) p->graphs.close(pool);
}

PoolStats graph_pool_stats(const GraphPool* pool) { return pool->stats(); }

}  // namespace ebm::cuda
