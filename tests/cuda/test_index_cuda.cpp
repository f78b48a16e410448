// The indexing ops on cuda tensors against the CPU backend, on fresh random inputs: concat and
// split along every dim (float32, float64, int64), index_select, index_add (repeated indices, empty
// rows; deterministic), gather, scatter, one_hot, cross_entropy and its backward, check_labels,
// and the autograd ops over them. Every launcher is also run on poisoned (NaN / 0xFF) output
// buffers with guards on both sides, at every byte misalignment for the row copies, so unwritten
// or stray elements show. Error cases: a bad label or index on a cuda tensor is a ValueError
// naming the op, the value, its position and the range; mixed devices are a DeviceError.
//
// Tolerances: the copies, index_add (same order of additions as the CPU), gather, scatter and
// one_hot are bit for bit. The cross-entropy pair runs the same functors on both sides, but float
// log (and double exp/log) are different libm implementations, each within 1 ulp of the exact
// result (CUDA Programming Guide, math appendix; glibc libm-test-ulps), so they may differ by
// 2 ulp. With u = 2^-24 (float; 2^-53 double), one ulp of x is at most 2u|x|:
//  - loss: a row's loss l = log s - (x_y - m), with s bit-identical in float (portable exp, same
//    order) and x_y - m exact, differs by 4u |log s| from the logs plus 2u l from the final
//    subtraction, <= 6u l (x_y <= m gives log s <= l); the mean of those in double, rounded once,
//    adds one ulp: |gpu - cpu| <= 8u |loss| = 4.8e-7 relative, asserted as <= 1e-6 (float64,
//    where exp differs too: 1e-12).
//  - gradient p s - [c = y] s with p = exp(x - lse), lse = m + log s: lse differs by
//    d = 4u |log s| + 2u |lse| (+ (C + 4) 4u for the double exps and their sum), x - lse by
//    d + 2u |x - lse|, so p relatively by r = d + 2u |x - lse| + 8u (the portable exp's own
//    error, <= 2 ulp, on each side); the product and the label's subtraction add 2u |s| (p + 1):
//    |gpu - cpu| <= |s| (p r + 2u (p + 1)) per element. The norm-wise relative error over the
//    whole gradient, where the large entries have small |x - lse|, is also asserted <= 1e-6.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <random>
#include <type_traits>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "core/ops/index.h"
#include "cpu_compare.h"
#include "cuda/index.h"
#include "cuda_test_util.h"
#include "kernel_test_util.h"
#include "test_util.h"

namespace ebm {
namespace {

using test::DeviceBuffer;

std::mt19937_64& rng() { return test::rng(); }

// Random values of any dtype the indexing ops take (int64: anywhere in its range).
Tensor random_of(const Shape& s, DType dt) {
  if (dt != DType::Int64) return test::randn(s, dt, 2.0);
  std::vector<int64_t> v(static_cast<size_t>(s.numel()));
  for (auto& e : v) e = static_cast<int64_t>(rng()());
  return Tensor::from_vector(v, s);
}

std::vector<int64_t> random_labels(int64_t n, int64_t classes) {
  std::uniform_int_distribution<int64_t> d(0, classes - 1);
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (auto& e : v) e = d(rng());
  return v;
}

Tensor labels_on(const std::vector<int64_t>& v, Device d) {
  return Tensor::from_vector(v, {static_cast<int64_t>(v.size())}, d);
}

// Blocks of the device's caching allocator filled with 0xFF bytes and given back, so that the
// ops' next outputs of up to `bytes` likely start as NaN: an unwritten element then shows.
void poison_cache(size_t bytes) {
  if (bytes == 0) return;
  std::vector<Tensor> blocks;
  for (size_t b : {bytes, bytes / 2 + 8, bytes / 4 + 8, size_t(64)}) {
    Tensor t = Tensor::empty({static_cast<int64_t>((b + 7) / 8)}, DType::Float64, Device::cuda());
    EBM_CUDA_CHECK(cudaMemsetAsync(t.data_ptr(), 0xFF, t.nbytes(), cuda::current_stream()));
    blocks.push_back(t);
  }
}

// got (any device) equals want (cpu) byte for byte, with shape, dtype and the result's device.
::testing::AssertionResult same_bytes(const Tensor& got, const Tensor& want) {
  if (!got.device().is_cuda()) return ::testing::AssertionFailure() << "result is not on cuda";
  if (got.shape() != want.shape() || got.dtype() != want.dtype())
    return ::testing::AssertionFailure() << got.description() << " vs " << want.description();
  const Tensor g = got.to(Device::cpu());
  const size_t es = element_size(want.dtype());
  const auto* a = static_cast<const unsigned char*>(g.data_ptr());
  const auto* b = static_cast<const unsigned char*>(want.data_ptr());
  for (size_t i = 0; i < want.nbytes(); ++i)
    if (a[i] != b[i])
      return ::testing::AssertionFailure() << "element " << i / es << " differs (" << got << " vs "
                                           << want << ")";
  return ::testing::AssertionSuccess();
}

const DType kAllDtypes[] = {DType::Float32, DType::Float64, DType::Int64};

TEST(IndexCuda, ConcatAndSplitMatchCpuAlongEveryDim) {
  EBM_REQUIRE_CUDA();
  for (DType dt : kAllDtypes)
    for (int d = 0; d < 3; ++d)
      for (const std::vector<int64_t>& sizes :
           std::vector<std::vector<int64_t>>{{2, 0, 5}, {1, 1, 1}, {3}, {7, 4}}) {
        SCOPED_TRACE(::testing::Message() << dtype_name(dt) << " dim " << d << " pieces "
                                          << sizes.size());
        std::vector<Tensor> cpu, gpu;
        for (int64_t s : sizes) {
          std::vector<int64_t> dims = {3, 5, 7};
          dims[d] = s;
          cpu.push_back(random_of(Shape(dims), dt));
          gpu.push_back(cpu.back().to(Device::cuda()));
        }
        const Tensor want = ops::concat(cpu, d);
        poison_cache(want.nbytes());
        const Tensor got = ops::concat(gpu, d);
        ASSERT_TRUE(same_bytes(got, want));
        const std::vector<Tensor> pw = ops::split(want, sizes, d), pg = ops::split(got, sizes, d);
        ASSERT_EQ(pg.size(), pw.size());
        for (size_t k = 0; k < pw.size(); ++k) {
          EXPECT_TRUE(same_bytes(pg[k], pw[k])) << "piece " << k;
          EXPECT_TRUE(same_bytes(pg[k], cpu[k])) << "piece " << k;
        }
        EXPECT_TRUE(same_bytes(ops::concat(gpu, d - 3), want));  // negative dim
      }
}

TEST(IndexCuda, LargeConcatOfViewsMatchesCpu) {
  EBM_REQUIRE_CUDA();
  // Views at odd row offsets (float32: 4-byte units) and a long last dim (16-byte units).
  const Tensor a = random_of({300, 129}, DType::Float32), b = random_of({301, 64}, DType::Float32);
  const Tensor ga = a.to(Device::cuda()), gb = b.to(Device::cuda());
  const Tensor want = ops::concat({a.slice(1, 300), b.slice(2, 301)}, 1);
  EXPECT_TRUE(same_bytes(ops::concat({ga.slice(1, 300), gb.slice(2, 301)}, 1), want));
  EXPECT_TRUE(same_bytes(ops::concat({ga, ga}, 0), ops::concat({a, a}, 0)));
}

TEST(IndexCuda, IndexSelectMatchesCpuWithRepeatedIndices) {
  EBM_REQUIRE_CUDA();
  for (DType dt : kAllDtypes)
    for (const Shape& s : {Shape{6}, Shape{6, 3}, Shape{10, 3, 5}, Shape{4, 1000}}) {
      SCOPED_TRACE(::testing::Message() << dtype_name(dt) << " " << s);
      const Tensor x = random_of(s, dt);
      const std::vector<int64_t> idx = random_labels(17, s[0]);
      const Tensor want = ops::index_select(x, labels_on(idx, Device::cpu()));
      poison_cache(want.nbytes());
      EXPECT_TRUE(same_bytes(
          ops::index_select(x.to(Device::cuda()), labels_on(idx, Device::cuda())), want));
    }
  const Tensor x = random_of({4, 3}, DType::Float32).to(Device::cuda());
  EXPECT_EQ(ops::index_select(x, Tensor::empty({0}, DType::Int64, Device::cuda())).shape(),
            (Shape{0, 3}));
}

TEST(IndexCuda, IndexAddMatchesCpuBitForBitAndIsDeterministic) {
  EBM_REQUIRE_CUDA();
  for (DType dt : {DType::Float32, DType::Float64})
    for (auto [K, rows, row] : std::vector<std::array<int64_t, 3>>{
             {40, 7, 9}, {1000, 3, 1}, {5, 20, 33}, {64, 10, 256}, {0, 4, 3}}) {
      SCOPED_TRACE(::testing::Message() << dtype_name(dt) << " K " << K << " rows " << rows
                                        << " row " << row);
      const Tensor src = random_of({K, row}, dt);
      const std::vector<int64_t> idx = random_labels(K, rows);
      const Tensor want = ops::index_add(src, labels_on(idx, Device::cpu()), rows);
      const Tensor gsrc = src.to(Device::cuda()), gidx = labels_on(idx, Device::cuda());
      poison_cache(want.nbytes());
      const Tensor got = ops::index_add(gsrc, gidx, rows);
      EXPECT_TRUE(same_bytes(got, want));
      EXPECT_TRUE(same_bytes(ops::index_add(gsrc, gidx, rows), want));  // same bits again
    }
}

TEST(IndexCuda, GatherScatterOneHotMatchCpu) {
  EBM_REQUIRE_CUDA();
  for (DType dt : {DType::Float32, DType::Float64})
    for (auto [n, c] : std::vector<std::pair<int64_t, int64_t>>{{64, 10}, {1, 1}, {3, 1000},
                                                                {5000, 7}, {0, 4}}) {
      SCOPED_TRACE(::testing::Message() << dtype_name(dt) << " " << n << " x " << c);
      const Tensor x = random_of({n, c}, dt), src = random_of({n}, dt);
      const std::vector<int64_t> lab = random_labels(n, c);
      const Tensor lc = labels_on(lab, Device::cpu()), lg = labels_on(lab, Device::cuda());
      poison_cache(x.nbytes());
      EXPECT_TRUE(same_bytes(ops::gather(x.to(Device::cuda()), lg), ops::gather(x, lc)));
      poison_cache(x.nbytes());
      EXPECT_TRUE(same_bytes(ops::scatter(src.to(Device::cuda()), lg, c), ops::scatter(src, lc, c)));
      poison_cache(x.nbytes());
      EXPECT_TRUE(same_bytes(ops::one_hot(lg, c, dt), ops::one_hot(lc, c, dt)));
    }
}

// The derived per-element bound of the header comment, from the CPU's values.
template <class T>
std::vector<double> grad_tolerance(const Tensor& logits, double s) {
  const bool f64 = std::is_same<T, double>::value;
  const double u = std::ldexp(1.0, f64 ? -53 : -24);
  const int64_t n = logits.size(0), c = logits.size(1);
  const std::vector<double> x = logits.to_vector<double>();
  std::vector<double> tol(x.size());
  for (int64_t i = 0; i < n; ++i) {
    const double* xr = x.data() + i * c;
    double m = xr[0], sum = 0;
    for (int64_t j = 1; j < c; ++j) m = std::max(m, xr[j]);
    for (int64_t j = 0; j < c; ++j) sum += std::exp(xr[j] - m);
    const double lse = m + std::log(sum);
    const double d = 4 * u * std::log(sum) + 2 * u * std::fabs(lse) + (f64 ? (c + 4) * 4 * u : 0);
    for (int64_t j = 0; j < c; ++j) {
      const double p = std::exp(xr[j] - lse), r = d + 2 * u * std::fabs(xr[j] - lse) + 8 * u;
      tol[i * c + j] = std::fabs(s) * (p * r + 2 * u * (p + 1)) * 1.01;  // 1%: double math here
    }
  }
  return tol;
}

template <class T>
void check_cross_entropy(int64_t n, int64_t c) {
  SCOPED_TRACE(::testing::Message() << dtype_name(dtype_of<T>::value) << " " << n << " x " << c);
  const bool f32 = std::is_same<T, float>::value;
  const Tensor x = test::randn({n, c}, dtype_of<T>::value, 2.0);
  const std::vector<int64_t> lab = random_labels(n, c);
  const Tensor lc = labels_on(lab, Device::cpu()), lg = labels_on(lab, Device::cuda());
  const Tensor xg = x.to(Device::cuda());
  // loss
  const Tensor want = ops::cross_entropy(x, lc);
  poison_cache(64);
  const Tensor got = ops::cross_entropy(xg, lg);
  ASSERT_TRUE(got.device().is_cuda());
  EXPECT_EQ(got.dim(), 0);
  EXPECT_LE(test::rel_error(got, want), f32 ? 1e-6 : 1e-12) << got.item() << " vs " << want.item();
  EXPECT_EQ(got.item(), ops::cross_entropy(xg, lg).item());  // deterministic
  // gradient, with the loss gradient on the device and on the host
  const double g = -1.75;
  const Tensor gw = ops::cross_entropy_backward(x, lc, Tensor::scalar(g, dtype_of<T>::value));
  const std::vector<double> tol = grad_tolerance<T>(x, g / static_cast<double>(n));
  for (Device gd : {Device::cuda(), Device::cpu()}) {
    SCOPED_TRACE(gd.is_cuda() ? "grad on cuda" : "grad on cpu");
    poison_cache(gw.nbytes());
    const Tensor gg = ops::cross_entropy_backward(
        xg, lg, Tensor::scalar(g, dtype_of<T>::value, gd));
    ASSERT_TRUE(gg.device().is_cuda());
    const std::vector<double> a = gg.to_vector<double>(), b = gw.to_vector<double>();
    int64_t bad = 0;
    for (size_t i = 0; i < b.size(); ++i)
      if (!(std::fabs(a[i] - b[i]) <= tol[i]) && bad++ < 3)
        ADD_FAILURE() << "element " << i << ": cuda " << a[i] << " vs cpu " << b[i]
                      << " (tolerance " << tol[i] << ")";
    EXPECT_EQ(bad, 0);
    EXPECT_LE(test::rel_error(gg, gw), f32 ? 1e-6 : 1e-12);
  }
}

TEST(IndexCuda, CrossEntropyAndBackwardMatchCpu) {
  EBM_REQUIRE_CUDA();
  for (auto [n, c] : std::vector<std::pair<int64_t, int64_t>>{
           {1, 1}, {64, 10}, {1000, 3}, {7, 1000}, {4096, 10}, {300, 100}}) {
    check_cross_entropy<float>(n, c);
    check_cross_entropy<double>(n, c);
  }
}

TEST(IndexCuda, AutogradThroughIndexOpsMatchesCpu) {
  EBM_REQUIRE_CUDA();
  const Tensor logits = test::randn({32, 10}, DType::Float32);
  const Tensor table = test::randn({10, 6}, DType::Float32);
  const std::vector<int64_t> lab = random_labels(32, 10);
  std::vector<Tensor> grads[2];
  for (int on_gpu = 0; on_gpu < 2; ++on_gpu) {
    const Device d = on_gpu ? Device::cuda() : Device::cpu();
    Tensor x = logits.to(d).detach().set_requires_grad(true);
    Tensor w = table.to(d).detach().set_requires_grad(true);
    const Tensor labels = labels_on(lab, d);
    // Per-sample rows of a table (index_select, whose gradient is index_add) joined to the
    // logits, a cross-entropy on the joined columns and a gather.
    Tensor joined = concat({x, index_select(w, labels)}, 1);
    Tensor loss = cross_entropy(joined, labels) + sum(gather(x, labels));
    backward(loss);
    grads[on_gpu] = {x.grad().to(Device::cpu()), w.grad().to(Device::cpu())};
    EXPECT_TRUE(x.grad().device() == d);
  }
  EXPECT_LE(test::rel_error(grads[1][0], grads[0][0]), 1e-6);
  EXPECT_LE(test::rel_error(grads[1][1], grads[0][1]), 1e-6);
}

TEST(IndexCuda, BadLabelsAndIndicesOnCudaNameOpValuePositionAndRange) {
  EBM_REQUIRE_CUDA();
  const Device g = Device::cuda();
  const Tensor x = test::randn({3, 4}, DType::Float32).to(g);
  const Tensor bad = labels_on({0, 3, 7}, g);  // 7 at position 2: out of range for 4 classes
  const std::vector<std::string> parts = {"label 7", "position 2", "4 classes", "0 to 3"};
  test::expect_error<ValueError>([&] { ops::gather(x, bad); }, parts);
  test::expect_error<ValueError>([&] { ops::cross_entropy(x, bad); },
                                 {"cross_entropy", "label 7", "position 2", "0 to 3"});
  test::expect_error<ValueError>([&] { ops::one_hot(bad, 4); }, {"one_hot", "label 7"});
  test::expect_error<ValueError>([&] { ops::check_labels(bad, 3, 4, x, "my_op"); },
                                 {"my_op", "label 7", "position 2", "0 to 3"});
  test::expect_error<ValueError>(
      [&] { ops::scatter(test::randn({3}, DType::Float32).to(g), labels_on({-1, 0, 0}, g), 4); },
      {"scatter", "label -1", "position 0"});
  test::expect_error<ValueError>([&] { ops::index_select(x, labels_on({1, 3, 2}, g)); },
                                 {"index_select", "index 3", "position 1", "[0, 3)"});
  test::expect_error<ValueError>([&] { ops::index_add(x, labels_on({0, 5, 1}, g), 5); },
                                 {"index_add", "index 5", "position 1", "[0, 5)"});
  EXPECT_NO_THROW(ops::check_labels(labels_on({0, 3, 2}, g), 3, 4, x, "my_op"));
}

TEST(IndexCuda, MixedDevicesAreDeviceErrors) {
  EBM_REQUIRE_CUDA();
  const Tensor xc = test::randn({3, 4}, DType::Float32), xg = xc.to(Device::cuda());
  const Tensor lc = labels_on({0, 1, 2}, Device::cpu()), lg = labels_on({0, 1, 2}, Device::cuda());
  EXPECT_THROW(ops::gather(xg, lc), DeviceError);
  EXPECT_THROW(ops::gather(xc, lg), DeviceError);
  EXPECT_THROW(ops::cross_entropy(xg, lc), DeviceError);
  EXPECT_THROW(ops::index_select(xg, lc), DeviceError);
  EXPECT_THROW(ops::index_add(xg, lc, 4), DeviceError);
  EXPECT_THROW(ops::scatter(test::randn({3}, DType::Float32).to(Device::cuda()), lc, 4),
               DeviceError);
  EXPECT_THROW(ops::concat({xc, xg}), DeviceError);
  EXPECT_THROW(ops::check_labels(lc, 3, 4, xg, "my_op"), DeviceError);
}

// ------------------------------------------------------------------------------------------------
// the launchers on poisoned, guarded buffers

TEST(IndexCudaLaunchers, CopyRowsAtEveryMisalignmentWritesOnlyItsRows) {
  EBM_REQUIRE_CUDA();
  cudaStream_t s = cuda::current_stream();
  const int64_t outer = 37;
  for (int64_t row : {int64_t(1), int64_t(6), int64_t(16), int64_t(48), int64_t(1001)})
    for (int64_t shift = 0; shift < 16; shift += (row == 1001 ? 5 : 1))
      for (bool indexed : {false, true}) {
        SCOPED_TRACE(::testing::Message() << "row " << row << " shift " << shift
                                          << (indexed ? " indexed" : ""));
        const int64_t dst_stride = row + 16, src_stride = row + shift;
        std::vector<uint8_t> host(static_cast<size_t>(outer * src_stride + 32));
        for (auto& b : host) b = static_cast<uint8_t>(rng()());
        DeviceBuffer<uint8_t> src(host.size()), dst(static_cast<size_t>(outer * dst_stride + 64));
        EBM_CUDA_CHECK(cudaMemcpyAsync(src.get(), host.data(), host.size(), cudaMemcpyHostToDevice, s));
        dst.poison(0xFF);
        const std::vector<int64_t> idx = random_labels(outer, outer);
        const auto gidx = test::upload<int64_t>(labels_on(idx, Device::cpu()));
        const int64_t src_at = 16 - shift / 2;  // the source misaligned too
        cuda::copy_rows(dst.get() + shift, dst_stride, src.get() + src_at, src_stride, row, outer,
                        indexed ? gidx->get() : nullptr, s);
        const std::vector<uint8_t> got = dst.download(0, static_cast<size_t>(outer * dst_stride + 64));
        std::vector<uint8_t> want(got.size(), 0xFF);
        for (int64_t o = 0; o < outer; ++o) {
          const int64_t r = indexed ? idx[o] : o;
          std::memcpy(&want[o * dst_stride + shift], &host[r * src_stride + src_at], row);
        }
        ASSERT_TRUE(want == got) << "a row differs or a gap or guard byte was written";
      }
}

template <class T>
void check_launchers_on_poison() {
  SCOPED_TRACE(dtype_name(dtype_of<T>::value));
  cudaStream_t s = cuda::current_stream();
  const int64_t n = 300, c = 13, K = 500, rows = 9;
  const DType dt = dtype_of<T>::value;
  const Tensor x = test::randn({n, c}, dt), src = test::randn({K, c}, dt), v = test::randn({n}, dt);
  const std::vector<int64_t> lab = random_labels(n, c), idx = random_labels(K, rows);
  const auto gx = test::upload<T>(x), gsrc = test::upload<T>(src), gv = test::upload<T>(v);
  const auto glab = test::upload<int64_t>(labels_on(lab, Device::cpu()));
  const std::vector<int64_t> plan = cuda::index_add_plan(idx.data(), K, rows);
  const auto gplan = test::upload<int64_t>(labels_on(plan, Device::cpu()));
  // Each output at element 1 of a buffer poisoned with 0xFF bytes (NaN), 3 guards after.
  auto run = [&](int64_t count, auto&& launch) {
    DeviceBuffer<T> out(static_cast<size_t>(count), 4);
    out.poison(0xFF);
    launch(out.get() + 1);
    const std::vector<T> all = out.download(0, static_cast<size_t>(count + 4));
    for (int64_t i : {int64_t(0), count + 1, count + 2, count + 3})
      EXPECT_TRUE(std::isnan(all[static_cast<size_t>(i)])) << "guard " << i << " written";
    return std::vector<T>(all.begin() + 1, all.begin() + 1 + count);
  };
  const Tensor lc = labels_on(lab, Device::cpu());
  test::expect_bitwise_equal(
      run(n, [&](T* o) { cuda::gather(gx->get(), glab->get(), o, n, c, s); }), ops::gather(x, lc));
  test::expect_bitwise_equal(
      run(n * c, [&](T* o) { cuda::scatter(gv->get(), glab->get(), o, n, c, s); }),
      ops::scatter(v, lc, c));
  test::expect_bitwise_equal(
      run(n * c, [&](T* o) { cuda::scatter(nullptr, glab->get(), o, n, c, s); }),
      ops::one_hot(lc, c, dtype_of<T>::value));
  test::expect_bitwise_equal(run(rows * c,
                                 [&](T* o) {
                                   cuda::index_add(gsrc->get(), gplan->get(),
                                                   gplan->get() + rows + 1, o, rows, c, s);
                                 }),
                             ops::index_add(src, labels_on(idx, Device::cpu()), rows));
  // cross-entropy: workspaces poisoned too
  DeviceBuffer<double> ws(static_cast<size_t>(n));
  ws.poison(0xFF);
  const std::vector<T> loss = run(1, [&](T* o) {
    cuda::cross_entropy(gx->get(), glab->get(), n, c, ws.get(), o, s); });
  const double want_loss = ops::cross_entropy(x, lc).item();
  EXPECT_LE(std::fabs(loss[0] - want_loss), 1e-6 * std::fabs(want_loss));
  DeviceBuffer<T> lse(static_cast<size_t>(n));
  lse.poison(0xFF);
  const std::vector<T> grad = run(n * c, [&](T* o) {
    cuda::cross_entropy_backward(gx->get(), glab->get(), n, c, nullptr, 2.5, lse.get(), o, s); });
  const Tensor gw = ops::cross_entropy_backward(x, lc, Tensor::scalar(2.5));
  const std::vector<double> tol = grad_tolerance<T>(x, 2.5 / n), w = gw.to_vector<double>();
  for (size_t i = 0; i < w.size(); ++i)
    ASSERT_LE(std::fabs(grad[i] - w[i]), tol[i]) << "gradient element " << i;
}

TEST(IndexCudaLaunchers, OutputsAreWrittenExactlyWithinTheirBounds) {
  EBM_REQUIRE_CUDA();
  check_launchers_on_poison<float>();
  check_launchers_on_poison<double>();
}

}  // namespace
}  // namespace ebm
