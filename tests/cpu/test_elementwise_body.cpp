// The elementwise kernels' per-thread bodies (cuda/kernels/elementwise_body.h), run on the CPU
// over the exact grid the launchers use: every output element must be written exactly once, no
// access may leave its buffer, every 16-byte pack access must be 16-byte aligned (the GPU would
// fault otherwise), and each element must equal the CPU op bit for bit (same functor). Sizes that
// are not multiples of 4 or of the block, misaligned pointers (a view starting at an odd
// element), every broadcast case of test_elementwise.cpp, in place, and grids small enough that
// the grid-stride loops wrap. Also the split of the reduction kernels (reduce_plan.h). No GPU
// and no CUDA toolkit needed.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "kernel_test_util.h"
#include "core/ops/broadcast.h"
#include "core/ops/elementwise.h"
#include "cuda/kernels/elementwise_body.h"
#include "cuda/kernels/reduce_plan.h"

namespace ebm {
namespace {

namespace k = cuda::kernels;

// 64-byte aligned host buffer of n elements (so offset 0 is 16-byte aligned, offset 1 is not).
template <class T>
struct AlignedBuf {
  T* p;
  explicit AlignedBuf(size_t n) {
    size_t bytes = (n * sizeof(T) + 63) / 64 * 64;
    p = static_cast<T*>(std::aligned_alloc(64, bytes ? bytes : 64));
  }
  ~AlignedBuf() { std::free(p); }
  AlignedBuf(const AlignedBuf&) = delete;
  AlignedBuf& operator=(const AlignedBuf&) = delete;
};

// The bodies' memory interface with checks: reads must fall in a registered input (or the
// output, for in-place ops), writes in the output; pack accesses must be 16-byte aligned; writes
// are counted per output element.
template <class T>
struct CountingMem {
  const T* in[2] = {nullptr, nullptr};
  int64_t in_n[2] = {0, 0};
  T* out = nullptr;
  int64_t out_n = 0;
  int* count = nullptr;
  int64_t* bad = nullptr;    // out-of-range or misaligned accesses
  int64_t* packs = nullptr;  // pack accesses made

  bool readable(const T* p, int64_t i, int64_t w) const {
    const T* a = p + i;
    for (int j = 0; j < 2; ++j)
      if (in[j] && a >= in[j] && a + w <= in[j] + in_n[j]) return true;
    return a >= out && a + w <= out + out_n;
  }
  T load(const T* p, int64_t i) const {
    if (!readable(p, i, 1)) return ++*bad, T(0);
    return p[i];
  }
  k::Pack<T> load_pack(const T* p, int64_t i) const {
    ++*packs;
    k::Pack<T> r{};
    if (!k::is_aligned16(p + i) || !readable(p, i, k::Pack<T>::kWidth)) return ++*bad, r;
    for (int j = 0; j < k::Pack<T>::kWidth; ++j) r.v[j] = p[i + j];
    return r;
  }
  void store(T* p, int64_t i, T v) const {
    T* a = p + i;
    if (a < out || a >= out + out_n) {
      ++*bad;
      return;
    }
    *a = v;
    ++count[a - out];
  }
  void store_pack(T* p, int64_t i, const k::Pack<T>& v) const {
    ++*packs;
    if (!k::is_aligned16(p + i)) ++*bad;
    for (int j = 0; j < k::Pack<T>::kWidth; ++j) store(p, i + j, v.v[j]);
  }
};

// Output bookkeeping of one run: counts, bad accesses, packs.
struct Tally {
  std::vector<int> count;
  int64_t bad = 0, packs = 0;
  explicit Tally(int64_t n) : count(static_cast<size_t>(n), 0) {}
  template <class T>
  CountingMem<T> mem(T* out, int64_t n) {
    CountingMem<T> m;
    m.out = out;
    m.out_n = n;
    m.count = count.data();
    m.bad = &bad;
    m.packs = &packs;
    return m;
  }
  // Every element written exactly once, nothing out of bounds or misaligned.
  void expect_clean() const {
    int64_t wrong = 0, first = -1;
    for (size_t i = 0; i < count.size(); ++i)
      if (count[i] != 1 && wrong++ == 0) first = static_cast<int64_t>(i);
    EXPECT_EQ(wrong, 0) << "elements not written exactly once; first is " << first << " (written "
                        << (first >= 0 ? count[first] : 0) << " times)";
    EXPECT_EQ(bad, 0) << "out-of-range or misaligned accesses";
  }
};

template <class F>
void run_grid(const k::ElementwiseLaunch& l, F&& body) {
  for (uint32_t b = 0; b < l.grid; ++b)
    for (uint32_t t = 0; t < l.block; ++t) body(b, t, l.grid, l.block);
}

template <class T>
bool same_bits(T a, T b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

// Compares out[0..n) with ref bit for bit.
template <class T>
void expect_bits(const T* out, const std::vector<T>& ref) {
  int64_t bad = 0, first = -1;
  for (size_t i = 0; i < ref.size(); ++i)
    if (!same_bits(out[i], ref[i]) && bad++ == 0) first = static_cast<int64_t>(i);
  EXPECT_EQ(bad, 0) << "first difference at " << first << ": " << (first >= 0 ? out[first] : T(0))
                    << " vs " << (first >= 0 ? ref[first] : T(0));
}

std::mt19937_64& rng() {
  static std::mt19937_64 gen(std::random_device{}());
  return gen;
}

template <class T>
std::vector<T> random_values(int64_t n, bool positive) {
  std::normal_distribution<double> normal(0.0, 3.0);
  std::uniform_real_distribution<double> pos(0.05, 4.0);
  std::vector<T> v(static_cast<size_t>(n));
  for (auto& e : v) e = static_cast<T>(positive ? pos(rng()) : normal(rng()));
  return v;
}

template <class T>
Tensor tensor_of(const std::vector<T>& v, const Shape& s) {
  return Tensor::from_vector(v, s);
}

const int64_t kSizes[] = {0, 1, 3, 4, 5, 7, 8, 255, 256, 257, 1023, 1025, 4099};
// 1: one block strides over everything; 3: ragged wrap; 1056: an H100's 132 SMs x 8 blocks.
const int64_t kMaxBlocks[] = {1, 3, 1056};

using test::kUnaryCases;
using test::UnaryCase;

// The body of one unary op, instantiated like the kernels: the op as a template argument.
template <class T, bool Vec, class Mem>
void unary_body_for(UnaryOp op, const Mem& mem, const T* x, T* y, int64_t n, T a, T b,
                    uint32_t bi, uint32_t ti, uint32_t g, uint32_t bd) {
  switch (op) {
#define EBM_CASE(O) \
  case UnaryOp::O: return k::unary_body<T, UnaryOp::O, Vec>(mem, x, y, n, a, b, bi, ti, g, bd);
    EBM_CASE(Neg) EBM_CASE(Exp) EBM_CASE(Log) EBM_CASE(Sqrt) EBM_CASE(Abs) EBM_CASE(Sign)
    EBM_CASE(Square) EBM_CASE(Reciprocal) EBM_CASE(Relu) EBM_CASE(Step) EBM_CASE(LeakyRelu)
    EBM_CASE(LeakyReluGrad) EBM_CASE(Silu) EBM_CASE(SiluGrad) EBM_CASE(Softplus) EBM_CASE(Tanh)
    EBM_CASE(Sigmoid) EBM_CASE(Pow) EBM_CASE(Clamp) EBM_CASE(ClampMask) EBM_CASE(Affine)
#undef EBM_CASE
  }
}

template <class T>
void check_unary(const UnaryCase& c) {
  constexpr int64_t W = k::Pack<T>::kWidth;
  for (int64_t n : kSizes) {
    const std::vector<T> xv = random_values<T>(n, c.positive);
    const std::vector<T> ref =
        ops::unary(c.op, tensor_of(xv, Shape{n}), c.a, c.b).template to_vector<T>();
    for (int64_t xoff : {int64_t(0), int64_t(1), W})
      for (int64_t yoff : {int64_t(0), int64_t(1)})
        for (int64_t mb : kMaxBlocks) {
          SCOPED_TRACE(::testing::Message() << unary_op_name(c.op) << " " << sizeof(T) * 8
                                            << "-bit n " << n << " x offset " << xoff
                                            << " y offset " << yoff << " max_blocks " << mb);
          AlignedBuf<T> xb(n + W), yb(n + W);
          T* x = xb.p + xoff;
          T* y = yb.p + yoff;
          std::copy(xv.begin(), xv.end(), x);
          std::fill(y, y + n, T(NAN));
          const k::ElementwiseLaunch l =
              k::plan_contiguous<T>(n, k::is_aligned16(x) && k::is_aligned16(y), mb);
          EXPECT_EQ(l.vec, xoff % W == 0 && yoff % W == 0);
          EXPECT_LE(static_cast<int64_t>(l.grid), mb);
          EXPECT_EQ(l.grid == 0, n == 0);
          Tally tally(n);
          CountingMem<T> mem = tally.mem(y, n);
          mem.in[0] = x;
          mem.in_n[0] = n;
          run_grid(l, [&](uint32_t bi, uint32_t ti, uint32_t g, uint32_t bd) {
            if (l.vec)
              unary_body_for<T, true>(c.op, mem, x, y, n, T(c.a), T(c.b), bi, ti, g, bd);
            else
              unary_body_for<T, false>(c.op, mem, x, y, n, T(c.a), T(c.b), bi, ti, g, bd);
          });
          tally.expect_clean();
          if (l.vec && n >= 2 * W) {
            EXPECT_GT(tally.packs, 0);
          }
          expect_bits(y, ref);
          if (::testing::Test::HasFailure()) return;
        }
  }
}

class UnaryBody : public ::testing::TestWithParam<UnaryCase> {};

TEST_P(UnaryBody, WritesEachElementOnceAndMatchesCpuBits) {
  check_unary<float>(GetParam());
  check_unary<double>(GetParam());
}

INSTANTIATE_TEST_SUITE_P(AllOps, UnaryBody, ::testing::ValuesIn(kUnaryCases),
                         [](const auto& info) { return std::string(unary_op_name(info.param.op)); });

struct BroadcastCase {
  Shape x, y;
};
const BroadcastCase kBroadcastCases[] = {
    // the cases of test_elementwise.cpp
    {{2, 3, 4, 5}, {2, 3, 4, 5}},
    {{2, 3, 4, 5}, {}},
    {{2, 3, 4, 5}, {1, 3, 1, 1}},
    {{1, 3, 1, 1}, {2, 3, 4, 5}},
    {{2, 3, 4, 5}, {5}},
    {{2, 1, 4, 1}, {1, 3, 1, 5}},
    {{64, 32, 33}, {64, 1, 33}},
    {{7, 1}, {1, 9}},
    {{2, 3, 1, 4, 2}, {3, 5, 1, 2}},
    // flat runs with tails, scalars on either side, one element
    {{1031}, {1031}},
    {{1031}, {}},
    {{}, {1031}},
    {{}, {}},
    {{3, 1}, {3, 1}},
    // rows whose inner extent is a multiple of the pack width (packed row walk)
    {{2, 3, 4, 8}, {1, 3, 1, 1}},
    {{6, 4}, {4}},
    {{8, 1}, {1, 12}},
    {{5, 3, 16}, {5, 1, 16}},
};

const BinaryOp kBinaryOps[] = {BinaryOp::Add,     BinaryOp::Sub,     BinaryOp::Mul,
                               BinaryOp::Div,     BinaryOp::Maximum, BinaryOp::Minimum,
                               BinaryOp::GreaterMask};

template <class T, bool Vec, class Mem>
void binary_body_for(BinaryOp op, bool flat, const Mem& mem, const BroadcastPlan& p, const T* x,
                     const T* y, T* z, uint32_t bi, uint32_t ti, uint32_t g, uint32_t bd) {
  switch (op) {
#define EBM_CASE(O)                                                                           \
  case BinaryOp::O:                                                                           \
    if (flat)                                                                                 \
      return k::binary_flat_body<T, BinaryOp::O, Vec>(mem, x, p.sx[0], y, p.sy[0], z,         \
                                                      p.shape[0], bi, ti, g, bd);             \
    return k::binary_rows_body<T, BinaryOp::O, Vec>(mem, p, x, y, z, bi, ti, g, bd);
    EBM_CASE(Add) EBM_CASE(Sub) EBM_CASE(Mul) EBM_CASE(Div) EBM_CASE(Maximum) EBM_CASE(Minimum)
    EBM_CASE(GreaterMask)
#undef EBM_CASE
  }
}

// Runs op over the plan of (xs, ys) with operands copied to the given element offsets; in_place
// writes into the x buffer (needs out == xs). Returns false after a failure.
template <class T>
bool check_binary_once(BinaryOp op, const Shape& xs, const Shape& ys, const std::vector<T>& xv,
                       const std::vector<T>& yv, const std::vector<T>& ref, int64_t xoff,
                       int64_t yoff, int64_t zoff, bool in_place, int64_t mb) {
  constexpr int64_t W = k::Pack<T>::kWidth;
  const Shape out = broadcast_shapes(xs, ys, "test");
  const int64_t n = out.numel(), nx = xs.numel(), ny = ys.numel();
  const BroadcastPlan p = plan_broadcast(out, xs, ys);
  AlignedBuf<T> xb(nx + W), yb(ny + W), zb(n + W);
  T* x = xb.p + xoff;
  T* y = yb.p + yoff;
  T* z = in_place ? x : zb.p + zoff;
  std::copy(xv.begin(), xv.end(), x);
  std::copy(yv.begin(), yv.end(), y);
  if (!in_place) std::fill(z, z + n, T(NAN));
  const k::ElementwiseLaunch l = k::plan_binary<T>(p, x, y, z, mb);
  EXPECT_EQ(l.flat, p.ndim == 1);
  EXPECT_LE(static_cast<int64_t>(l.grid), mb);
  Tally tally(n);
  CountingMem<T> mem = tally.mem(z, n);
  mem.in[0] = x;
  mem.in_n[0] = nx;
  mem.in[1] = y;
  mem.in_n[1] = ny;
  run_grid(l, [&](uint32_t bi, uint32_t ti, uint32_t g, uint32_t bd) {
    if (l.vec)
      binary_body_for<T, true>(op, l.flat, mem, p, x, y, z, bi, ti, g, bd);
    else
      binary_body_for<T, false>(op, l.flat, mem, p, x, y, z, bi, ti, g, bd);
  });
  tally.expect_clean();
  // Aligned operands take the packed path wherever the plan allows it.
  const int last = p.ndim - 1;
  const int64_t z_at = in_place ? xoff : zoff;
  const bool aligned = z_at % W == 0 && (p.sx[last] == 0 || xoff % W == 0) &&
                       (p.sy[last] == 0 || yoff % W == 0);
  EXPECT_EQ(l.vec, aligned && (p.ndim == 1 || p.shape[last] % W == 0));
  expect_bits(z, ref);
  return !::testing::Test::HasFailure();
}

template <class T>
void check_binary(BinaryOp op) {
  for (const auto& c : kBroadcastCases) {
    const Shape out = broadcast_shapes(c.x, c.y, "test");
    const std::vector<T> xv = random_values<T>(c.x.numel(), false);
    const std::vector<T> yv = random_values<T>(c.y.numel(), true);
    const std::vector<T> ref =
        ops::binary(op, tensor_of(xv, c.x), tensor_of(yv, c.y)).template to_vector<T>();
    struct Offsets {
      int64_t x, y, z;
    };
    for (Offsets o : {Offsets{0, 0, 0}, Offsets{1, 0, 0}, Offsets{0, 1, 0}, Offsets{0, 0, 1},
                      Offsets{1, 1, 1}})
      for (int64_t mb : kMaxBlocks) {
        SCOPED_TRACE(::testing::Message() << binary_op_name(op) << " " << sizeof(T) * 8 << "-bit "
                                          << c.x << " " << c.y << " offsets " << o.x << "," << o.y
                                          << "," << o.z << " max_blocks " << mb);
        if (!check_binary_once<T>(op, c.x, c.y, xv, yv, ref, o.x, o.y, o.z, false, mb)) return;
        if (out == c.x &&
            !check_binary_once<T>(op, c.x, c.y, xv, yv, ref, o.x, o.y, 0, true, mb))
          return;
      }
  }
}

class BinaryBody : public ::testing::TestWithParam<BinaryOp> {};

TEST_P(BinaryBody, AllBroadcastCasesWriteEachElementOnceAndMatchCpuBits) {
  check_binary<float>(GetParam());
  check_binary<double>(GetParam());
}

INSTANTIATE_TEST_SUITE_P(AllOps, BinaryBody, ::testing::ValuesIn(kBinaryOps),
                         [](const auto& info) { return std::string(binary_op_name(info.param)); });

TEST(BinaryBody, PlansOfTheBroadcastCases) {
  // Inner strides are 0 or 1, and an operand with inner stride 1 has outer strides that are
  // multiples of the inner extent: what the packed row walk's alignment argument needs.
  for (const auto& c : kBroadcastCases) {
    SCOPED_TRACE(::testing::Message() << c.x << " " << c.y);
    const Shape out = broadcast_shapes(c.x, c.y, "test");
    const BroadcastPlan p = plan_broadcast(out, c.x, c.y);
    ASSERT_GE(p.ndim, 1);
    ASSERT_LE(p.ndim, kMaxDims);
    EXPECT_EQ(p.numel(), out.numel());
    const int last = p.ndim - 1;
    EXPECT_TRUE(p.sx[last] == 0 || p.sx[last] == 1);
    EXPECT_TRUE(p.sy[last] == 0 || p.sy[last] == 1);
    EXPECT_TRUE(p.sx[last] + p.sy[last] > 0 || out.numel() == 1);
    for (int d = 0; d < last; ++d) {
      if (p.sx[last] == 1) {
        EXPECT_EQ(p.sx[d] % p.shape[last], 0);
      }
      if (p.sy[last] == 1) {
        EXPECT_EQ(p.sy[d] % p.shape[last], 0);
      }
    }
  }
  // Per-channel against NCHW is three dims with an inner run of H*W; scalar is one flat run.
  BroadcastPlan pc = plan_broadcast({2, 3, 4, 5}, {2, 3, 4, 5}, {1, 3, 1, 1});
  EXPECT_EQ(pc.ndim, 3);
  EXPECT_EQ(pc.shape[2], 20);
  BroadcastPlan ps = plan_broadcast({2, 3, 4, 5}, {2, 3, 4, 5}, {});
  EXPECT_EQ(ps.ndim, 1);
  EXPECT_EQ(ps.sy[0], 0);
}

template <class T>
void check_axpy() {
  constexpr int64_t W = k::Pack<T>::kWidth;
  const T alpha = T(-0.37);
  for (int64_t n : kSizes) {
    const std::vector<T> xv = random_values<T>(n, false), yv = random_values<T>(n, false);
    Tensor xr = tensor_of(xv, Shape{n});
    ops::axpy_(xr, double(alpha), tensor_of(yv, Shape{n}));
    const std::vector<T> ref = xr.template to_vector<T>();
    for (int64_t xoff : {int64_t(0), int64_t(1)})
      for (int64_t yoff : {int64_t(0), int64_t(1), W})
        for (int64_t mb : kMaxBlocks) {
          SCOPED_TRACE(::testing::Message() << sizeof(T) * 8 << "-bit n " << n << " offsets "
                                            << xoff << "," << yoff << " max_blocks " << mb);
          AlignedBuf<T> xb(n + W), yb(n + W);
          T* x = xb.p + xoff;
          T* y = yb.p + yoff;
          std::copy(xv.begin(), xv.end(), x);
          std::copy(yv.begin(), yv.end(), y);
          const k::ElementwiseLaunch l =
              k::plan_contiguous<T>(n, k::is_aligned16(x) && k::is_aligned16(y), mb);
          EXPECT_EQ(l.vec, xoff % W == 0 && yoff % W == 0);
          Tally tally(n);
          CountingMem<T> mem = tally.mem(x, n);
          mem.in[0] = y;
          mem.in_n[0] = n;
          run_grid(l, [&](uint32_t bi, uint32_t ti, uint32_t g, uint32_t bd) {
            if (l.vec)
              k::axpy_body<T, true>(mem, x, alpha, y, n, bi, ti, g, bd);
            else
              k::axpy_body<T, false>(mem, x, alpha, y, n, bi, ti, g, bd);
          });
          tally.expect_clean();  // a second write would also show as a wrong value below
          expect_bits(x, ref);
          if (::testing::Test::HasFailure()) return;
        }
  }
}

TEST(AxpyBody, WritesEachElementOnceAndMatchesCpuBits) {
  check_axpy<float>();
  check_axpy<double>();
}

template <class U>
void check_fill(U value) {
  constexpr int64_t W = k::Pack<U>::kWidth;
  for (int64_t n : kSizes)
    for (int64_t off : {int64_t(0), int64_t(1), int64_t(3), W})
      for (int64_t mb : kMaxBlocks) {
        SCOPED_TRACE(::testing::Message() << sizeof(U) << "-byte n " << n << " offset " << off
                                          << " max_blocks " << mb);
        AlignedBuf<U> b(n + W);
        U* out = b.p + off;
        std::fill(out, out + n, static_cast<U>(~value));
        const k::ElementwiseLaunch l = k::plan_contiguous<U>(n, k::is_aligned16(out), mb);
        EXPECT_EQ(l.vec, off % W == 0);
        Tally tally(n);
        CountingMem<U> mem = tally.mem(out, n);
        run_grid(l, [&](uint32_t bi, uint32_t ti, uint32_t g, uint32_t bd) {
          if (l.vec)
            k::fill_body<U, true>(mem, out, value, n, bi, ti, g, bd);
          else
            k::fill_body<U, false>(mem, out, value, n, bi, ti, g, bd);
        });
        tally.expect_clean();
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(out[i], value) << i;
        if (::testing::Test::HasFailure()) return;
      }
}

TEST(FillBody, WritesEachElementOnce) {
  check_fill<uint16_t>(0x3f80);
  check_fill<uint32_t>(0x3fc00000u);
  check_fill<uint64_t>(0xbff8000000000000ull);
}

TEST(ElementwiseLaunch, GridIsCappedAndCoversTheUnits) {
  k::ElementwiseLaunch l = k::plan_contiguous<float>(1 << 20, true, 1056);
  EXPECT_TRUE(l.vec);
  EXPECT_EQ(l.units, 1 << 18);
  EXPECT_EQ(l.grid, 1024u);  // one pack per thread
  l = k::plan_contiguous<float>(int64_t(1) << 34, false, 1056);
  EXPECT_EQ(l.grid, 1056u);  // capped: the grid-stride loop does the rest
  l = k::plan_contiguous<float>(3, true, 1056);  // only a tail: 3 threads of one block
  EXPECT_EQ(l.units, 3);
  EXPECT_EQ(l.grid, 1u);
  l = k::plan_contiguous<double>(0, true, 1056);
  EXPECT_EQ(l.grid, 0u);
}

// ---- the split of the reduction kernels

TEST(ReducePlan, ChunksCoverTheAxisOnceAndDependOnTheShapeOnly) {
  const int64_t extents[] = {0, 1, 2, 3, 31, 64, 65, 1000, 4097, 100000, 300000, 1 << 22};
  for (int64_t outer : extents)
    for (int64_t r : extents)
      for (int64_t inner : {int64_t(1), int64_t(2), int64_t(5), int64_t(4096)}) {
        if (outer * r * inner > (int64_t(1) << 34)) continue;
        SCOPED_TRACE(::testing::Message() << "(" << outer << ", " << r << ", " << inner << ")");
        const k::ReducePlan p = k::plan_reduce(outer, r, inner);
        EXPECT_EQ(p.rows, inner == 1);
        ASSERT_GE(p.chunks, 1);
        if (p.chunks == 1) {
          EXPECT_EQ(p.chunk_len, r);
          EXPECT_EQ(p.workspace_elems, 0);
          continue;
        }
        // Chunks [c*len, min(r, (c+1)*len)) tile [0, r) with no empty chunk.
        EXPECT_LT((p.chunks - 1) * p.chunk_len, r);
        EXPECT_GE(p.chunks * p.chunk_len, r);
        EXPECT_GE(p.chunk_len, p.rows ? k::kRowMinChunk : k::kColMinChunk);
        EXPECT_EQ(p.workspace_elems, outer * p.chunks * inner);
        EXPECT_LT(outer * inner, p.rows ? k::kRowTargetBlocks : k::kColTargetThreads);
      }
  // The two-pass shapes of tests/cuda/test_reduce_cuda.cpp do split.
  EXPECT_GT(k::plan_reduce(2, 300000, 1).chunks, 1);
  EXPECT_GT(k::plan_reduce(1, 1 << 20, 1).chunks, 1);
  EXPECT_GT(k::plan_reduce(3, 100000, 5).chunks, 1);
  EXPECT_EQ(k::plan_reduce(4096, 256, 1).chunks, 1);   // many rows: one pass
  EXPECT_EQ(k::plan_reduce(64, 3, 1024).chunks, 1);    // short columns: one pass
}

}  // namespace
}  // namespace ebm
