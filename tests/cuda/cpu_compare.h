// Helpers for GPU tests that compare with the CPU backend: the norm-wise relative error of a
// result, the tolerances for float32 with and without TF32, and raw device copies of host
// tensors for tests that call the cuda:: launchers on poisoned buffers directly.
#pragma once

#include <cmath>
#include <memory>
#include <vector>

#include "core/tensor.h"
#include "cuda_test_util.h"

namespace ebm::test {

// ||got - want||₂ / ||want||₂ over all elements (0 when both are zero). NaN anywhere (poison left
// unwritten) gives infinity, so it fails every tolerance.
inline double rel_error(const std::vector<double>& got, const std::vector<double>& want) {
  if (got.size() != want.size()) return INFINITY;
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(got[i])) return INFINITY;
    num += (got[i] - want[i]) * (got[i] - want[i]);
    den += want[i] * want[i];
  }
  if (den == 0) return num == 0 ? 0.0 : INFINITY;
  return std::sqrt(num / den);
}
inline double rel_error(const Tensor& got, const Tensor& want) {
  if (got.shape() != want.shape()) return INFINITY;
  return rel_error(got.to_vector<double>(), want.to_vector<double>());
}

// Tolerances on rel_error against the CPU for sums of K products of random O(1) values.
// float32, TF32 off: both sides round each of the K partial sums (unit roundoff u = 2^-24 ≈
// 6e-8), in different orders; with random signs the errors add like a random walk, so the
// norm-wise difference is at most about sqrt(K)·u and in practice a few times less (blocked
// GEMMs keep partial sums short). The largest K in these tests is the backward filter of the
// CIFAR-sized conv layer, 8·32·32 = 8192 terms: sqrt(K)·u = 5.4e-6, so 1e-5 leaves a factor of 2
// on that rough upper estimate and ~7 on the 3x3x64 = 576-term forward. An indexing bug gives O(1).
constexpr double kTolFloat32 = 1e-5;
// float32 with TF32: inputs are rounded to 10-bit mantissas (u = 2^-11 ≈ 4.9e-4) before the
// products; each product carries an independent relative error of about sqrt(2)·u, which does
// not grow with K in the norm-wise measure: about 7e-4, so 5e-3 has a margin of ~7.
constexpr double kTolTF32 = 5e-3;
// float64: sqrt(K)·2^-53 ≈ 3e-15 for K = 576; 1e-12 leaves room for K into the millions.
constexpr double kTolFloat64 = 1e-12;

// Host tensor data copied into a fresh device buffer (for the raw-launcher tests), on the
// engine's stream, which is then synchronised (the stream does not wait for the legacy one).
template <class T>
std::unique_ptr<DeviceBuffer<T>> upload(const Tensor& host) {
  std::vector<T> v = host.to_vector<T>();
  auto buf = std::make_unique<DeviceBuffer<T>>(v.size());
  cudaStream_t s = cuda::current_stream();
  if (!v.empty())
    EBM_CUDA_CHECK(cudaMemcpyAsync(buf->get(), v.data(), v.size() * sizeof(T),
                                   cudaMemcpyHostToDevice, s));
  EBM_CUDA_CHECK(cudaStreamSynchronize(s));
  return buf;
}

// All n elements of a device buffer as doubles.
template <class T>
std::vector<double> download(const DeviceBuffer<T>& buf, size_t n) {
  std::vector<T> v = buf.download(0, n);
  return std::vector<double>(v.begin(), v.end());
}

}  // namespace ebm::test
