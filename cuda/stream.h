// The current device and the engine's streams, as plain C++ (no CUDA headers), so that core's op
// dispatch (core/cpu/*.cpp, in a CUDA build) can make a tensor's device current and hand its
// stream to a launcher. cudaStream_t is CUstream_st*, so these are the very declarations that
// cuda/device.h re-exports with its CUDA-typed helpers (implemented in device.cpp).
//
// Each device has one default stream, created on first use with cudaStreamNonBlocking so that it
// never serialises against the legacy NULL stream; all engine work (kernels, copies, memsets) is
// queued on current_stream(), which a StreamGuard can redirect for one thread (e.g. to a capture
// stream for CUDA graphs).
#pragma once

struct CUstream_st;

namespace ebm::cuda {

// A cudaStream_t under its plain-C++ name.
using StreamHandle = CUstream_st*;

int current_device();

// Makes `device` current for the scope and restores the previous one (only calls the runtime
// when they differ). Throws DeviceError, with the reason, when `device` is not usable.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
};

// The stream engine work on `device` (default: the current device) goes to: the thread's
// StreamGuard override if any, else the device's default non-blocking stream.
StreamHandle current_stream(int device = -1);
// Waits for everything queued on current_stream(device).
void synchronize(int device = -1);

// Redirects current_stream(device) to `stream` for this thread and scope.
class StreamGuard {
 public:
  StreamGuard(StreamHandle stream, int device = -1);
  ~StreamGuard();
  StreamGuard(const StreamGuard&) = delete;
  StreamGuard& operator=(const StreamGuard&) = delete;

 private:
  int device_;
  StreamHandle previous_;
};

}  // namespace ebm::cuda
