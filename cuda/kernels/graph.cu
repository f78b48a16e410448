// The device-side state of captured CUDA graphs (cuda/graph.h): before each replay, the graph
// writes the {seed, base offset} of every generator it draws from with this kernel, queued on the
// replay's stream ahead of the graph launch. A kernel rather than a copy from host memory, so
// the values travel as launch arguments: nothing is staged through pageable memory and the host
// never waits.
#include <cuda_runtime.h>

#include <cstdint>

#include "core/common.h"
#include "cuda/check.h"
#include "cuda/graph.h"

namespace ebm::cuda {

namespace {

__global__ void write_philox_state_kernel(uint64_t* state, uint64_t seed, uint64_t offset) {
  state[0] = seed;
  state[1] = offset;
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// launchers

void write_philox_state(uint64_t* state, uint64_t seed, uint64_t offset, StreamHandle stream) {
  EBM_CHECK(state != nullptr && reinterpret_cast<uintptr_t>(state) % alignof(uint64_t) == 0,
            ValueError, "cuda::write_philox_state: state pointer ", state,
            " is null or not 8-byte aligned");
  write_philox_state_kernel<<<1, 1, 0, stream>>>(state, seed, offset);
  EBM_CUDA_CHECK_LAUNCH();
}

}  // namespace ebm::cuda
