// Launcher of the fused Langevin update (kernels/langevin.cu; the arithmetic and the per-thread
// body are core/ops/langevin.h). Plain C++: the stream is cuda/stream.h's StreamHandle (what
// cudaStream_t is), so core/cpu/langevin.cpp calls in without CUDA headers.
//
// Contract of the launcher: float32 device memory; every pointer 4-byte aligned (int64 levels
// 8-byte); out == x (in place) or not overlapping any input; grad may be null only in Noise mode,
// x_tilde, level and table are read only in Drl mode (then non-null); args.philox_state, when
// set, 8-byte aligned device memory holding {seed, base offset} (a captured graph's, see
// LangevinArgs); memory of the current device. When x, out, grad and x_tilde are all 16-byte aligned the kernel moves four elements per
// 16-byte load/store, else it uses scalar accesses (same results). Asynchronous on the stream;
// nothing launched for n == 0. Throws ValueError for bad arguments, CudaError for a failed launch.
#pragma once

#include <cstdint>

#include "core/ops/langevin.h"
#include "cuda/stream.h"

namespace ebm::cuda {

// One update of args.n elements on `stream` (ops::langevin_step_ passes current_stream()).
void langevin_step(LangevinMode mode, bool add_noise, const LangevinArgs<float>& args,
                   const LangevinPtrs<float>& ptrs, StreamHandle stream);

// The grid the launcher uses on `device` (shared with tests and benchmarks).
LangevinLaunchDims langevin_launch_dims_for(int device, int64_t n);

}  // namespace ebm::cuda
