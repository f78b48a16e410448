// Random fills from the counter-based Philox stream (core/philox.h): uniform, normal and the
// dropout mask. Element i of a fill with (seed, offset) is drawn from stream word offset + i
// (normals: the Box–Muller pair of words offset + 2j, offset + 2j + 1 gives elements 2j, 2j+1),
// so the result depends only on (seed, offset, i), never on threads or on the backend. The
// arithmetic is the EBM_HD group functors below, shared by the CPU loop and the CUDA kernels.
#pragma once

#include "core/philox.h"
#include "core/random.h"
#include "core/tensor.h"

namespace ebm {

// Words [w, w + 4) of the stream of seed: one Philox block when w is a multiple of 4 (the case
// Generator::reserve guarantees), else the tail of one block and the head of the next.
EBM_HD philox::U32x4 philox_words4(uint64_t seed, uint64_t w) {
  philox::U32x4 a = philox::block_at(seed, w >> 2);
  unsigned s = static_cast<unsigned>(w & 3);
  if (s == 0) return a;
  philox::U32x4 b = philox::block_at(seed, (w >> 2) + 1);
  philox::U32x4 r;
  for (unsigned k = 0; k < 4; ++k) r.v[k] = s + k < 4 ? a.v[s + k] : b.v[s + k - 4];
  return r;
}

// The fills work on groups of four elements: group g writes elements [4g, min(4g + 4, n)) of
// out, so a fill of n elements has random_groups(n) groups (one CUDA thread each).
EBM_HD int64_t random_groups(int64_t n) { return (n + 3) / 4; }

// Uniform on (lo, lo + span]: philox::uniform (cuRAND's (0, 1] conversion, in float32) mapped
// as u * span + lo in T (rounding can give lo itself when u * span is below half an ulp of lo).
// float64 fills use the same float32 draws, so a float64 tensor holds exactly the float32
// tensor's values (for lo = 0, span = 1).
template <class T>
EBM_HD void uniform_group(T* out, int64_t n, int64_t g, uint64_t seed, uint64_t offset, T lo,
                          T span) {
  philox::U32x4 w = philox_words4(seed, offset + 4 * static_cast<uint64_t>(g));
  for (int k = 0; k < 4; ++k) {
    int64_t i = 4 * g + k;
    if (i < n) out[i] = philox::uniform_scaled<T>(w.v[k], lo, span);
  }
}

// Normal with the given mean and standard deviation: cuRAND's Box–Muller (philox::normal) in
// float32, then z * stddev + mean in T. Like cuRAND's generateNormal, adding the mean turns the
// -0 that Box–Muller gives for u = 1 into +0, so float32 fills with (0, 1) equal cuRAND's bits.
template <class T>
EBM_HD void normal_group(T* out, int64_t n, int64_t g, uint64_t seed, uint64_t offset, T mean,
                         T stddev) {
  philox::U32x4 w = philox_words4(seed, offset + 4 * static_cast<uint64_t>(g));
  float z[4];  // both pairs even in a partial last group: no branch, no uninitialised lanes
  philox::box_muller(w.v[0], w.v[1], z[0], z[1]);
  philox::box_muller(w.v[2], w.v[3], z[2], z[3]);
  for (int k = 0; k < 4; ++k) {
    int64_t i = 4 * g + k;
    if (i < n) out[i] = philox::normal_scaled<T>(z[k], mean, stddev);
  }
}

// Inverted-dropout mask: scale where the uniform draw u (in (0, 1]) exceeds p, else 0. The
// comparison is done in double, so float32 and float64 masks keep the same elements.
template <class T>
EBM_HD void dropout_group(T* out, int64_t n, int64_t g, uint64_t seed, uint64_t offset, double p,
                          T scale) {
  philox::U32x4 w = philox_words4(seed, offset + 4 * static_cast<uint64_t>(g));
  for (int k = 0; k < 4; ++k) {
    int64_t i = 4 * g + k;
    if (i < n) out[i] = static_cast<double>(philox::to_uniform(w.v[k])) > p ? scale : T(0);
  }
}

namespace ops {

// Stream words a fill of n elements consumes (normals use whole Box–Muller pairs).
inline uint64_t uniform_words(int64_t n) { return static_cast<uint64_t>(n); }
inline uint64_t normal_words(int64_t n) { return static_cast<uint64_t>(n + (n & 1)); }

// In place, float32 or float64: t[i] = uniform on (lo, hi] (up to rounding; rand's (0, 1] is
// exact) / normal(mean, stddev) from the stream (seed, offset). Bumps t's version.
void fill_uniform_(Tensor& t, uint64_t seed, uint64_t offset, double lo = 0.0,
                   double hi = 1.0);
void fill_normal_(Tensor& t, uint64_t seed, uint64_t offset, double mean = 0.0,
                  double stddev = 1.0);
// The same, drawing (seed, offset) from gen and advancing it (gen.reserve): the allocation-free
// form for noise buffers that are refilled every sampler step.
void fill_uniform_(Tensor& t, Generator& gen, double lo = 0.0, double hi = 1.0);
void fill_normal_(Tensor& t, Generator& gen, double mean = 0.0, double stddev = 1.0);

// New tensors from gen (like torch.rand / torch.randn with a generator).
Tensor rand(const Shape& shape, Generator& gen, DType dtype = DType::Float32,
            Device device = Device::cpu());
Tensor randn(const Shape& shape, Generator& gen, DType dtype = DType::Float32,
             Device device = Device::cpu());
Tensor uniform(const Shape& shape, Generator& gen, double lo, double hi,
               DType dtype = DType::Float32, Device device = Device::cpu());
Tensor normal(const Shape& shape, Generator& gen, double mean, double stddev,
              DType dtype = DType::Float32, Device device = Device::cpu());

// Inverted-dropout mask (PyTorch semantics): element i is 1/(1-p) where uniform_i > p, else 0,
// with uniform_i drawn from word offset + i of the stream of seed. 0 <= p <= 1; p = 1 gives
// all zeros. Consumes uniform_words(shape.numel()) words.
Tensor dropout_mask(const Shape& shape, double p, uint64_t seed, uint64_t offset,
                    DType dtype = DType::Float32, Device device = Device::cpu());

}  // namespace ops
}  // namespace ebm
