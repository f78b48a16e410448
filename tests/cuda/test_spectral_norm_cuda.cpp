// Spectral normalisation's batched power iteration on the GPU (cuda/kernels/spectral_norm.cu)
// against the CPU backend on fresh random inputs: a batch of ~20 layers of mixed shapes (scalar
// and 16-byte paths, a misaligned weight, tiles and chunks with tails, a 512×4608 layer), 0, 1
// and 3 iterations, float32 and float64, through the raw launcher with σ, the u/v copies and the
// whole workspace poisoned (NaN) first, and v poisoned when it is not read; more than one group of
// layers; the op and autograd on cuda tensors; σ against a matrix of known singular values; two
// runs giving the same bits; the launcher's argument checks.
//
// Tolerance (norm-wise relative error of each vector, test::rel_error): both backends evaluate
// the same formula in double from the same rounded inputs and round each stored element once, so
// float32 results differ at most by rounding ties (~1e-7); 1e-5 (cpu_compare.h's kTolFloat32)
// leaves a wide margin while any indexing or synchronisation error is O(1). float64: kTolFloat64.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "autograd/ops.h"
#include "core/ops/spectral_norm.h"
#include "cpu_compare.h"
#include "cuda/spectral_norm.h"
#include "cuda_test_util.h"
#include "test_util.h"

namespace ebm {
namespace {

using test::DeviceBuffer;
using test::rel_error;

Tensor unit(int64_t n, DType dt) {
  std::vector<double> x = test::randn({n}).to_vector<double>();
  double ss = 0;
  for (double e : x) ss += e * e;
  for (double& e : x) e /= std::sqrt(ss);
  return Tensor::from_vector(x, {n}).to(dt);
}

std::vector<Shape> mixed_shapes() {
  return {{128, 3, 3, 3}, {128, 128, 3, 3}, {256, 128, 3, 3}, {512, 512, 3, 3}, {512, 128},
          {128, 512},     {1, 5},           {7, 1},           {65, 33},         {33, 260},
          {70, 4, 1, 1},  {3, 3, 3, 3},     {200, 6},         {64, 64},         {63, 255},
          {129, 257},     {256, 256, 1, 1}, {10, 1000},       {130, 132}};
}

std::vector<SpectralNormState> cpu_layers(const std::vector<Shape>& shapes, DType dt) {
  std::vector<SpectralNormState> l;
  for (const Shape& s : shapes)
    l.push_back({test::randn(s, dt, 0.5), unit(s[0], dt), unit(s.numel() / s[0], dt)});
  return l;
}

// A copy on the GPU; `misaligned` places the weight 4 bytes past a 16-byte boundary (scalar path).
SpectralNormState to_gpu(const SpectralNormState& s, bool misaligned) {
  const Device d = Device::cuda();
  SpectralNormState g{s.weight.to(d), s.u.to(d), s.v.to(d)};
  if (misaligned) {
    Tensor buf = Tensor::empty({s.weight.numel() + 1}, s.weight.dtype(), d);
    g.weight = buf.slice(1, s.weight.numel() + 1).view(s.weight.shape());
    g.weight.copy_(s.weight);
  }
  return g;
}

template <class T>
std::vector<SpectralNormPtrs<T>> ptrs_of(const std::vector<SpectralNormState>& l) {
  std::vector<SpectralNormPtrs<T>> p;
  for (const SpectralNormState& s : l)
    p.push_back({static_cast<const T*>(s.weight.data_ptr()), static_cast<T*>(s.u.data_ptr()),
                 static_cast<T*>(s.v.data_ptr()), s.weight.size(0), s.weight.numel() / s.weight.size(0)});
  return p;
}

double tol_of(DType dt) { return dt == DType::Float32 ? test::kTolFloat32 : test::kTolFloat64; }

// The launcher on the batch, poisoned outputs and workspace, against the CPU op.
template <class T>
void check_against_cpu(const std::vector<Shape>& shapes, DType dt, int n_iter) {
  SCOPED_TRACE(str(shapes.size(), " layers, ", n_iter, " iterations, ", dtype_name(dt)));
  std::vector<SpectralNormState> cpu = cpu_layers(shapes, dt), gpu;
  for (size_t l = 0; l < cpu.size(); ++l) gpu.push_back(to_gpu(cpu[l], l == shapes.size() - 1));
  if (n_iter > 0)  // v is not read before it is written
    for (auto& g : gpu) g.v.fill_(NAN);
  const auto p = ptrs_of<T>(gpu);
  const int64_t n = static_cast<int64_t>(p.size());
  int64_t copy_elems = 0;
  for (const auto& q : p) copy_elems += q.rows + q.cols;
  const size_t ws_bytes = cuda::spectral_norm_workspace_bytes(p.data(), n);
  DeviceBuffer<double> ws(ws_bytes / sizeof(double));
  DeviceBuffer<T> sigma(n), copy(copy_elems);
  ws.poison(0xFF);
  sigma.poison(0xFF);
  copy.poison(0xFF);
  cuda::spectral_norm_power_iteration(p.data(), n, n_iter, 1e-12, sigma.get(), copy.get(), ws.get(),
                                      ws_bytes, cuda::current_stream());
  Tensor cpu_copy;
  const Tensor cpu_sigma = ops::spectral_norm_power_iteration_(cpu, n_iter, 1e-12, &cpu_copy);
  const double tol = tol_of(dt);
  EXPECT_LE(rel_error(test::download(sigma, n), cpu_sigma.to_vector<double>()), tol) << "sigma";
  EXPECT_LE(rel_error(test::download(copy, copy_elems), cpu_copy.to_vector<double>()), tol) << "copies";
  const std::vector<T> sg = sigma.download(0, n);
  for (size_t l = 0; l < cpu.size(); ++l) {
    EXPECT_LE(rel_error(gpu[l].u, cpu[l].u), tol) << "u of layer " << l << " " << shapes[l];
    EXPECT_LE(rel_error(gpu[l].v, cpu[l].v), tol) << "v of layer " << l << " " << shapes[l];
    EXPECT_LE(std::fabs(sg[l] - cpu_sigma.to_vector<double>()[l]),
              tol * std::fabs(cpu_sigma.to_vector<double>()[l]))
        << "sigma of layer " << l << " " << shapes[l];
  }
}

TEST(SpectralNormCuda, MixedBatchMatchesCpuFloat32) {
  EBM_REQUIRE_CUDA();
  for (int n_iter : {0, 1, 3}) check_against_cpu<float>(mixed_shapes(), DType::Float32, n_iter);
}

TEST(SpectralNormCuda, MixedBatchMatchesCpuFloat64) {
  EBM_REQUIRE_CUDA();
  for (int n_iter : {0, 1, 3}) check_against_cpu<double>(mixed_shapes(), DType::Float64, n_iter);
}

// 70 layers: two launch groups (kSnMaxLayersPerLaunch = 64), one workspace reused.
TEST(SpectralNormCuda, MoreLayersThanOneLaunchHolds) {
  EBM_REQUIRE_CUDA();
  std::vector<Shape> shapes;
  for (int i = 0; i < 70; ++i) shapes.push_back({8 + (i * 37) % 90, 1 + (i * 53) % 300});
  check_against_cpu<float>(shapes, DType::Float32, 2);
}

// The op and autograd on cuda tensors: σ, u, v and dL/dW of L = Σ_l c_l σ_l equal the CPU's.
TEST(SpectralNormCuda, OpAndGradientMatchCpu) {
  EBM_REQUIRE_CUDA();
  for (DType dt : {DType::Float32, DType::Float64}) {
    std::vector<Shape> shapes{{128, 3, 3, 3}, {64, 128, 3, 3}, {10, 30}};
    std::vector<SpectralNormState> cpu = cpu_layers(shapes, dt), gpu;
    for (const auto& s : cpu) gpu.push_back(to_gpu(s, false));
    for (auto* l : {&cpu, &gpu})
      for (auto& s : *l) s.weight.set_requires_grad(true);
    std::vector<Tensor> sc = spectral_norm_sigmas_(cpu, 2), sg = spectral_norm_sigmas_(gpu, 2);
    Tensor lc = sc[0] + sc[1] * 2.0 + sc[2] * 3.0, lg = sg[0] + sg[1] * 2.0 + sg[2] * 3.0;
    EXPECT_EQ(lg.device(), Device::cuda());
    backward(lc);
    backward(lg);
    const double tol = tol_of(dt);
    for (size_t l = 0; l < shapes.size(); ++l) {
      EXPECT_LE(rel_error(sg[l], sc[l]), tol) << "sigma " << l;
      EXPECT_LE(rel_error(gpu[l].u, cpu[l].u), tol) << "u " << l;
      EXPECT_LE(rel_error(gpu[l].weight.grad(), cpu[l].weight.grad()), tol) << "grad " << l;
    }
    // One layer, eval mode.
    Tensor s1 = ops::spectral_norm_sigma(gpu[1].weight, gpu[1].u, gpu[1].v);
    EXPECT_LE(rel_error(s1, ops::spectral_norm_sigma(cpu[1].weight, cpu[1].u, cpu[1].v)), tol);
  }
}

// W = (I − 2aaᵀ) D (I − 2bbᵀ): Householder reflections around a diagonal D with D_00 = 4,
// D_11 = 2, the rest in [0, 2): singular values known exactly, so σ must reach 4.
TEST(SpectralNormCuda, SigmaReachesTheLargestSingularValue) {
  EBM_REQUIRE_CUDA();
  const int64_t rows = 300, cols = 1152, k = rows;
  std::vector<double> s(k);
  for (int64_t j = 0; j < k; ++j) s[j] = j == 0 ? 4.0 : j == 1 ? 2.0 : 2.0 * (j % 11) / 11.0;
  const std::vector<double> a = unit(rows, DType::Float64).to_vector<double>();
  const std::vector<double> b = unit(cols, DType::Float64).to_vector<double>();
  double adb = 0;
  for (int64_t j = 0; j < k; ++j) adb += a[j] * s[j] * b[j];
  std::vector<double> w(rows * cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      w[r * cols + c] = (r == c ? s[r] : 0.0) - 2 * a[r] * (c < k ? a[c] * s[c] : 0.0) -
                        2 * (r < k ? s[r] * b[r] : 0.0) * b[c] + 4 * a[r] * adb * b[c];
  for (DType dt : {DType::Float32, DType::Float64}) {
    std::vector<SpectralNormState> l{{Tensor::from_vector(w, {rows, cols}).to(dt).to(Device::cuda()),
                                      unit(rows, dt).to(Device::cuda()), unit(cols, dt).to(Device::cuda())}};
    const double sigma = ops::spectral_norm_power_iteration_(l, 40).item();
    EXPECT_NEAR(sigma, 4.0, 4.0 * (dt == DType::Float32 ? 1e-6 : 1e-12)) << dtype_name(dt);
  }
}

// Fixed-order reductions: the same inputs give the same bits.
TEST(SpectralNormCuda, Deterministic) {
  EBM_REQUIRE_CUDA();
  std::vector<SpectralNormState> a = cpu_layers(mixed_shapes(), DType::Float32), ga, gb;
  for (const auto& s : a) {
    ga.push_back(to_gpu(s, false));
    gb.push_back(to_gpu(s, false));
  }
  const std::vector<float> sa = ops::spectral_norm_power_iteration_(ga, 3).to_vector<float>();
  const std::vector<float> sb = ops::spectral_norm_power_iteration_(gb, 3).to_vector<float>();
  EXPECT_EQ(std::memcmp(sa.data(), sb.data(), sa.size() * sizeof(float)), 0);
  for (size_t l = 0; l < ga.size(); ++l) {
    const auto ua = ga[l].u.to_vector<float>(), ub = gb[l].u.to_vector<float>();
    EXPECT_EQ(std::memcmp(ua.data(), ub.data(), ua.size() * sizeof(float)), 0) << "layer " << l;
  }
}

// The launcher's checks run before anything touches the device (no GPU needed).
TEST(SpectralNormCuda, LauncherRejectsBadArguments) {
  std::vector<float> w(12), u(4), v(3);
  SpectralNormPtrs<float> p{w.data(), u.data(), v.data(), 4, 3};
  const size_t need = cuda::spectral_norm_workspace_bytes(&p, 1);
  EXPECT_GT(need, 0u);
  float sigma = 0;
  std::vector<double> ws(need / sizeof(double));
  test::expect_error<ValueError>([&] {
    cuda::spectral_norm_power_iteration(&p, 1, 1, 1e-12, &sigma, nullptr, ws.data(), need - 8, nullptr);
  }, {"spectral_norm_power_iteration", "workspace"});
  test::expect_error<ValueError>([&] {
    cuda::spectral_norm_power_iteration(&p, 1, -1, 1e-12, &sigma, nullptr, ws.data(), need, nullptr);
  }, {"n_iter"});
  SpectralNormPtrs<float> bad = p;
  bad.cols = 0;
  test::expect_error<ValueError>([&] { cuda::spectral_norm_workspace_bytes(&bad, 1); }, {"layer 0", "rows and cols"});
}

}  // namespace
}  // namespace ebm
