// A kernel that does nothing, so that device detection can ask the runtime whether this build
// carries code (sm_XY SASS or compute_XY PTX it can JIT) for the GPU at hand.
#include "cuda/device.h"

namespace ebm::cuda {

namespace {
__global__ void probe_kernel() {}
}  // namespace

cudaError_t probe_kernel_image(int device) {
  int previous = -1;
  cudaError_t err = cudaGetDevice(&previous);
  if (err == cudaSuccess && previous != device) err = cudaSetDevice(device);
  if (err != cudaSuccess) return err;
  cudaFuncAttributes attr;
  err = cudaFuncGetAttributes(&attr, probe_kernel);
  if (previous != device) cudaSetDevice(previous);
  cudaGetLastError();  // the probe's failure is an answer, not a pending error
  return err;
}

}  // namespace ebm::cuda
