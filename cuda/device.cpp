// Device detection, guards and the per-device default streams (see device.h).
#include "cuda/device.h"

#include <array>
#include <atomic>
#include <cstdio>
#include <mutex>

#include "core/common.h"
#include "cuda/check.h"

#ifndef EBM_CUDA_ARCHITECTURES_LIST
#define EBM_CUDA_ARCHITECTURES_LIST "unknown"
#endif

namespace ebm::cuda {

namespace {

// Devices beyond this index are refused; a node has at most 8-16 GPUs.
constexpr int kMaxDevices = 64;

std::string compute_unavailable_reason() {
  int n = 0;
  cudaError_t err = cudaGetDeviceCount(&n);
  cudaGetLastError();
  if (err == cudaSuccess && n > 0) {
    cudaError_t image = probe_kernel_image(0);
    if (image == cudaSuccess) return "";
    int major = 0, minor = 0;
    cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0);
    cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, 0);
    cudaGetLastError();
    return str("no kernel image for this GPU: cuda:0 is sm_", major, minor,
               ", this build targets CUDA architectures ", EBM_CUDA_ARCHITECTURES_LIST, " (",
               describe_cuda_error(image), "); rebuild with -DEBM_CUDA_ARCHITECTURES=", major,
               minor);
  }
  if (err == cudaSuccess || err == cudaErrorNoDevice) return "no CUDA device";
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  if (err == cudaErrorInsufficientDriver) {
    // The runtime reports a missing libcuda.so as an "insufficient" driver of version 0.
    if (driver == 0) return "no CUDA device (no CUDA driver is installed)";
    return str("CUDA driver too old (driver ", version_string(driver), " < runtime ",
               version_string(runtime), ")");
  }
  return str("CUDA unavailable: ", describe_cuda_error(err));
}

struct StreamTable {
  std::array<std::atomic<cudaStream_t>, kMaxDevices> streams{};
  std::mutex mutex;
};
StreamTable& stream_table() {
  // Never destroyed: the streams live until the process exits, and destroying them from a static
  // destructor would race the runtime's own shutdown.
  static StreamTable* table = new StreamTable();
  return *table;
}

thread_local std::array<cudaStream_t, kMaxDevices> t_stream_override{};

// -1 means the current device; without any device, fail with the reason rather than with the
// runtime's error from cudaGetDevice.
int resolve(int device) {
  if (device >= 0) return device;
  if (device_count() == 0) check_device(0);
  return current_device();
}

}  // namespace

int device_count() noexcept {
  static const int count = [] {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) n = 0;
    cudaGetLastError();
    return n;
  }();
  return count;
}

std::string unavailable_reason() {
  static const std::string reason = compute_unavailable_reason();
  return reason;
}

std::string version_string(int v) { return str(v / 1000, ".", (v % 1000) / 10); }

std::string format_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 6) {
    bytes /= 1024.0;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", bytes, units[u]);
  return buf;
}

std::string DeviceInfo::to_string() const {
  return str(name, " (cuda:", index, ", sm_", sm(), ", ", multiprocessors, " SMs, ",
             format_bytes(static_cast<double>(total_memory)), "; driver ",
             version_string(driver_version), ", runtime ", version_string(runtime_version), ")");
}

void check_device(int device) {
  int n = device_count();
  EBM_CHECK(n > 0, DeviceError, "cuda:", device, " requested but CUDA is not usable: ",
            unavailable_reason());
  EBM_CHECK(device >= 0 && device < n && device < kMaxDevices, DeviceError, "cuda:", device,
            " requested but this machine has ", n, " CUDA device", n == 1 ? "" : "s");
}

DeviceInfo device_info(int device) {
  check_device(device);
  static std::mutex mutex;
  static std::array<DeviceInfo*, kMaxDevices> cache{};  // filled once per device, never freed
  std::lock_guard<std::mutex> lock(mutex);
  if (!cache[device]) {
    cudaDeviceProp p;
    EBM_CUDA_CHECK(cudaGetDeviceProperties(&p, device));
    auto* info = new DeviceInfo();
    info->index = device;
    info->name = p.name;
    info->sm_major = p.major;
    info->sm_minor = p.minor;
    info->multiprocessors = p.multiProcessorCount;
    info->total_memory = p.totalGlobalMem;
    info->l2_cache_bytes = static_cast<size_t>(p.l2CacheSize);
    EBM_CUDA_CHECK(cudaDriverGetVersion(&info->driver_version));
    EBM_CUDA_CHECK(cudaRuntimeGetVersion(&info->runtime_version));
    cache[device] = info;
  }
  return *cache[device];
}

int multiprocessor_count(int device) {
  static std::array<std::atomic<int>, kMaxDevices> cache{};
  check_device(device);
  int n = cache[device].load(std::memory_order_relaxed);
  if (n == 0) {
    EBM_CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, device));
    cache[device].store(n, std::memory_order_relaxed);
  }
  return n;
}

int current_device() {
  int d = 0;
  EBM_CUDA_CHECK(cudaGetDevice(&d));
  return d;
}

DeviceGuard::DeviceGuard(int device) {
  check_device(device);
  EBM_CUDA_CHECK(cudaGetDevice(&previous_));
  if (previous_ != device)
    EBM_CUDA_CHECK(cudaSetDevice(device));
  else
    previous_ = -1;  // nothing to restore
}

DeviceGuard::~DeviceGuard() {
  if (previous_ >= 0) EBM_CUDA_CHECK_LOG(cudaSetDevice(previous_));
}

cudaStream_t current_stream(int device) {
  device = resolve(device);
  check_device(device);
  if (cudaStream_t s = t_stream_override[device]) return s;
  StreamTable& t = stream_table();
  cudaStream_t s = t.streams[device].load(std::memory_order_acquire);
  if (s) return s;
  std::lock_guard<std::mutex> lock(t.mutex);
  s = t.streams[device].load(std::memory_order_acquire);
  if (!s) {
    DeviceGuard guard(device);
    EBM_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    t.streams[device].store(s, std::memory_order_release);
  }
  return s;
}

void synchronize(int device) { EBM_CUDA_CHECK(cudaStreamSynchronize(current_stream(device))); }

StreamGuard::StreamGuard(cudaStream_t stream, int device) : device_(resolve(device)) {
  check_device(device_);
  previous_ = t_stream_override[device_];
  t_stream_override[device_] = stream;
}

StreamGuard::~StreamGuard() { t_stream_override[device_] = previous_; }

}  // namespace ebm::cuda
