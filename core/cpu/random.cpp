// CPU backend of the random fills: parallel loops over groups of four elements, each calling the
// shared EBM_HD group functor of core/ops/random.h, so the values equal the CUDA fills and
// cuRAND's Philox stream bit for bit whatever the thread count.
#include "core/ops/random.h"

#include <cmath>

#include "core/cpu/parallel.h"
#include "core/ops/dispatch.h"

namespace ebm::ops {

namespace {

// Cost of one group in "elementwise op" units (two Philox blocks at most, plus conversions),
// for the parallel grain.
constexpr int64_t kGroupCost = 32;

void check_fill_target(const Tensor& t, const char* op) {
  check_defined(t, op, "t");
  check_float(t, op, "t");
  require_cpu(t, op);
}

template <class F>
void for_each_group(int64_t n, F&& f) {
  cpu::parallel_for(random_groups(n), kGroupCost, [&](int64_t lo, int64_t hi) {
    for (int64_t g = lo; g < hi; ++g) f(g);
  });
}

}  // namespace

void fill_uniform_(Tensor& t, uint64_t seed, uint64_t offset, double lo, double hi) {
  check_fill_target(t, "fill_uniform_");
  EBM_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo <= hi, ValueError,
            "fill_uniform_: need finite lo <= hi, got lo = ", lo, ", hi = ", hi);
  t.bump_version();
  int64_t n = t.numel();
  EBM_DISPATCH_FLOAT(t.dtype(), "fill_uniform_", [&] {
    T* p = t.data<T>();
    T tlo = static_cast<T>(lo), span = static_cast<T>(hi - lo);
    for_each_group(n, [&](int64_t g) { uniform_group<T>(p, n, g, seed, offset, tlo, span); });
  });
}

void fill_normal_(Tensor& t, uint64_t seed, uint64_t offset, double mean, double stddev) {
  check_fill_target(t, "fill_normal_");
  EBM_CHECK(std::isfinite(mean) && std::isfinite(stddev) && stddev >= 0, ValueError,
            "fill_normal_: need a finite mean and a finite stddev >= 0, got mean = ", mean,
            ", stddev = ", stddev);
  t.bump_version();
  int64_t n = t.numel();
  EBM_DISPATCH_FLOAT(t.dtype(), "fill_normal_", [&] {
    T* p = t.data<T>();
    T m = static_cast<T>(mean), s = static_cast<T>(stddev);
    for_each_group(n, [&](int64_t g) { normal_group<T>(p, n, g, seed, offset, m, s); });
  });
}

void fill_uniform_(Tensor& t, Generator& gen, double lo, double hi) {
  check_fill_target(t, "fill_uniform_");
  uint64_t offset = gen.reserve(uniform_words(t.numel()));
  fill_uniform_(t, gen.seed(), offset, lo, hi);
}

void fill_normal_(Tensor& t, Generator& gen, double mean, double stddev) {
  check_fill_target(t, "fill_normal_");
  uint64_t offset = gen.reserve(normal_words(t.numel()));
  fill_normal_(t, gen.seed(), offset, mean, stddev);
}

Tensor rand(const Shape& shape, Generator& gen, DType dtype, Device device) {
  return uniform(shape, gen, 0.0, 1.0, dtype, device);
}

Tensor randn(const Shape& shape, Generator& gen, DType dtype, Device device) {
  return normal(shape, gen, 0.0, 1.0, dtype, device);
}

Tensor uniform(const Shape& shape, Generator& gen, double lo, double hi, DType dtype,
               Device device) {
  Tensor t = Tensor::empty(shape, dtype, device);
  fill_uniform_(t, gen, lo, hi);
  return t;
}

Tensor normal(const Shape& shape, Generator& gen, double mean, double stddev, DType dtype,
              Device device) {
  Tensor t = Tensor::empty(shape, dtype, device);
  fill_normal_(t, gen, mean, stddev);
  return t;
}

Tensor dropout_mask(const Shape& shape, double p, uint64_t seed, uint64_t offset, DType dtype,
                    Device device) {
  EBM_CHECK(p >= 0.0 && p <= 1.0, ValueError,
            "dropout_mask: the drop probability p must lie in [0, 1], got p = ", p);
  Tensor t = Tensor::empty(shape, dtype, device);
  check_fill_target(t, "dropout_mask");
  int64_t n = t.numel();
  double scale = p < 1.0 ? 1.0 / (1.0 - p) : 0.0;
  EBM_DISPATCH_FLOAT(dtype, "dropout_mask", [&] {
    T* m = t.data<T>();
    T s = static_cast<T>(scale);
    for_each_group(n, [&](int64_t g) { dropout_group<T>(m, n, g, seed, offset, p, s); });
  });
  return t;
}

}  // namespace ebm::ops
