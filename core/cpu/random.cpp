// CPU backend of the random fills: parallel loops over groups of four elements, each calling the
// shared EBM_HD group functor of core/ops/random.h, so the values equal the CUDA fills and
// cuRAND's Philox stream bit for bit whatever the thread count. In a CUDA build a cuda tensor
// goes, after the same checks, to the op fills of cuda/philox_fill.h (the same functors, one
// thread per group) on its device's current stream.
#include "core/ops/random.h"

#include <cmath>
#include <type_traits>

#include "core/cpu/parallel.h"
#include "core/ops/dispatch.h"

#if defined(EBM_WITH_CUDA)
#include "cuda/philox_fill.h"
#include "cuda/stream.h"
#endif

namespace ebm::ops {

namespace {

// Cost of one group in "elementwise op" units (two Philox blocks at most, plus conversions),
// for the parallel grain.
constexpr int64_t kGroupCost = 32;

// Checks a fill's target; true when it goes to the CUDA backend (a cuda tensor in a CUDA build;
// a CPU-only build refuses a cuda tensor here with a DeviceError).
bool check_fill_target(const Tensor& t, const char* op) {
  check_defined(t, op, "t");
  check_float(t, op, "t");
#if defined(EBM_WITH_CUDA)
  if (t.device().is_cuda()) return true;
#endif
  require_cpu(t, op);
  return false;
}

#if defined(EBM_WITH_CUDA)
// Runs launch(T* out, stream) for t's dtype on t's device and current stream.
template <class Launch>
void launch_on(const Tensor& t, const char* op, Launch&& launch) {
  const int dev = t.device().index;
  cuda::DeviceGuard guard(dev);
  EBM_DISPATCH_FLOAT(t.dtype(), op, [&] {
    launch(static_cast<T*>(t.data_ptr()), cuda::current_stream(dev));
  });
}
#endif

template <class F>
void for_each_group(int64_t n, F&& f) {
  cpu::parallel_for(random_groups(n), kGroupCost, [&](int64_t lo, int64_t hi) {
    for (int64_t g = lo; g < hi; ++g) f(g);
  });
}

}  // namespace

void fill_uniform_(Tensor& t, uint64_t seed, uint64_t offset, double lo, double hi) {
  const bool cuda = check_fill_target(t, "fill_uniform_");
  EBM_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo <= hi, ValueError,
            "fill_uniform_: need finite lo <= hi, got lo = ", lo, ", hi = ", hi);
  t.bump_version();
  int64_t n = t.numel();
#if defined(EBM_WITH_CUDA)
  if (cuda) {
    launch_on(t, "fill_uniform_", [&](auto* p, cuda::StreamHandle stream) {
      using T = std::remove_pointer_t<decltype(p)>;
      cuda::fill_uniform(p, n, seed, offset, static_cast<T>(lo), static_cast<T>(hi - lo), stream);
    });
    return;
  }
#endif
  (void)cuda;
  EBM_DISPATCH_FLOAT(t.dtype(), "fill_uniform_", [&] {
    T* p = t.data<T>();
    T tlo = static_cast<T>(lo), span = static_cast<T>(hi - lo);
    for_each_group(n, [&](int64_t g) { uniform_group<T>(p, n, g, seed, offset, tlo, span); });
  });
}

void fill_normal_(Tensor& t, uint64_t seed, uint64_t offset, double mean, double stddev) {
  const bool cuda = check_fill_target(t, "fill_normal_");
  EBM_CHECK(std::isfinite(mean) && std::isfinite(stddev) && stddev >= 0, ValueError,
            "fill_normal_: need a finite mean and a finite stddev >= 0, got mean = ", mean,
            ", stddev = ", stddev);
  t.bump_version();
  int64_t n = t.numel();
#if defined(EBM_WITH_CUDA)
  if (cuda) {
    launch_on(t, "fill_normal_", [&](auto* p, cuda::StreamHandle stream) {
      using T = std::remove_pointer_t<decltype(p)>;
      cuda::fill_normal(p, n, seed, offset, static_cast<T>(mean), static_cast<T>(stddev), stream);
    });
    return;
  }
#endif
  (void)cuda;
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
  const bool cuda = check_fill_target(t, "dropout_mask");
  int64_t n = t.numel();
  double scale = p < 1.0 ? 1.0 / (1.0 - p) : 0.0;
#if defined(EBM_WITH_CUDA)
  if (cuda) {
    launch_on(t, "dropout_mask", [&](auto* m, cuda::StreamHandle stream) {
      using T = std::remove_pointer_t<decltype(m)>;
      cuda::fill_dropout_mask(m, n, seed, offset, p, static_cast<T>(scale), stream);
    });
    return t;
  }
#endif
  (void)cuda;
  EBM_DISPATCH_FLOAT(dtype, "dropout_mask", [&] {
    T* m = t.data<T>();
    T s = static_cast<T>(scale);
    for_each_group(n, [&](int64_t g) { dropout_group<T>(m, n, g, seed, offset, p, s); });
  });
  return t;
}

}  // namespace ebm::ops
