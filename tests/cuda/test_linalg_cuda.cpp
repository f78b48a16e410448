// matmul and linear on cuda tensors (cuBLAS, cuda/blas.h) against the CPU backend on fresh random
// inputs: every transpose combination, shapes that are not multiples of any tile, float32 with
// TF32 off (rel. error <= 1e-5) and on (<= 5e-3), float64; the raw launchers write into
// NaN-poisoned buffers, so an element left unwritten fails; plus the op entry points' dispatch.
#include <gtest/gtest.h>

#include "core/ops/linalg.h"
#include "core/settings.h"
#include "cpu_compare.h"
#include "cuda/blas.h"
#include "cuda_test_util.h"
#include "test_util.h"

namespace ebm {
namespace {

using test::kTolFloat32;
using test::kTolFloat64;
using test::kTolTF32;
using test::randn;
using test::rel_error;

struct GemmCase {
  int64_t m, k, n;
};
const GemmCase kGemmCases[] = {{1, 1, 1},    {3, 5, 7},      {64, 128, 32},
                               {129, 257, 65}, {2, 1000, 3}, {512, 64, 384}};

double tolerance(DType dt, bool tf32) {
  if (dt == DType::Float64) return kTolFloat64;
  return tf32 ? kTolTF32 : kTolFloat32;
}

template <class T>
void check_gemm(const GemmCase& c, bool ta, bool tb, bool tf32) {
  const DType dt = dtype_of<T>::value;
  Tensor a = ta ? randn({c.k, c.m}, dt) : randn({c.m, c.k}, dt);
  Tensor b = tb ? randn({c.n, c.k}, dt) : randn({c.k, c.n}, dt);
  Tensor want = ops::matmul(a, b, ta, tb);
  auto da = test::upload<T>(a), db = test::upload<T>(b);
  test::DeviceBuffer<T> out(static_cast<size_t>(c.m * c.n));
  out.poison(0xFF);
  cuda::gemm(da->get(), a.size(0), a.size(1), ta, db->get(), b.size(0), b.size(1), tb, out.get(),
             c.m, c.n, tf32, 0, cuda::current_stream(0));
  const double err = rel_error(test::download(out, static_cast<size_t>(c.m * c.n)),
                               want.to_vector<double>());
  EXPECT_LE(err, tolerance(dt, tf32));
}

TEST(MatmulCuda, RawGemmMatchesCpuForEveryTransposeAndDtype) {
  EBM_REQUIRE_CUDA();
  for (const GemmCase& c : kGemmCases)
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        SCOPED_TRACE(str("m", c.m, " k", c.k, " n", c.n, ta ? " aT" : "", tb ? " bT" : ""));
        check_gemm<float>(c, ta, tb, /*tf32=*/false);
        check_gemm<float>(c, ta, tb, /*tf32=*/true);
        check_gemm<double>(c, ta, tb, false);
      }
}

TEST(MatmulCuda, OpDispatchesCudaTensorsAndHonoursTf32Setting) {
  EBM_REQUIRE_CUDA();
  const Device gpu = Device::cuda(0);
  for (bool tf32 : {false, true}) {
    AllowTF32Guard mode(tf32);
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        SCOPED_TRACE(str(tf32 ? "tf32" : "fp32", ta ? " aT" : "", tb ? " bT" : ""));
        Tensor a = ta ? randn({96, 33}, DType::Float32) : randn({33, 96}, DType::Float32);
        Tensor b = tb ? randn({47, 96}, DType::Float32) : randn({96, 47}, DType::Float32);
        Tensor c = ops::matmul(a.to(gpu), b.to(gpu), ta, tb);
        EXPECT_EQ(c.device(), gpu);
        EXPECT_EQ(c.shape(), (Shape{33, 47}));
        EXPECT_LE(rel_error(c.to(Device::cpu()), ops::matmul(a, b, ta, tb)),
                  tf32 ? kTolTF32 : kTolFloat32);
      }
  }
  // An empty inner dimension gives zeros, as on the CPU.
  Tensor z = ops::matmul(Tensor::empty({4, 0}, DType::Float32, gpu),
                         Tensor::empty({0, 3}, DType::Float32, gpu));
  EXPECT_EQ(z.to(Device::cpu()).to_vector<double>(), std::vector<double>(12, 0.0));
}

template <class T>
void check_linear(int64_t n, int64_t in, int64_t out, bool bias, bool tf32) {
  const DType dt = dtype_of<T>::value;
  Tensor x = randn({n, in}, dt), w = randn({out, in}, dt);
  Tensor b = bias ? randn({out}, dt) : Tensor();
  Tensor want = ops::linear(x, w, b);
  auto dx = test::upload<T>(x), dw = test::upload<T>(w);
  std::unique_ptr<test::DeviceBuffer<T>> dbias;
  if (bias) dbias = test::upload<T>(b);
  test::DeviceBuffer<T> y(static_cast<size_t>(n * out));
  y.poison(0xFF);
  cuda::linear(dx->get(), dw->get(), bias ? dbias->get() : nullptr, y.get(), n, in, out, tf32, 0,
               cuda::current_stream(0));
  EXPECT_LE(rel_error(test::download(y, static_cast<size_t>(n * out)), want.to_vector<double>()),
            tolerance(dt, tf32));
}

TEST(LinearCuda, RawLinearMatchesCpuWithAndWithoutBias) {
  EBM_REQUIRE_CUDA();
  struct Case { int64_t n, in, out; };
  for (Case c : {Case{1, 1, 1}, Case{7, 13, 5}, Case{128, 256, 10}, Case{33, 3072, 1}})
    for (bool bias : {false, true}) {
      SCOPED_TRACE(str("n", c.n, " in", c.in, " out", c.out, bias ? " bias" : ""));
      check_linear<float>(c.n, c.in, c.out, bias, false);
      check_linear<float>(c.n, c.in, c.out, bias, true);
      check_linear<double>(c.n, c.in, c.out, bias, false);
    }
}

TEST(LinearCuda, OpDispatchesCudaTensors) {
  EBM_REQUIRE_CUDA();
  const Device gpu = Device::cuda(0);
  for (DType dt : {DType::Float32, DType::Float64}) {
    SCOPED_TRACE(dtype_name(dt));
    Tensor x = randn({17, 40}, dt), w = randn({9, 40}, dt), b = randn({9}, dt);
    Tensor y = ops::linear(x.to(gpu), w.to(gpu), b.to(gpu));
    EXPECT_EQ(y.device(), gpu);
    EXPECT_LE(rel_error(y.to(Device::cpu()), ops::linear(x, w, b)), tolerance(dt, false));
    Tensor y0 = ops::linear(x.to(gpu), w.to(gpu));
    EXPECT_LE(rel_error(y0.to(Device::cpu()), ops::linear(x, w)), tolerance(dt, false));
  }
  // Mixed devices are refused before any backend runs.
  test::expect_error<DeviceError>(
      [&] { ops::linear(randn({2, 3}, DType::Float32).to(gpu), randn({4, 3}, DType::Float32)); },
      {"linear"});
}

}  // namespace
}  // namespace ebm
