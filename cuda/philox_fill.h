// Launchers of the Philox fill kernels (kernels/philox_fill.cu): fill device buffers with the same
// Philox4x32-10 stream as core/philox.h, so CPU and GPU draw the same noise for the same
// (seed, offset). Plain C++: the stream is an opaque CUstream_st*, which is what cudaStream_t is,
// so callers pass cuda::current_stream() (or any cudaStream_t) without CUDA headers here.
//
// Results: words and uniforms equal core/philox.h bit for bit; normals equal it up to the GPU's
// sinf/cosf/logf accuracy (a few float ulp; see tests/cuda/test_philox_fill.cpp).
// All launchers are asynchronous on `stream`, check the launch, and launch nothing for n == 0.
#pragma once

#include <cstdint>

struct CUstream_st;

namespace ebm::cuda {

using StreamHandle = CUstream_st*;

// out[i] = philox::word(seed, offset + i), i < n. out: device memory, 4-byte aligned.
void philox_fill_words(uint32_t* out, int64_t n, uint64_t seed, uint64_t offset,
                       StreamHandle stream);
// out[i] = low + (high - low) * philox::uniform(seed, offset, i), as one fused multiply-add
// (low = 0, high = 1 gives philox::uniform exactly).
void philox_fill_uniform(float* out, int64_t n, uint64_t seed, uint64_t offset, float low,
                         float high, StreamHandle stream);
// out[i] = mean + std * philox::normal(seed, offset, i), as one fused multiply-add.
void philox_fill_normal(float* out, int64_t n, uint64_t seed, uint64_t offset, float mean,
                        float std, StreamHandle stream);

}  // namespace ebm::cuda
