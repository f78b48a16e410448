// Launcher of spectral normalisation's batched power iteration (kernels/spectral_norm.cu; the
// arithmetic, the geometry and the op are core/ops/spectral_norm.h). Plain C++ (no CUDA headers),
// like cuda/reduce.h: core/cpu/spectral_norm.cpp calls in with raw pointers and current_stream().
//
// Contract: every pointer is device memory of the current device; weights are read only; u [rows]
// and v [cols] of each layer are updated in place and must not overlap each other, any weight or
// other layers' buffers (the op checks this). sigma has n elements; uv_copy, when not null, has
// Σ (rows + cols) elements laid out u_0, v_0, u_1, v_1, ... and receives the final u and v. The
// workspace (spectral_norm_workspace_bytes, 8-byte aligned) is scratch for the call's kernels,
// which are queued asynchronously on `stream` (stream-ordered reuse afterwards is safe). Layers
// go in groups of kSnMaxLayersPerLaunch (the layer table travels as a kernel parameter, so there
// is no host-to-device copy and the launches can be captured into a CUDA graph); each group is
// 4·n_iter + 1 launches. Throws ValueError for bad arguments, CudaError for a failed launch.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/ops/spectral_norm.h"
#include "cuda/stream.h"

namespace ebm::cuda {

constexpr int kSnMaxLayersPerLaunch = 64;

// Workspace bytes for these n layers (the largest group's).
size_t spectral_norm_workspace_bytes(const SpectralNormPtrs<float>* layers, int64_t n);
size_t spectral_norm_workspace_bytes(const SpectralNormPtrs<double>* layers, int64_t n);

// n_iter >= 0 power iterations on every layer, then sigma[l] = u_lᵀ W_l v_l.
void spectral_norm_power_iteration(const SpectralNormPtrs<float>* layers, int64_t n, int n_iter,
                                   double eps, float* sigma, float* uv_copy, void* workspace,
                                   size_t workspace_bytes, StreamHandle stream);
void spectral_norm_power_iteration(const SpectralNormPtrs<double>* layers, int64_t n, int n_iter,
                                   double eps, double* sigma, double* uv_copy, void* workspace,
                                   size_t workspace_bytes, StreamHandle stream);

}  // namespace ebm::cuda
