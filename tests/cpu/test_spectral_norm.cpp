// Spectral normalisation (core/ops/spectral_norm.h, autograd/ops/spectral_norm.h): the power
// iteration v = normalize(Wᵀu), u = normalize(W v), σ = uᵀ W v against a hand-written float64
// reference (float32 and float64), convergence to the top singular value of matrices built with
// known singular values, dσ/dW = u vᵀ by finite differences, batched == per layer, the copies that
// keep a graph valid across later iterations, eps on a zero matrix, the CUDA launch geometry
// (tiles and workspace, checked on the CPU), error messages, and PyTorch goldens
// (tests/reference/make_spectral_norm_goldens.py).
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/io/npy.h"
#include "test_util.h"
#if defined(_OPENMP)
#include <omp.h>
#endif

namespace ebm {
namespace {

using test::randn;

// ---- a float64 reference written out by hand

struct Ref {
  std::vector<double> u, v;
  double sigma = 0;
};

// n_iter iterations of the op's formula on row-major W [rows, cols], in double, rounding each
// stored u, v and σ to float when f32 (what the op stores).
Ref reference(const std::vector<double>& w, int64_t rows, int64_t cols, std::vector<double> u,
              std::vector<double> v, int n_iter, double eps, bool f32) {
  auto round = [&](double x) { return f32 ? static_cast<double>(static_cast<float>(x)) : x; };
  auto norm_div = [&](std::vector<double>& x) {
    double ss = 0;
    for (double e : x) ss += e * e;
    const double d = std::max(std::sqrt(ss), eps);
    for (double& e : x) e = round(e / d);
  };
  std::vector<double> s(rows);
  auto wv = [&] {
    for (int64_t r = 0; r < rows; ++r) {
      s[r] = 0;
      for (int64_t c = 0; c < cols; ++c) s[r] += w[r * cols + c] * v[c];
    }
  };
  for (int it = 0; it < n_iter; ++it) {
    for (int64_t c = 0; c < cols; ++c) {
      v[c] = 0;
      for (int64_t r = 0; r < rows; ++r) v[c] += w[r * cols + c] * u[r];
    }
    norm_div(v);
    wv();
    u = s;
    norm_div(u);
  }
  if (n_iter == 0) wv();
  Ref out{u, v, 0.0};
  for (int64_t r = 0; r < rows; ++r) out.sigma += u[r] * s[r];
  out.sigma = round(out.sigma);
  return out;
}

Tensor unit(int64_t n, DType dt) {
  Tensor x = randn({n}, DType::Float64);
  double ss = 0;
  for (double e : x.to_vector<double>()) ss += e * e;
  return ops::unary(UnaryOp::Affine, x, 1.0 / std::sqrt(ss), 0.0).to(dt);
}

SpectralNormState make_layer(const Shape& w_shape, DType dt, double scale = 1.0) {
  SpectralNormState s;
  s.weight = randn(w_shape, DType::Float64, scale).to(dt);
  s.u = unit(w_shape[0], dt);
  s.v = unit(s.weight.numel() / w_shape[0], dt);
  return s;
}

// |a − b| <= rel·|b| + abs element-wise.
void expect_close(const std::vector<double>& a, const std::vector<double>& b, double rel, double abs,
                  const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  int bad = 0;
  for (size_t i = 0; i < a.size(); ++i)
    if (!(std::fabs(a[i] - b[i]) <= rel * std::fabs(b[i]) + abs) && bad++ < 5)
      ADD_FAILURE() << what << "[" << i << "]: " << a[i] << " vs " << b[i];
}

// Same formula, both in double from the same rounded inputs: only the order of double additions
// differs, so float32 results agree to the last bit but for rare rounding ties (one ulp, 2^-23
// relative), float64 results to a few ulp times the condition of the normalisations.
double tol_of(DType dt) { return dt == DType::Float32 ? 2.4e-7 : 1e-12; }

class SpectralNorm : public ::testing::TestWithParam<DType> {};

TEST_P(SpectralNorm, IterationsMatchHandReference) {
  const DType dt = GetParam();
  for (const Shape& shape : {Shape{8, 3, 3, 3}, Shape{5, 7}, Shape{1, 4}, Shape{6, 1}, Shape{130, 70}}) {
    for (int n_iter : {0, 1, 2, 5}) {
      SCOPED_TRACE(str(shape, ", ", n_iter, " iterations, ", dtype_name(dt)));
      std::vector<SpectralNormState> layers{make_layer(shape, dt)};
      const Ref ref = reference(layers[0].weight.to_vector<double>(), shape[0],
                                layers[0].weight.numel() / shape[0], layers[0].u.to_vector<double>(),
                                layers[0].v.to_vector<double>(), n_iter, 1e-12, dt == DType::Float32);
      const Tensor sigma = ops::spectral_norm_power_iteration_(layers, n_iter);
      ASSERT_EQ(sigma.shape(), Shape({1}));
      EXPECT_EQ(sigma.dtype(), dt);
      const double tol = tol_of(dt);
      expect_close(layers[0].u.to_vector<double>(), ref.u, tol, 1e-30, "u");
      expect_close(layers[0].v.to_vector<double>(), ref.v, tol, 1e-30, "v");
      expect_close(sigma.to_vector<double>(), {ref.sigma}, 4 * tol, 0, "sigma");
    }
  }
}

// W = Σ_k s_k a_k b_kᵀ with orthonormal a_k, b_k (Gram–Schmidt in double): top singular value
// s_0 = 4, the next 2, so σ converges like (1/2)^(2n).
Tensor with_singular_values(int64_t rows, int64_t cols, const std::vector<double>& s, DType dt) {
  const int64_t k = static_cast<int64_t>(s.size());
  auto orthonormal = [&](int64_t n) {
    std::vector<std::vector<double>> q;
    for (int64_t j = 0; j < k; ++j) {
      std::vector<double> x = randn({n}).to_vector<double>();
      for (int pass = 0; pass < 2; ++pass)  // twice: orthogonal to double precision
        for (const auto& p : q) {
          double d = 0;
          for (int64_t i = 0; i < n; ++i) d += p[i] * x[i];
          for (int64_t i = 0; i < n; ++i) x[i] -= d * p[i];
        }
      double nn = 0;
      for (double e : x) nn += e * e;
      for (double& e : x) e /= std::sqrt(nn);
      q.push_back(x);
    }
    return q;
  };
  const auto a = orthonormal(rows), b = orthonormal(cols);
  std::vector<double> w(rows * cols, 0.0);
  for (int64_t j = 0; j < k; ++j)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) w[r * cols + c] += s[j] * a[j][r] * b[j][c];
  return Tensor::from_vector(w, {rows, cols}).to(dt);
}

TEST_P(SpectralNorm, ConvergesToTheLargestSingularValue) {
  const DType dt = GetParam();
  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{16, 36}, {40, 12}, {128, 1152}}) {
    SCOPED_TRACE(str(rows, " x ", cols, ", ", dtype_name(dt)));
    std::vector<double> s{4.0, 2.0};
    for (int64_t j = 2; j < std::min(rows, cols); ++j) s.push_back(2.0 * (j % 7) / 7.0);
    std::vector<SpectralNormState> layers{{with_singular_values(rows, cols, s, dt), unit(rows, dt),
                                           unit(cols, dt)}};
    const double sigma = ops::spectral_norm_power_iteration_(layers, 40).item();
    // float32: W, u and v are rounded (2^-24 relative per element), which moves σ by a few
    // 1e-7 relative; 1e-6 is tighter than the 1e-4 a training run needs.
    EXPECT_NEAR(sigma, 4.0, 4.0 * (dt == DType::Float32 ? 1e-6 : 1e-12));
  }
}

// σ as a function of W with u, v fixed is linear: central differences are exact up to rounding.
TEST(SpectralNormGrad, SigmaGradientIsUVTransposed) {
  for (const Shape& shape : {Shape{4, 2, 3, 3}, Shape{5, 3}}) {
    SpectralNormState s = make_layer(shape, DType::Float64);
    test::gradcheck([&](const std::vector<Tensor>& in) { return spectral_norm_sigma(in[0], s.u, s.v); },
                    {s.weight});
    // The batched op with n_iter = 0 records the same derivative.
    test::gradcheck([&](const std::vector<Tensor>& in) {
      std::vector<SpectralNormState> l{{in[0], s.u, s.v}};
      return spectral_norm_sigmas_(l, 0)[0];
    }, {s.weight});
  }
}

// After an iteration the gradient is u vᵀ at the updated buffers, and the graph stays valid when
// later iterations overwrite them (the recorded u, v are copies, as PyTorch clones).
TEST(SpectralNormGrad, RecordedBuffersSurviveLaterIterations) {
  std::vector<SpectralNormState> layers{make_layer({6, 2, 2, 2}, DType::Float64),
                                        make_layer({3, 5}, DType::Float64)};
  for (auto& l : layers) l.weight.set_requires_grad(true);
  std::vector<Tensor> sig = spectral_norm_sigmas_(layers, 2);
  ASSERT_EQ(sig.size(), 2u);
  const std::vector<double> u0 = layers[0].u.to_vector<double>(), v0 = layers[0].v.to_vector<double>();
  {
    NoGradGuard ng;
    ops::spectral_norm_power_iteration_(layers, 3);  // overwrites u, v in place
  }
  backward(sig[0] * 3.0 + sig[1]);
  const std::vector<double> g = layers[0].weight.grad().to_vector<double>();
  std::vector<double> want(g.size());
  for (size_t r = 0; r < u0.size(); ++r)
    for (size_t c = 0; c < v0.size(); ++c) want[r * v0.size() + c] = 3.0 * u0[r] * v0[c];
  expect_close(g, want, 1e-15, 1e-300, "grad_w");
  EXPECT_TRUE(layers[1].weight.grad().defined());
  // Without grad mode nothing is recorded.
  NoGradGuard ng;
  EXPECT_FALSE(spectral_norm_sigmas_(layers, 1)[0].requires_grad());
}

TEST(SpectralNormGrad, BackwardCanBeRecorded) {
  SpectralNormState s = make_layer({4, 3}, DType::Float64);
  s.weight.set_requires_grad(true);
  Tensor sigma = spectral_norm_sigma(s.weight, s.u, s.v);
  std::vector<Tensor> g = grad(sigma * sigma, {s.weight}, Tensor(), /*create_graph=*/true);
  ASSERT_TRUE(g[0].requires_grad());  // g = 2σ u vᵀ, which depends on W through σ
  // d/dW Σ_ij (2σ u vᵀ)_ij = 2 (Σu)(Σv) dσ/dW = 2 (Σu)(Σv) u vᵀ
  std::vector<Tensor> h = grad(sum(g[0]), {s.weight});
  const auto u = s.u.to_vector<double>(), v = s.v.to_vector<double>();
  double su = 0, sv = 0;
  for (double e : u) su += e;
  for (double e : v) sv += e;
  std::vector<double> want;
  for (double ur : u)
    for (double vc : v) want.push_back(2 * su * sv * ur * vc);
  expect_close(h[0].to_vector<double>(), want, 1e-13, 1e-15, "second derivative");
}

TEST_P(SpectralNorm, BatchedEqualsPerLayer) {
  const DType dt = GetParam();
  std::vector<Shape> shapes{{8, 3, 3, 3}, {16, 8, 3, 3}, {7, 5}, {1, 9}, {33, 4, 1, 1}, {64, 130}};
  std::vector<SpectralNormState> batch, single;
  for (const Shape& s : shapes) {
    batch.push_back(make_layer(s, dt, 0.3));
    single.push_back({batch.back().weight, batch.back().u.clone(), batch.back().v.clone()});
  }
  Tensor copies;
  const Tensor sigma = ops::spectral_norm_power_iteration_(batch, 3, 1e-12, &copies);
  int64_t off = 0;
  for (size_t l = 0; l < shapes.size(); ++l) {
    std::vector<SpectralNormState> one{single[l]};
    const double s1 = ops::spectral_norm_power_iteration_(one, 3).item();
    EXPECT_EQ(sigma.to_vector<double>()[l], s1) << "layer " << l;
    EXPECT_EQ(batch[l].u.to_vector<double>(), single[l].u.to_vector<double>()) << "layer " << l;
    EXPECT_EQ(batch[l].v.to_vector<double>(), single[l].v.to_vector<double>()) << "layer " << l;
    const int64_t rows = single[l].u.numel(), cols = single[l].v.numel();
    EXPECT_EQ(copies.slice(off, off + rows).to_vector<double>(), single[l].u.to_vector<double>());
    EXPECT_EQ(copies.slice(off + rows, off + rows + cols).to_vector<double>(),
              single[l].v.to_vector<double>());
    off += rows + cols;
  }
  EXPECT_EQ(copies.numel(), off);
}

TEST_P(SpectralNorm, ResultDoesNotDependOnThreadCount) {
#if defined(_OPENMP)
  const DType dt = GetParam();
  SpectralNormState a = make_layer({300, 512}, dt);
  SpectralNormState b{a.weight, a.u.clone(), a.v.clone()};
  std::vector<SpectralNormState> la{a}, lb{b};
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const double s1 = ops::spectral_norm_power_iteration_(la, 2).item();
  omp_set_num_threads(std::max(threads, 2));
  const double s2 = ops::spectral_norm_power_iteration_(lb, 2).item();
  omp_set_num_threads(threads);
  EXPECT_EQ(s1, s2);
  EXPECT_EQ(a.u.to_vector<double>(), b.u.to_vector<double>());
  EXPECT_EQ(a.v.to_vector<double>(), b.v.to_vector<double>());
#else
  GTEST_SKIP() << "built without OpenMP";
#endif
}

// A zero weight: Wᵀu = 0, so v = 0/eps = 0, u = 0 and σ = 0, with no NaN (eps keeps the division
// defined). A weight so small that ‖Wᵀu‖ < eps gives v = Wᵀu / eps, as PyTorch's normalize does.
TEST_P(SpectralNorm, EpsKeepsZeroAndTinyMatricesFinite) {
  const DType dt = GetParam();
  std::vector<SpectralNormState> z{{Tensor::zeros({4, 2, 3, 3}, dt), unit(4, dt), unit(18, dt)}};
  const Tensor sigma = ops::spectral_norm_power_iteration_(z, 2);
  EXPECT_EQ(sigma.item(), 0.0);
  for (double e : z[0].u.to_vector<double>()) EXPECT_EQ(e, 0.0);
  for (double e : z[0].v.to_vector<double>()) EXPECT_EQ(e, 0.0);
  if (dt == DType::Float64) {
    std::vector<SpectralNormState> t{make_layer({3, 4}, dt, 1e-20)};
    const Ref ref = reference(t[0].weight.to_vector<double>(), 3, 4, t[0].u.to_vector<double>(),
                              t[0].v.to_vector<double>(), 1, 1e-12, false);
    ops::spectral_norm_power_iteration_(t, 1);
    double vn = 0;
    for (double e : t[0].v.to_vector<double>()) vn += e * e;
    EXPECT_LT(std::sqrt(vn), 1e-6);  // not normalised: divided by eps
    expect_close(t[0].v.to_vector<double>(), ref.v, 1e-12, 1e-300, "v");
    expect_close(t[0].u.to_vector<double>(), ref.u, 1e-12, 1e-300, "u");
  }
}

TEST_P(SpectralNorm, VersionsBumpOnlyWhenWritten) {
  std::vector<SpectralNormState> l{make_layer({3, 4}, GetParam())};
  const uint64_t u0 = l[0].u.storage().version(), w0 = l[0].weight.storage().version();
  ops::spectral_norm_power_iteration_(l, 0);
  EXPECT_EQ(l[0].u.storage().version(), u0);
  ops::spectral_norm_power_iteration_(l, 1);
  EXPECT_GT(l[0].u.storage().version(), u0);
  EXPECT_EQ(l[0].weight.storage().version(), w0);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, SpectralNorm, ::testing::Values(DType::Float32, DType::Float64),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(SpectralNormCapped, IsWUnchangedBelowOneAndWOverSigmaAbove) {
  Tensor w = randn({3, 4}).set_requires_grad(true);
  for (double s : {0.25, 0.999998, 2.5}) {
    Tensor sigma = Tensor::scalar(s, DType::Float64).set_requires_grad(true);
    Tensor out = spectral_normalize_capped(w, sigma);
    const double sp = s + 1e-6;
    const auto wv = w.to_vector<double>(), ov = out.to_vector<double>();
    for (size_t i = 0; i < wv.size(); ++i)
      EXPECT_EQ(ov[i], sp <= 1 ? wv[i] : wv[i] / sp) << "sigma " << s;
    std::vector<Tensor> g = grad(sum(out), {sigma});
    double sw = 0;
    for (double e : wv) sw += e;
    if (sp < 1) EXPECT_EQ(g[0].item(), 0.0);  // d/dσ Σ W = 0
    else EXPECT_NEAR(g[0].item(), -sw / (sp * sp), 1e-14 * (1 + std::fabs(sw)));  // d/dσ Σ W/σ
  }
  // Plain W/σ.
  Tensor sigma = Tensor::scalar(2.0, DType::Float64);
  EXPECT_EQ(spectral_normalize(w, sigma).to_vector<double>()[0], w.to_vector<double>()[0] / 2.0);
}

// ---- the CUDA launch geometry, on the CPU

TEST(SpectralNormGeometry, TilesCoverEveryElementOnceAndWorkspaceRegionsAreDisjoint) {
  for (int vec : {1, 2, 4}) {
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{128, 27}, {128, 1152}, {512, 4608},
                              {1, 1}, {65, 4}, {33, 260}, {7, 100000}, {4096, 512}, {300, 16388}}) {
      if (cols % vec) continue;
      SCOPED_TRACE(str(rows, " x ", cols, ", vec ", vec));
      const SpectralNormGeometry g = spectral_norm_geometry(rows, cols, vec);
      // Pass A: tiles of 32·vec columns and chunks of kSnRowsA rows cover the matrix.
      EXPECT_GE(g.a_tiles * 32 * vec, cols);
      EXPECT_LT((g.a_tiles - 1) * 32 * vec, cols);
      EXPECT_GE(g.a_chunks * kSnRowsA, rows);
      EXPECT_LT((g.a_chunks - 1) * kSnRowsA, rows);
      // Pass C: non-empty chunks of at most kSnColsC columns, a multiple of vec.
      EXPECT_LE(g.c_len, kSnColsC);
      EXPECT_EQ(g.c_len % vec, 0);
      EXPECT_GE(g.c_chunks * g.c_len, cols);
      EXPECT_LT((g.c_chunks - 1) * g.c_len, cols);
      EXPECT_GE(g.c_row_blocks * kSnRowsC, rows);
      EXPECT_LT((g.c_row_blocks - 1) * kSnRowsC, rows);
      // Workspace: consecutive regions of the documented sizes.
      EXPECT_EQ(g.t - g.pt, g.a_chunks * cols);
      EXPECT_EQ(g.nt - g.t, cols);
      EXPECT_EQ(g.ps - g.nt, g.b_blocks);
      EXPECT_EQ(g.s - g.ps, g.c_chunks * rows);
      EXPECT_EQ(g.ns - g.s, rows);
      EXPECT_EQ(g.size - g.ns, g.d_blocks);
      EXPECT_EQ(g.b_blocks, (cols + kSnFinish - 1) / kSnFinish);
      EXPECT_EQ(g.d_blocks, (rows + kSnFinish - 1) / kSnFinish);
    }
  }
  // 16-byte loads only when every row starts on a 16-byte boundary.
  EXPECT_EQ(spectral_norm_vec(1152, 256, 4), 4);
  EXPECT_EQ(spectral_norm_vec(27, 256, 4), 1);
  EXPECT_EQ(spectral_norm_vec(1152, 260, 4), 1);
  EXPECT_EQ(spectral_norm_vec(6, 256, 8), 2);
  EXPECT_EQ(spectral_norm_vec(5, 256, 8), 1);
}

// ---- errors

TEST(SpectralNormErrors, NameTheOpTheLayerAndTheShapes) {
  using test::expect_error;
  const DType f = DType::Float32;
  auto two = [&] {
    return std::vector<SpectralNormState>{make_layer({4, 3}, f), make_layer({8, 2, 3, 3}, f)};
  };
  {
    auto l = two();
    l[1].u = unit(5, f);
    expect_error<ShapeError>([&] { ops::spectral_norm_power_iteration_(l, 1); },
                             {"spectral_norm_power_iteration_", "layer 1", "u must have shape [8]",
                              "float32[8, 2, 3, 3]", "float32[5]"});
  }
  {
    auto l = two();
    l[0].v = unit(4, f);
    expect_error<ShapeError>([&] { ops::spectral_norm_power_iteration_(l, 1); },
                             {"layer 0", "v must have shape [3]"});
  }
  {
    auto l = two();
    l[1].v = l[1].v.to(DType::Float64);
    expect_error<DTypeError>([&] { ops::spectral_norm_power_iteration_(l, 1); },
                             {"layer 1", "v is float64[18]", "the weight is float32"});
  }
  {
    auto l = two();
    l[1] = make_layer({2, 2}, DType::Float64);
    expect_error<DTypeError>([&] { ops::spectral_norm_power_iteration_(l, 1); },
                             {"layer 1 is float64 but layer 0 is float32"});
  }
  {
    std::vector<SpectralNormState> l{{Tensor::zeros({2, 2}, DType::Int64), Tensor(), Tensor()}};
    expect_error<DTypeError>([&] { ops::spectral_norm_power_iteration_(l, 1); },
                             {"layer 0", "float32 or float64", "int64"});
  }
  {
    auto l = two();
    l[0].u = Tensor();
    expect_error<ValueError>([&] { ops::spectral_norm_power_iteration_(l, 1); }, {"layer 0", "u is undefined"});
  }
  {
    auto l = two();
    expect_error<ValueError>([&] { ops::spectral_norm_power_iteration_(l, -1); }, {"n_iter must be >= 0"});
    expect_error<ValueError>([&] { ops::spectral_norm_power_iteration_(l, 1, -1.0); }, {"eps"});
  }
  {
    // u and v as overlapping views of one buffer; then layer 1 reusing layer 0's u.
    Tensor buf = unit(10, f);
    std::vector<SpectralNormState> l{{randn({4, 3}, f), buf.slice(0, 4), buf.slice(3, 6)}};
    expect_error<ValueError>([&] { ops::spectral_norm_power_iteration_(l, 1); },
                             {"layer 0's", "overlaps layer 0's", "in place"});
    std::vector<SpectralNormState> ok{{randn({4, 3}, f), buf.slice(0, 4), buf.slice(4, 7)}};
    EXPECT_NO_THROW(ops::spectral_norm_power_iteration_(ok, 1));  // disjoint views are fine
    auto m = two();
    m[1].u = m[0].u;
    m[1].weight = randn({4, 5}, f);
    m[1].v = unit(5, f);
    expect_error<ValueError>([&] { ops::spectral_norm_power_iteration_(m, 1); },
                             {"layer 1's u overlaps layer 0's u"});
    EXPECT_NO_THROW(ops::spectral_norm_power_iteration_(m, 0));  // nothing written
  }
  {
    SpectralNormState s = make_layer({4, 3}, f);
    expect_error<ShapeError>([&] { spectral_norm_sigma(s.weight, s.v, s.u); },
                             {"spectral_norm_sigma", "layer 0", "u must have shape [4]"});
    expect_error<ShapeError>(
        [&] { spectral_norm_sigma(s.weight, s.u, s.v, Tensor::zeros({2}, f)); },
        {"spectral_norm_sigma", "sigma_precomputed must have one element"});
  }
  std::vector<SpectralNormState> none;
  EXPECT_EQ(ops::spectral_norm_power_iteration_(none, 1).numel(), 0);
}

// ---- PyTorch goldens

std::string golden(const std::string& c, const std::string& name) {
  return str(EBM_TEST_DATA_DIR, "/spectral_norm/", c, "/", name, ".npy");
}

// Relative to each element and to the tensor's largest magnitude (cancellation in dL/dW).
// float64: different summation orders only, ~1e-15; float32: inputs rounded to float (6e-8) and
// dot products of at most 27 terms accumulated in double, then rounded: a few 1e-7, so 1e-5.
void expect_golden(const Tensor& got, const std::string& c, const std::string& name, double tol) {
  const Tensor want = read_npy(golden(c, name));
  ASSERT_EQ(got.shape(), want.shape()) << c << "/" << name;
  double m = 0;
  for (double e : want.to_vector<double>()) m = std::max(m, std::fabs(e));
  EXPECT_LE(test::close_ratio(got, want, tol, tol * m), 1.0)
      << c << "/" << name << "\nebm " << got << "\ntorch " << want;
}

TEST_P(SpectralNorm, MatchesPyTorch) {
  const DType dt = GetParam();
  const double tol = dt == DType::Float64 ? 1e-10 : 1e-5;
  for (const std::string c : {"conv", "linear", "conv_small"}) {
    for (int k : {0, 1, 3}) {
      SCOPED_TRACE(str(c, ", ", k, " iterations, ", dtype_name(dt)));
      const std::string s = "_" + std::to_string(k);
      Tensor w = read_npy(golden(c, "w")).to(dt).set_requires_grad(true);
      Tensor g = read_npy(golden(c, "g")).to(dt);
      std::vector<SpectralNormState> l{{w, read_npy(golden(c, "u0")).to(dt), read_npy(golden(c, "v0")).to(dt)}};
      const Tensor sigma = spectral_norm_sigmas_(l, k)[0];
      expect_golden(l[0].u, c, "u" + s, tol);
      expect_golden(l[0].v, c, "v" + s, tol);
      expect_golden(sigma, c, "sigma" + s, tol);
      const Tensor wsn = spectral_normalize(w, sigma);
      expect_golden(wsn, c, "wsn" + s, tol);
      backward(sum(wsn * g));
      expect_golden(w.grad(), c, "grad_w" + s, tol);
      w.zero_grad();
      const Tensor capped = spectral_normalize_capped(w, spectral_norm_sigma(w, l[0].u, l[0].v, sigma));
      expect_golden(capped, c, "capped" + s, tol);
      backward(sum(capped * g));
      expect_golden(w.grad(), c, "grad_capped" + s, tol);
    }
  }
}

}  // namespace
}  // namespace ebm
