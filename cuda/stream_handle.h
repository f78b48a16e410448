// The engine's current stream as an opaque handle, for code outside cuda/ that must not include
// CUDA headers (the op entry points in core/cpu/*.cpp). CUstream_st* is what cudaStream_t is, so
// a StreamHandle passes straight to launchers and CUDA calls.
#pragma once

struct CUstream_st;

namespace ebm::cuda {

using StreamHandle = CUstream_st*;

// cuda::current_stream(device) (cuda/device.h): the thread's StreamGuard override, else the
// device's default non-blocking stream. Throws DeviceError when the device is not usable.
StreamHandle stream_for(int device);

}  // namespace ebm::cuda
