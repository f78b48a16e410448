// The elementwise ops on cuda tensors against the CPU backend (style.md practice 5: one
// parametrised harness, each case one op): every unary op, every binary op over the broadcast
// cases, binary_, axpy_ and fill_, float32 and float64, fresh random inputs each run. Each case
// runs twice: through the op API on cuda tensors (inputs as views inside guard regions filled with
// NaN bytes, which must stay untouched), and through the launcher on an output buffer that is
// poisoned first and guarded on both sides, with inputs and output at an odd element offset in
// the misaligned cases (the scalar path) and aligned otherwise (the 16-byte path).
//
// Tolerances, |gpu - cpu| <= ulps * ulp(cpu) + abs: 0 (bit for bit) wherever the functor uses only
// correctly rounded operations: + - * / sqrt, comparisons, the never-fused mul_add_rn, and float
// exp, which is core/math.h's portable exp on both sides (so sigmoid, silu, silu_grad in float).
// Where the functor calls the C library, the two sides are different libms; each is within its
// documented maximum error of the correctly rounded result, so they differ by at most the sum
// (CUDA C++ Programming Guide, mathematical functions appendix; glibc's libm-test-ulps for x86_64):
//   float:  logf 1+1 = 2; tanhf 2+2 = 4; powf 4+1 = 5; softplus = max(x,0) + log1pf(e): log1pf
//           1+1, whose term is at most the result, plus one possibly different final rounding: 3.
//   double: exp 1+1 = 2; log 1+1 = 2; tanh 1+2 = 3; pow 2+1 = 3; sigmoid 1/(1+e) and e/(1+e)
//           from an exp 2 ulp apart: 2 (e) + 1 (1+e) + 1 (quotient) + 1 (product) + 2 slack = 7,
//           silu one product more: 8; softplus: exp 2 carried through log1p, log1p 1+1, add 1: 5.
//           silu_grad = s * (1 + x * (1 - s)) cancels in 1 - s (s near 1) and in 1 + x(1-s)
//           (near its zero at x ~ -1.28): an absolute error of (7|x| + 2) eps with |x| <= 16 in
//           these inputs, so 10 ulp plus 128 eps absolute.
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <cstring>
#include <iterator>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "core/ops/broadcast.h"
#include "core/ops/elementwise.h"
#include "cuda/elementwise.h"
#include "cuda_test_util.h"

namespace ebm {
namespace {

using test::DeviceBuffer;

enum class Kind { Unary, Binary, BinaryInPlace, Axpy, Fill };

struct EwCase {
  std::string name;
  Kind kind = Kind::Unary;
  UnaryOp uop = UnaryOp::Neg;
  BinaryOp bop = BinaryOp::Add;
  double a = 0, b = 0;  // unary parameters; axpy alpha = a; fill value = a
  Shape x, y;
  bool positive = false;    // x drawn from (0.05, 4) (domains of log, sqrt, pow, reciprocal)
  bool misaligned = false;  // data at an odd element offset
  int ulp32 = 0, ulp64 = 0;  // tolerance in ulps of the CPU value (0 and abs 0: bit for bit)
  double abs64_eps = 0;      // absolute floor for float64, in units of 2^-52
};

std::mt19937_64& rng() {
  static std::mt19937_64 gen(std::random_device{}());
  return gen;
}

Tensor random_tensor(const Shape& s, bool positive, DType dt) {
  std::normal_distribution<double> normal(0.0, 3.0);
  std::uniform_real_distribution<double> pos(0.05, 4.0);
  std::vector<double> v(static_cast<size_t>(s.numel()));
  for (auto& e : v) e = positive ? pos(rng()) : normal(rng());
  return Tensor::from_vector(v, s).to(dt);
}

// A cuda copy of t as a view at element `offset` of a buffer whose other elements (`offset`
// before, 3 after) hold NaN bytes; check_guards() says whether they still do.
struct Guarded {
  Tensor whole, view;
  int64_t offset = 0, n = 0;
  Guarded(const Tensor& t, int64_t off) : offset(off), n(t.numel()) {
    whole = Tensor::empty({n + off + 3}, t.dtype(), Device::cuda());
    EBM_CUDA_CHECK(cudaMemsetAsync(whole.data_ptr(), 0xFF, whole.nbytes(), cuda::current_stream()));
    view = whole.slice(off, off + n).view(t.shape());
    view.copy_(t);
  }
  ::testing::AssertionResult guards_intact() const {
    std::vector<unsigned char> bytes(whole.nbytes());
    cuda::synchronize();
    EBM_CUDA_CHECK(cudaMemcpy(bytes.data(), whole.data_ptr(), bytes.size(), cudaMemcpyDeviceToHost));
    const size_t es = element_size(whole.dtype());
    for (size_t i = 0; i < bytes.size(); ++i) {
      const int64_t e = static_cast<int64_t>(i / es);
      if ((e < offset || e >= offset + n) && bytes[i] != 0xFF)
        return ::testing::AssertionFailure() << "guard element " << e << " was written";
    }
    return ::testing::AssertionSuccess();
  }
};

template <class T>
bool close(T got, T ref, int ulps, double abs_tol) {
  if (std::memcmp(&got, &ref, sizeof(T)) == 0) return true;
  if (ulps == 0 && abs_tol == 0) return false;  // bit for bit
  if (std::isnan(got) || std::isnan(ref)) return false;
  const T mag = std::fabs(ref);
  const double ulp = static_cast<double>(std::nextafter(mag, T(INFINITY)) - mag);
  return std::fabs(static_cast<double>(got) - static_cast<double>(ref)) <= ulps * ulp + abs_tol;
}

template <class T>
::testing::AssertionResult all_close(const std::vector<T>& got, const std::vector<T>& ref,
                                     int ulps, double abs_tol) {
  if (got.size() != ref.size())
    return ::testing::AssertionFailure() << got.size() << " values vs " << ref.size();
  for (size_t i = 0; i < ref.size(); ++i)
    if (!close(got[i], ref[i], ulps, abs_tol))
      return ::testing::AssertionFailure()
             << "element " << i << ": cuda " << got[i] << " vs cpu " << ref[i] << " (tolerance "
             << ulps << " ulp + " << abs_tol << ")";
  return ::testing::AssertionSuccess();
}

class ElementwiseCuda : public ::testing::TestWithParam<EwCase> {
 protected:
  template <class T>
  void run_case();
};

template <class T>
void ElementwiseCuda::run_case() {
  const EwCase& c = GetParam();
  const DType dt = dtype_of<T>::value;
  const bool f32 = dt == DType::Float32;
  const int ulps = f32 ? c.ulp32 : c.ulp64;
  const double abs_tol = f32 ? 0.0 : c.abs64_eps * std::ldexp(1.0, -52);
  const int64_t off = c.misaligned ? 1 : 0;
  cudaStream_t stream = cuda::current_stream();

  Tensor x = random_tensor(c.x, c.positive, dt);
  Tensor y = c.kind == Kind::Unary || c.kind == Kind::Fill ? Tensor()
                                                            : random_tensor(c.y, true, dt);
  Guarded gx(x, off);
  std::optional<Guarded> gy;
  if (y.defined()) gy.emplace(y, off);

  // 1. the op API on cuda tensors vs the CPU
  Tensor ref, got;
  switch (c.kind) {
    case Kind::Unary:
      ref = ops::unary(c.uop, x, c.a, c.b);
      got = ops::unary(c.uop, gx.view, c.a, c.b);
      break;
    case Kind::Binary:
      ref = ops::binary(c.bop, x, y);
      got = ops::binary(c.bop, gx.view, gy->view);
      break;
    case Kind::BinaryInPlace:
      ref = x.clone();
      ops::binary_(c.bop, ref, y);
      ops::binary_(c.bop, gx.view, gy->view);
      got = gx.view;
      break;
    case Kind::Axpy:
      ref = x.clone();
      ops::axpy_(ref, c.a, y);
      ops::axpy_(gx.view, c.a, gy->view);
      got = gx.view;
      break;
    case Kind::Fill:
      ref = x.clone().fill_(c.a);
      gx.view.fill_(c.a);
      got = gx.view;
      break;
  }
  ASSERT_TRUE(got.device().is_cuda());
  ASSERT_EQ(got.shape(), ref.shape());
  EXPECT_TRUE(all_close(got.to_vector<T>(), ref.to_vector<T>(), ulps, abs_tol)) << "op API";
  EXPECT_TRUE(gx.guards_intact()) << "x";
  if (gy) EXPECT_TRUE(gy->guards_intact()) << "y";
  if (c.kind != Kind::Unary && c.kind != Kind::Binary) return;  // in place: done above

  // 2. the launcher on a poisoned, guarded output (at the same offset as the inputs)
  const int64_t n = ref.numel();
  DeviceBuffer<T> out(static_cast<size_t>(n), static_cast<size_t>(off + 3));
  out.poison(0xFF);
  Guarded fx(x, off);
  if (c.kind == Kind::Unary) {
    cuda::unary(c.uop, static_cast<const T*>(fx.view.data_ptr()), out.get() + off, n, T(c.a),
                T(c.b), stream);
  } else {
    Guarded fy(y, off);
    const BroadcastPlan plan = plan_broadcast(ref.shape(), x.shape(), y.shape());
    cuda::binary(c.bop, plan, static_cast<const T*>(fx.view.data_ptr()),
                 static_cast<const T*>(fy.view.data_ptr()), out.get() + off, stream);
    cuda::synchronize();
  }
  const std::vector<T> all = out.download(0, static_cast<size_t>(n + off + 3));
  const std::vector<T> body(all.begin() + off, all.begin() + off + n);
  EXPECT_TRUE(all_close(body, ref.to_vector<T>(), ulps, abs_tol)) << "launcher";
  for (int64_t i = 0; i < off + 3; ++i) {
    const int64_t e = i < off ? i : n + i;
    uint64_t bits = 0;
    std::memcpy(&bits, &all[e], sizeof(T));
    EXPECT_EQ(bits, sizeof(T) == 4 ? 0xFFFFFFFFull : ~0ull) << "guard element " << e << " written";
  }
}

TEST_P(ElementwiseCuda, MatchesCpu) {
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

std::string sanitize(std::string s) {
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

std::string shape_name(const Shape& s) {
  std::string out = "s";
  for (int i = 0; i < s.ndim(); ++i) out += (i ? "x" : "") + std::to_string(s[i]);
  return out;
}

struct UnaryTol {
  UnaryOp op;
  double a, b;
  bool positive;
  int ulp32, ulp64;
  double abs64_eps;
};
// Tolerances derived in the file comment.
const UnaryTol kUnary[] = {
    {UnaryOp::Neg, 0, 0, false, 0, 0, 0},          {UnaryOp::Exp, 0, 0, false, 0, 2, 0},
    {UnaryOp::Log, 0, 0, true, 2, 2, 0},           {UnaryOp::Sqrt, 0, 0, true, 0, 0, 0},
    {UnaryOp::Abs, 0, 0, false, 0, 0, 0},          {UnaryOp::Sign, 0, 0, false, 0, 0, 0},
    {UnaryOp::Square, 0, 0, false, 0, 0, 0},       {UnaryOp::Reciprocal, 0, 0, true, 0, 0, 0},
    {UnaryOp::Relu, 0, 0, false, 0, 0, 0},         {UnaryOp::Step, 0, 0, false, 0, 0, 0},
    {UnaryOp::LeakyRelu, 0.2, 0, false, 0, 0, 0},  {UnaryOp::LeakyReluGrad, 0.2, 0, false, 0, 0, 0},
    {UnaryOp::Silu, 0, 0, false, 0, 8, 0},         {UnaryOp::SiluGrad, 0, 0, false, 0, 10, 128},
    {UnaryOp::Softplus, 0, 0, false, 3, 5, 0},     {UnaryOp::Tanh, 0, 0, false, 4, 3, 0},
    {UnaryOp::Sigmoid, 0, 0, false, 0, 7, 0},      {UnaryOp::Pow, 2.5, 0, true, 5, 3, 0},
    {UnaryOp::Clamp, -0.5, 0.7, false, 0, 0, 0},   {UnaryOp::ClampMask, -0.5, 0.7, false, 0, 0, 0},
    {UnaryOp::Affine, -1.5, 0.25, false, 0, 0, 0},
};

struct BroadcastShapes {
  Shape x, y;
};
const BroadcastShapes kBroadcast[] = {
    {{2, 3, 4, 5}, {2, 3, 4, 5}}, {{2, 3, 4, 5}, {}},           {{2, 3, 4, 5}, {1, 3, 1, 1}},
    {{1, 3, 1, 1}, {2, 3, 4, 5}}, {{2, 3, 4, 5}, {5}},          {{2, 1, 4, 1}, {1, 3, 1, 5}},
    {{64, 32, 33}, {64, 1, 33}},  {{7, 1}, {1, 9}},             {{2, 3, 1, 4, 2}, {3, 5, 1, 2}},
    {{1031}, {1031}},             {{}, {1031}},                 {{16, 64, 32, 32}, {1, 64, 1, 1}},
    {{6, 4}, {4}},                {{1 << 20}, {1 << 20}},
};

const BinaryOp kBinaryOps[] = {BinaryOp::Add,     BinaryOp::Sub,     BinaryOp::Mul,
                               BinaryOp::Div,     BinaryOp::Maximum, BinaryOp::Minimum,
                               BinaryOp::GreaterMask};

std::vector<EwCase> all_cases() {
  std::vector<EwCase> cases;
  const Shape unary_shapes[] = {{3, 5, 67, 71}, {1031}, {4, 4}};
  for (const UnaryTol& u : kUnary)
    for (const Shape& s : unary_shapes)
      for (bool mis : {false, true}) {
        EwCase c;
        c.kind = Kind::Unary;
        c.uop = u.op;
        c.a = u.a;
        c.b = u.b;
        c.x = s;
        c.positive = u.positive;
        c.misaligned = mis;
        c.ulp32 = u.ulp32;
        c.ulp64 = u.ulp64;
        c.abs64_eps = u.abs64_eps;
        c.name = sanitize(std::string("unary_") + unary_op_name(u.op) + "_" + shape_name(s) +
                          (mis ? "_misaligned" : ""));
        cases.push_back(c);
      }
  for (BinaryOp op : kBinaryOps)
    for (size_t i = 0; i < std::size(kBroadcast); ++i)
      for (bool mis : {false, true}) {
        const BroadcastShapes& bs = kBroadcast[i];
        EwCase c;
        c.kind = Kind::Binary;
        c.bop = op;
        c.x = bs.x;
        c.y = bs.y;
        c.misaligned = mis;
        c.name = sanitize(std::string("binary_") + binary_op_name(op) + "_" + shape_name(bs.x) +
                          "_" + shape_name(bs.y) + (mis ? "_misaligned" : ""));
        cases.push_back(c);
        if (broadcast_shapes(bs.x, bs.y, "test") == bs.x) {
          c.kind = Kind::BinaryInPlace;
          c.name = sanitize(std::string("binary_inplace_") + binary_op_name(op) + "_" +
                            shape_name(bs.x) + "_" + shape_name(bs.y) + (mis ? "_misaligned" : ""));
          cases.push_back(c);
        }
      }
  for (const Shape& s : {Shape{1031}, Shape{3, 5, 67, 71}, Shape{1 << 20}})
    for (bool mis : {false, true}) {
      EwCase c;
      c.kind = Kind::Axpy;
      c.a = -0.37;
      c.x = c.y = s;
      c.misaligned = mis;
      c.name = sanitize("axpy_" + shape_name(s) + (mis ? "_misaligned" : ""));
      cases.push_back(c);
    }
  int fills = 0;
  for (double v : {0.0, -0.0, 1.5, -3.0e38, 1.0e-310})
    for (const Shape& s : {Shape{1031}, Shape{2, 3, 4, 5}})
      for (bool mis : {false, true}) {
        EwCase c;
        c.kind = Kind::Fill;
        c.a = v;
        c.x = s;
        c.misaligned = mis;
        c.name = "fill_" + std::to_string(fills++) + "_" + shape_name(s) + (mis ? "_misaligned" : "");
        cases.push_back(c);
      }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(AllOps, ElementwiseCuda, ::testing::ValuesIn(all_cases()),
                         [](const auto& info) { return info.param.name; });

// Fills of 2-byte elements (bf16/fp16 bit patterns) through the launcher, at every offset mod 8.
TEST(ElementwiseCudaFill, TwoByteElements) {
  EBM_REQUIRE_CUDA();
  for (int64_t off = 0; off < 8; ++off)
    for (int64_t n : {1, 7, 8, 1031}) {
      DeviceBuffer<uint16_t> buf(static_cast<size_t>(n), static_cast<size_t>(off + 3));
      buf.poison(0xFF);
      cuda::fill(buf.get() + off, n, 2, 0x3f80, cuda::current_stream());
      const std::vector<uint16_t> all = buf.download(0, static_cast<size_t>(n + off + 3));
      for (int64_t i = 0; i < n + off + 3; ++i)
        ASSERT_EQ(all[i], i >= off && i < off + n ? 0x3f80 : 0xFFFF)
            << "element " << i << " offset " << off << " n " << n;
    }
}

}  // namespace
}  // namespace ebm
