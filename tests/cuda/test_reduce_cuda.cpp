// The reductions on cuda tensors against the CPU backend, in one parametrised harness: each case
// (shape, axes, keepdim) runs sum, mean, max and logsumexp in float32 and float64 on fresh random
// inputs, over shapes that take every kernel path: block-per-row and thread-per-column, one pass
// and two passes through the workspace, several axes reduced one after another, all axes, an
// empty axis. Single-axis cases also call the launcher on a poisoned, guarded output. The GPU
// result must be deterministic (two runs, same bits).
//
// Tolerances (per output element; S = Σ|x| over the elements it reduces, computed in double):
//  - sum, float32: both backends add in double and round each pass's result to float once. The
//    rounding of one pass differs by at most one float ulp of its partial sum, <= 2^-23·S, and
//    earlier passes' differences add up linearly, so |gpu - cpu| <= passes·2^-23·S, plus the
//    double-precision noise of both orders of addition, <= 2·Σ_pass (r + 8)·2^-53·S (r + 8 covers
//    the GPU's tree and two-pass orders). This is far tighter than float accumulation would allow
//    (~1e-6·sqrt(r) relative), which is why the kernels accumulate in double (cuda/kernels/reduce.cu).
//  - sum, float64: the noise term alone, 2·Σ_pass (r + 8)·2^-53·S (first-order bound of any
//    summation order, for each side).
//  - mean = sum · (1/count), the same functor on both sides: the sum's bound / count, plus one ulp.
//  - max: bit for bit (comparisons only).
//  - logsumexp = m + log s, s = Σ exp(x - m) >= 1: m is exact, the exps equal bit for bit in float
//    (portable exp) and within 2 ulp in double, so s differs relatively by the sum bound over S = s
//    (+ 2·2^-52 in double); log adds its libm difference (2 ulp of log s) and the final add one
//    ulp of the result: rel_s + 2·eps·|log s| + eps·|lse|.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/ops/elementwise.h"
#include "core/ops/reduce.h"
#include "cuda/reduce.h"
#include "cuda_test_util.h"

namespace ebm {
namespace {

using test::DeviceBuffer;

struct ReduceCase {
  Shape shape;
  std::vector<int> axes;
  bool keepdim = false;
};

std::mt19937_64& rng() {
  static std::mt19937_64 gen(std::random_device{}());
  return gen;
}

Tensor randn(const Shape& s, DType dt) {
  std::normal_distribution<double> d(0.0, 2.0);
  std::vector<double> v(static_cast<size_t>(s.numel()));
  for (auto& e : v) e = d(rng());
  return Tensor::from_vector(v, s).to(dt);
}

template <class T>
bool same_bits(T a, T b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

// |got - ref| <= tol[i] for every element (bit-equal values always pass, NaN never otherwise).
template <class T>
::testing::AssertionResult within(const Tensor& got, const Tensor& ref, const std::vector<double>& tol,
                                  const char* what) {
  if (got.shape() != ref.shape())
    return ::testing::AssertionFailure() << what << ": shape " << got.shape() << " vs " << ref.shape();
  const std::vector<T> g = got.to_vector<T>(), r = ref.to_vector<T>();
  for (size_t i = 0; i < r.size(); ++i) {
    if (same_bits(g[i], r[i])) continue;
    const double d = std::fabs(static_cast<double>(g[i]) - static_cast<double>(r[i]));
    if (!(d <= tol[i]))
      return ::testing::AssertionFailure() << what << " element " << i << ": cuda " << g[i]
                                           << " vs cpu " << r[i] << " (difference " << d
                                           << ", tolerance " << tol[i] << ")";
  }
  return ::testing::AssertionSuccess();
}

class ReduceCuda : public ::testing::TestWithParam<ReduceCase> {
 protected:
  template <class T>
  void run_case();
};

template <class T>
void ReduceCuda::run_case() {
  const ReduceCase& c = GetParam();
  const DType dt = dtype_of<T>::value;
  const bool f32 = dt == DType::Float32;
  const double eps = f32 ? std::ldexp(1.0, -23) : std::ldexp(1.0, -52);
  const Tensor x = randn(c.shape, dt);
  const Tensor xd = x.to(Device::cuda());
  const std::vector<int> axes = ops::resolve_axes(c.shape, c.axes, "test");
  int64_t r_total = 1, r_terms = 0;
  for (int a : axes) {
    r_total *= c.shape[a];
    r_terms += c.shape[a] + 8;
  }
  const int passes = static_cast<int>(axes.size());
  // S = Σ|x| per output, in double on the CPU.
  const std::vector<double> S =
      ops::sum(ops::unary(UnaryOp::Abs, x.to(DType::Float64)), c.axes, c.keepdim).to_vector<double>();
  const double noise = 2.0 * static_cast<double>(r_terms) * std::ldexp(1.0, -53);
  const double rel_sum = (f32 ? passes * eps : 0.0) + noise;  // relative to S

  // sum
  const Tensor ref_sum = ops::sum(x, c.axes, c.keepdim), got_sum = ops::sum(xd, c.axes, c.keepdim);
  ASSERT_TRUE(got_sum.device().is_cuda());
  std::vector<double> tol(S.size());
  for (size_t i = 0; i < S.size(); ++i) tol[i] = rel_sum * S[i];
  EXPECT_TRUE(within<T>(got_sum, ref_sum, tol, "sum"));
  // deterministic: a second run gives the same bits
  const std::vector<T> first = got_sum.to_vector<T>(),
                       again = ops::sum(xd, c.axes, c.keepdim).to_vector<T>();
  for (size_t i = 0; i < first.size(); ++i)
    ASSERT_TRUE(same_bits(first[i], again[i])) << "sum is not deterministic at " << i;
  if (r_total == 0) return;  // max and logsumexp refuse empty axes; mean divides 0 by 0

  // mean
  const int64_t count = r_total;
  const Tensor ref_mean = ops::mean(x, c.axes, c.keepdim);
  const std::vector<T> rm = ref_mean.to_vector<T>();
  for (size_t i = 0; i < S.size(); ++i)
    tol[i] = rel_sum * S[i] / static_cast<double>(count) + eps * std::fabs(static_cast<double>(rm[i]));
  EXPECT_TRUE(within<T>(ops::mean(xd, c.axes, c.keepdim), ref_mean, tol, "mean"));

  // max: bit for bit
  const Tensor ref_max = ops::max(x, c.axes, c.keepdim);
  std::fill(tol.begin(), tol.end(), 0.0);
  EXPECT_TRUE(within<T>(ops::max(xd, c.axes, c.keepdim), ref_max, tol, "max"));

  // logsumexp
  const Tensor ref_lse = ops::logsumexp(x, c.axes, c.keepdim);
  const std::vector<T> rl = ref_lse.to_vector<T>(), mx = ref_max.to_vector<T>();
  const double rel_s = rel_sum + (f32 ? 0.0 : 2.0 * eps);
  for (size_t i = 0; i < rl.size(); ++i) {
    const double lse = static_cast<double>(rl[i]), log_s = lse - static_cast<double>(mx[i]);
    tol[i] = rel_s + 2.0 * eps * std::fabs(log_s) + eps * std::fabs(lse);
  }
  EXPECT_TRUE(within<T>(ops::logsumexp(xd, c.axes, c.keepdim), ref_lse, tol, "logsumexp"));

  // the launcher on a poisoned output with guards (single-axis cases): sum and max
  if (axes.size() != 1) return;
  const int ax = axes[0];
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < ax; ++i) outer *= c.shape[i];
  for (int i = ax + 1; i < c.shape.ndim(); ++i) inner *= c.shape[i];
  const int64_t r = c.shape[ax], n = outer * inner;
  cudaStream_t stream = cuda::current_stream();
  for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Max}) {
    SCOPED_TRACE(op == ReduceOp::Sum ? "launcher sum" : "launcher max");
    const size_t ws_bytes = cuda::reduce_workspace_bytes(op, dt, outer, r, inner);
    DeviceBuffer<double> ws((ws_bytes + 7) / 8);
    ws.poison(0xFF);
    DeviceBuffer<T> out(static_cast<size_t>(n), 4);
    out.poison(0xFF);
    cuda::reduce_axis(op, static_cast<const T*>(xd.data_ptr()), out.get() + 1, outer, r, inner,
                      ws_bytes ? ws.get() : nullptr, ws_bytes, stream);
    const std::vector<T> all = out.download(0, static_cast<size_t>(n + 4));
    const std::vector<T> ref =
        (op == ReduceOp::Sum ? ref_sum : ref_max).template to_vector<T>();
    for (int64_t i = 0; i < n + 4; ++i) {
      if (i == 0 || i > n) {
        uint64_t bits = 0;
        std::memcpy(&bits, &all[i], sizeof(T));
        ASSERT_EQ(bits, sizeof(T) == 4 ? 0xFFFFFFFFull : ~0ull) << "guard element " << i;
        continue;
      }
      const T g = all[i], e = ref[i - 1];
      const double t = op == ReduceOp::Sum ? rel_sum * S[i - 1] : 0.0;
      ASSERT_TRUE(same_bits(g, e) || std::fabs(double(g) - double(e)) <= t)
          << "output " << i - 1 << ": " << g << " vs " << e;
    }
  }
}

TEST_P(ReduceCuda, SumMeanMaxLogsumexpMatchCpu) {
  EBM_REQUIRE_CUDA();
  {
    SCOPED_TRACE("float32");
    run_case<float>();
  }
  {
    SCOPED_TRACE("float64");
    run_case<double>();
  }
}

std::vector<ReduceCase> all_cases() {
  std::vector<ReduceCase> cases;
  bool keep = false;
  for (const std::vector<int>& axes :
       std::vector<std::vector<int>>{{0}, {1}, {2}, {0, 1}, {0, 2}, {1, 2}, {}}) {
    cases.push_back({{37, 41, 29}, axes, keep});
    keep = !keep;
  }
  cases.push_back({{2, 300000}, {1}, false});      // rows, two passes
  cases.push_back({{2, 300000}, {0}, true});       // columns of 2, one pass
  cases.push_back({{1 << 20}, {}, false});         // one row of 1M: two passes
  cases.push_back({{3, 100000, 5}, {1}, false});   // columns, two passes
  cases.push_back({{3, 100000, 5}, {0, 2}, true});
  cases.push_back({{64, 3, 32, 32}, {0, 2, 3}, true});  // per-channel (bias gradient)
  cases.push_back({{64, 3, 32, 32}, {1}, false});
  cases.push_back({{64, 3, 32, 32}, {}, false});
  cases.push_back({{4096, 256}, {1}, false});      // many rows, one pass
  cases.push_back({{4096, 256}, {0}, false});      // many columns, one pass
  cases.push_back({{5, 0, 3}, {1}, false});        // empty axis: sums are 0
  cases.push_back({{7}, {0}, true});
  cases.push_back({{}, {}, false});                // a scalar: a copy
  return cases;
}

std::string case_name(const ReduceCase& c) {
  std::string s = "s";
  for (int i = 0; i < c.shape.ndim(); ++i) s += (i ? "x" : "") + std::to_string(c.shape[i]);
  s += "_axes";
  if (c.axes.empty()) s += "_all";
  for (int a : c.axes) s += "_" + std::to_string(a);
  return s + (c.keepdim ? "_keepdim" : "");
}

INSTANTIATE_TEST_SUITE_P(Shapes, ReduceCuda, ::testing::ValuesIn(all_cases()),
                         [](const auto& info) { return case_name(info.param); });

}  // namespace
}  // namespace ebm
