// The CUDA side of graph capture (the public guard and graph are core/graph.h, implemented in
// graph.cpp): what the engine's CUDA code asks while a capture may be open. Plain C++ like
// stream.h, so core/cpu/*.cpp (in a CUDA build) and device_hooks.cpp use it without CUDA headers.
//
// Randomness inside a capture: a kernel that draws from a Generator gets a PhiloxDraw from
// philox_draw(). Outside a capture it is the eager (seed, offset) and `state` is null. Inside,
// `state` points at the graph's device-side {seed, base offset} for that generator (8-byte
// aligned, in the graph's private pool) and `offset` is the draw's offset relative to the base
// (core/random.h's CapturedGenerator); the kernel draws from (state[0], state[1] + offset), and
// before each launch the graph writes the replay's {seed, base} there with write_philox_state.
#pragma once

#include <cstdint>

#include "core/graph.h"
#include "core/random.h"
#include "cuda/stream.h"

namespace ebm::cuda {

// Whether this thread has a capture open on `device` (CudaGraphCapture).
bool capturing(int device);
// Whether `stream` is being captured (by anyone; also when that capture was invalidated).
bool stream_capturing(StreamHandle stream);

struct PhiloxDraw {
  uint64_t seed = 0;
  uint64_t offset = 0;
  const uint64_t* state = nullptr;  // a captured graph's {seed, base offset}, or null (eager)
};
// Reserves `words` stream words from gen for work queued on `device` by this thread (see above).
// Throws ValueError when gen was reseeded since the capture first drew from it.
PhiloxDraw philox_draw(Generator& gen, uint64_t words, int device);

// state[0] = seed, state[1] = offset, queued on `stream` (kernels/graph.cu): one tiny kernel, so
// the values travel as launch arguments and the host never waits.
void write_philox_state(uint64_t* state, uint64_t seed, uint64_t offset, StreamHandle stream);

// For the scope, this thread may make the calls that an open capture otherwise forbids it
// (cudaStreamCaptureModeRelaxed): cudaMalloc of a graph pool's segment (not a stream operation,
// so not recorded and harmless to the capture) and waits on events recorded outside a capture.
class RelaxedCaptureMode {
 public:
  RelaxedCaptureMode();   // throws CudaError when the mode cannot be set
  ~RelaxedCaptureMode();  // restores the previous mode
  RelaxedCaptureMode(const RelaxedCaptureMode&) = delete;
  RelaxedCaptureMode& operator=(const RelaxedCaptureMode&) = delete;

 private:
  int previous_;  // a cudaStreamCaptureMode
};

}  // namespace ebm::cuda
