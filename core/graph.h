// CUDA graphs as a scoped capture guard (style.md practice 10): the engine work a region queues
// on a device (e.g. a K-step Langevin chain: gradient, fused update, K times) is captured once
// into a graph and then replayed with one launch, without re-running the host code. Plain C++,
// so samplers and apps use it without CUDA headers; cuda/graph.cpp implements it, and a build
// without CUDA (core/no_cuda.cpp) throws DeviceError "not compiled with CUDA".
//
//   Generator gen(seed);
//   run_chain(x, gen);                         // one eager run first: warms caches and the pool
//   CudaGraphCapture capture(x.device());      // engine work now goes to a capture stream
//   run_chain(x, gen);                         // recorded, not run (gen is left as it was)
//   CudaGraph chain = capture.end();           // instantiated once
//   for (int i = 0; i < iterations; ++i) {
//     chain.replay();                          // = run_chain(x, gen), one launch
//     ...                                      // x holds the result (read it in stream order)
//   }
//
// Rules of a captured region (CUDA's, and the engine's):
//  - Fixed shapes and fixed buffers: a replay re-runs the same kernels on the same addresses.
//    Tensors made before the capture and used inside (x above, the network's weights) must stay
//    alive and in place while the graph is replayed; write new inputs into them with copy_.
//    Tensors made inside come from the graph's private pool, keep their addresses, and hold the
//    last replay's values afterwards (each replay rewrites them); they stay valid after the
//    graph is destroyed, until they are freed.
//  - No host synchronisation: Tensor::to(cpu), to_vector, item(), Tensor::from_vector onto the
//    device, cuda::synchronize() and the first cuDNN call of a new convolution shape (its
//    algorithm search) are not allowed. They throw CudaError (copies say they are inside a
//    capture; CUDA's own calls fail with "operation not permitted when stream is capturing"),
//    and end() reports a capture invalidated by a raw CUDA call whose error was ignored. Run one
//    eager step before capturing.
//  - Randomness: ops::langevin_step_ with a Generator records its draws relative to the
//    generator's offset; the capture leaves the generator where it was, and every replay
//    reserves the same number of words from it, so replay k draws exactly the noise the k-th
//    eager run from the same generator state would (and follows a manual_seed made between
//    replays). The generator must outlive the graph. Draws with an explicit (seed, offset) are
//    baked in: every replay repeats them.
//  - Memory: replays allocate nothing. The capture's allocations come from whole segments of
//    the device pool's cache (a cudaMalloc only when none is free), which go back when the
//    graph and the tensors made inside are gone; CudaPoolStats::graph_bytes counts them.
//  - One capture per device per thread at a time; replay() on the capturing thread and device
//    is refused while a capture is open there.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/device.h"
#include "core/device_hooks.h"

namespace ebm {

// An instantiated CUDA graph. Move-only; destroying it waits for its replays to finish, then
// returns its memory to the device pool.
class CudaGraph {
 public:
  CudaGraph();  // empty: valid() is false
  ~CudaGraph();
  CudaGraph(CudaGraph&& other) noexcept;
  CudaGraph& operator=(CudaGraph&& other) noexcept;
  CudaGraph(const CudaGraph&) = delete;
  CudaGraph& operator=(const CudaGraph&) = delete;

  bool valid() const { return impl_ != nullptr; }
  Device device() const;
  // Queues one run of the captured work on the device's current stream (asynchronous; reserves
  // the generators' words first). Throws ValueError for an empty graph, DeviceError while this
  // thread captures on the device, CudaError when the launch fails.
  void replay();
  int64_t replays() const;  // replays so far
  size_t nodes() const;     // kernels, copies and memsets the capture recorded
  // The private pool's counters: reserved = segments lent by the device pool, allocated = the
  // capture's blocks still in use (tensors made in the capture and not yet freed).
  device_hooks::CudaPoolStats memory_stats() const;

  struct Impl;

 private:
  friend class CudaGraphCapture;
  explicit CudaGraph(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The scoped guard: from construction to end(), this thread's engine work on `device` goes to a
// fresh non-blocking capture stream (cuda/stream.h's current_stream returns it) and is recorded
// instead of run. end() stops the capture and instantiates the graph; a guard destroyed without
// end() (an exception inside the region) discards the capture and restores everything.
class CudaGraphCapture {
 public:
  // Throws ValueError for a CPU device, DeviceError when CUDA is unavailable (with the reason,
  // e.g. "not compiled with CUDA", "no CUDA device") or a capture is already open on the device
  // in this thread.
  explicit CudaGraphCapture(Device device = Device::cuda());
  ~CudaGraphCapture();
  CudaGraphCapture(const CudaGraphCapture&) = delete;
  CudaGraphCapture& operator=(const CudaGraphCapture&) = delete;

  // Ends the capture (at most once) and instantiates the graph. Throws CudaError when the
  // capture was invalidated (e.g. by a host synchronisation inside the region) or cannot be
  // instantiated; the guard is then closed all the same.
  CudaGraph end();
  bool active() const;  // capturing: constructed and end() not called yet
  Device device() const { return device_; }

  struct Impl;

 private:
  Device device_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ebm
