// Launchers of the Philox fill kernels (kernels/philox_fill.cu): fill device buffers with the same
// Philox4x32-10 stream as core/philox.h, so CPU and GPU draw the same noise for the same
// (seed, offset). Plain C++: the stream is cuda/stream.h's StreamHandle (an opaque CUstream_st*,
// which is what cudaStream_t is), so callers pass cuda::current_stream() (or any cudaStream_t)
// without CUDA headers here.
//
// Two families, both bit for bit equal to the CPU:
//  - raw float32 fills (philox_fill_*): words, uniforms and normals of core/philox.h, with one
//    Philox block per thread and 16-byte stores (benchmarks, tests of the stream itself);
//  - the op fills (fill_uniform, fill_normal, fill_dropout_mask): the CUDA backend of
//    ops::fill_uniform_ / fill_normal_ / dropout_mask (and through them ops::rand, randn, uniform,
//    normal and autograd's dropout) in float32 and float64, running the group functors of
//    core/ops/random.h that the CPU loop runs.
// Normals are bit-identical too: Box–Muller uses core/math.h's portable log/sin/cos, built only
// from correctly rounded, never-fused float operations (tests/cuda/test_philox_fill.cpp and
// tests/cuda/test_random_cuda.cpp check this on a GPU; tests/cpu/test_philox_fill_body.cpp runs
// the kernels' bodies on the CPU).
// All launchers are asynchronous on `stream`, check their arguments and the launch, and launch
// nothing for n == 0. Output pointers must be aligned to their element type.
#pragma once

#include <cstdint>

#include "cuda/stream.h"  // StreamHandle

namespace ebm::cuda {

// out[i] = philox::word(seed, offset + i), i < n. out: device memory, 4-byte aligned.
void philox_fill_words(uint32_t* out, int64_t n, uint64_t seed, uint64_t offset,
                       StreamHandle stream);
// out[i] = philox::uniform(seed, offset, i) * (high - low) + low with two roundings, never fused
// (philox::uniform_scaled; low = 0, high = 1 gives philox::uniform exactly).
void philox_fill_uniform(float* out, int64_t n, uint64_t seed, uint64_t offset, float low,
                         float high, StreamHandle stream);
// out[i] = philox::normal(seed, offset, i) * std + mean with two roundings, never fused
// (philox::normal_scaled).
void philox_fill_normal(float* out, int64_t n, uint64_t seed, uint64_t offset, float mean,
                        float std, StreamHandle stream);

// ops::fill_uniform_ with lo and span = hi - lo (uniform_group): out[i], i < n.
void fill_uniform(float* out, int64_t n, uint64_t seed, uint64_t offset, float lo, float span,
                  StreamHandle stream);
void fill_uniform(double* out, int64_t n, uint64_t seed, uint64_t offset, double lo, double span,
                  StreamHandle stream);
// ops::fill_normal_ (normal_group).
void fill_normal(float* out, int64_t n, uint64_t seed, uint64_t offset, float mean, float stddev,
                 StreamHandle stream);
void fill_normal(double* out, int64_t n, uint64_t seed, uint64_t offset, double mean,
                 double stddev, StreamHandle stream);
// ops::dropout_mask: scale where the uniform draw exceeds p, else 0 (dropout_group).
void fill_dropout_mask(float* out, int64_t n, uint64_t seed, uint64_t offset, double p,
                       float scale, StreamHandle stream);
void fill_dropout_mask(double* out, int64_t n, uint64_t seed, uint64_t offset, double p,
                       double scale, StreamHandle stream);

}  // namespace ebm::cuda
