// The indexing kernels' per-thread bodies (cuda/kernels/index_body.h), run on the CPU over the
// exact grids their launchers make (cuda/kernels/index.cu), against the CPU ops: row copies in
// every unit width (1 to 16 bytes, strided, gaps left untouched, with and without an index),
// index_add through the host-built row-grouped plan (bit for bit, repeated indices and empty
// rows), gather, scatter, one_hot, and the cross-entropy row and element passes (bit for bit: the
// same functors on the same host). Grids of 1 and 3 blocks make the grid-stride loops wrap.
// Outputs are poisoned (NaN / 0xAB bytes) and guarded. Needs no GPU and no CUDA toolkit.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "core/ops/index.h"
#include "cuda/index.h"
#include "cuda/kernels/index_body.h"
#include "kernel_test_util.h"

namespace ebm {
namespace {

namespace k = cuda::kernels;
using test::expect_bitwise_equal;

// 1: one block strides over everything; 3: ragged wrap; 1056: an H100's 132 SMs x 8 waves.
const int64_t kMaxBlocks[] = {1, 3, 1056};

std::mt19937_64& rng() {
  static std::mt19937_64 gen(std::random_device{}());
  return gen;
}

// Calls body(block, thread, grid, block_dim) over the launch grid for `work` items.
template <class Body>
void run_grid(int64_t work, int64_t max_blocks, Body&& body) {
  const k::IndexLaunchDims d = k::index_launch_dims(work, max_blocks);
  EXPECT_EQ(d.grid == 0, work <= 0);
  EXPECT_LE(static_cast<int64_t>(d.grid), max_blocks);
  for (uint32_t b = 0; b < d.grid; ++b)
    for (uint32_t t = 0; t < d.block; ++t) body(b, t, d.grid, d.block);
}

std::vector<int64_t> random_labels(int64_t n, int64_t classes) {
  std::uniform_int_distribution<int64_t> d(0, classes - 1);
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (auto& e : v) e = d(rng());
  return v;
}

Tensor random_tensor(const Shape& s, DType dt) {
  std::normal_distribution<double> d(0.0, 2.0);
  std::vector<double> v(static_cast<size_t>(s.numel()));
  for (auto& e : v) e = d(rng());
  return Tensor::from_vector(v, s).to(dt);
}

struct alignas(16) Unit16 {
  uint32_t v[4];
};

TEST(IndexBody, LaunchDimensions) {
  EXPECT_EQ(k::index_launch_dims(0, 1056).grid, 0u);
  k::IndexLaunchDims d = k::index_launch_dims(1000, 1056);
  EXPECT_EQ(d.grid, 4u);
  EXPECT_EQ(d.block, k::kIndexBlock);
  EXPECT_EQ(k::index_launch_dims(int64_t(1) << 40, 1056).grid, 1056u);
}

TEST(IndexBody, CopyUnitIsTheWidestThatDividesEveryAddress) {
  alignas(16) static char buf[64];
  EXPECT_EQ(k::copy_unit_bytes(buf, buf + 16, 32, 48, 16), 16);
  EXPECT_EQ(k::copy_unit_bytes(buf, buf + 16, 32, 48, 24), 8);
  EXPECT_EQ(k::copy_unit_bytes(buf, buf + 4, 32, 48, 16), 4);
  EXPECT_EQ(k::copy_unit_bytes(buf, buf, 6, 48, 16), 2);
  EXPECT_EQ(k::copy_unit_bytes(buf + 1, buf, 32, 48, 16), 1);
  EXPECT_EQ(k::copy_unit_bytes(buf, buf, 0, 0, 12), 4);
}

// Rows of `row` units of U copied with strides of row + gap units; the gaps and a guard after
// the last row must keep their poison, each copied unit must equal its source.
template <class U>
void check_copy_rows(int64_t outer, int64_t row, int64_t gap, bool with_index, int64_t mb) {
  SCOPED_TRACE(::testing::Message() << sizeof(U) << "-byte units, outer " << outer << " row "
                                    << row << " gap " << gap << (with_index ? " indexed" : "")
                                    << " max_blocks " << mb);
  const int64_t src_rows = with_index ? 5 : outer;
  const int64_t src_stride = row + 1, dst_stride = row + gap;
  std::vector<unsigned char> src(static_cast<size_t>(src_rows * src_stride) * sizeof(U));
  for (auto& b : src) b = static_cast<unsigned char>(rng()());
  const size_t dst_bytes = static_cast<size_t>(outer * dst_stride + 2) * sizeof(U);
  std::vector<unsigned char> dst(dst_bytes, 0xAB), want(dst_bytes, 0xAB);
  const std::vector<int64_t> index = random_labels(outer, src_rows);
  for (int64_t o = 0; o < outer; ++o) {
    const int64_t r = with_index ? index[o] : o;
    std::memcpy(&want[static_cast<size_t>(o * dst_stride) * sizeof(U)],
                &src[static_cast<size_t>(r * src_stride) * sizeof(U)], row * sizeof(U));
  }
  k::CopyRowsArgs<U> a;
  a.dst = reinterpret_cast<U*>(dst.data());
  a.src = reinterpret_cast<const U*>(src.data());
  a.dst_stride = dst_stride;
  a.src_stride = src_stride;
  a.row = row;
  a.outer = outer;
  a.index = with_index ? index.data() : nullptr;
  run_grid(outer * row, mb, [&](uint32_t b, uint32_t t, uint32_t g, uint32_t bd) {
    k::copy_rows_body<U>(a, b, t, g, bd);
  });
  EXPECT_TRUE(dst == want) << "a copied unit differs or a gap/guard byte was written";
}

struct CopyCase {
  int64_t outer, row, gap;
};
const CopyCase kCopyCases[] = {{1, 1, 0}, {3, 5, 2}, {7, 1, 3}, {64, 37, 1}, {257, 3, 0},
                               {5, 300, 0}};

template <class U>
void check_copy_rows_all() {
  for (int64_t mb : kMaxBlocks)
    for (bool indexed : {false, true})
      for (const CopyCase& c : kCopyCases) check_copy_rows<U>(c.outer, c.row, c.gap, indexed, mb);
}

TEST(IndexBody, CopyRowsInEveryUnitWidth) {
  check_copy_rows_all<uint8_t>();
  check_copy_rows_all<uint16_t>();
  check_copy_rows_all<uint32_t>();
  check_copy_rows_all<uint64_t>();
  check_copy_rows_all<Unit16>();
}

TEST(IndexBody, IndexAddPlanGroupsPositionsStably) {
  const int64_t index[] = {2, 0, 2, 2, 4, 0};
  const std::vector<int64_t> plan = cuda::index_add_plan(index, 6, 5);
  const std::vector<int64_t> want = {0, 2, 2, 5, 5, 6,  // offsets: rows 1 and 3 empty
                                     1, 5, 0, 2, 3, 4};
  EXPECT_EQ(plan, want);
  EXPECT_EQ(cuda::index_add_plan(nullptr, 0, 2), (std::vector<int64_t>{0, 0, 0}));
}

template <class T>
void check_index_add(int64_t K, int64_t rows, int64_t row, int64_t mb) {
  SCOPED_TRACE(::testing::Message() << "K " << K << " rows " << rows << " row " << row
                                    << " max_blocks " << mb);
  const DType dt = dtype_of<T>::value;
  const Tensor src = random_tensor({K, row}, dt);
  const std::vector<int64_t> idx = random_labels(K, rows);  // many repeats, some empty rows
  const Tensor index = Tensor::from_vector(idx, {K});
  const std::vector<int64_t> plan = cuda::index_add_plan(idx.data(), K, rows);
  std::vector<T> out(static_cast<size_t>(rows * row + 3), T(NAN));
  const T* s = src.data<T>();
  run_grid(rows * row, mb, [&](uint32_t b, uint32_t t, uint32_t g, uint32_t bd) {
    k::index_add_body<T>(s, plan.data(), plan.data() + rows + 1, out.data(), rows, row, b, t, g,
                         bd);
  });
  for (size_t i = static_cast<size_t>(rows * row); i < out.size(); ++i)
    ASSERT_TRUE(std::isnan(out[i])) << "guard " << i;
  out.resize(static_cast<size_t>(rows * row));
  expect_bitwise_equal(out, ops::index_add(src, index, rows));
}

TEST(IndexBody, IndexAddMatchesCpuBitForBit) {
  for (int64_t mb : kMaxBlocks) {
    check_index_add<float>(40, 7, 9, mb);
    check_index_add<double>(40, 7, 9, mb);
    check_index_add<float>(300, 3, 1, mb);
    check_index_add<float>(5, 20, 33, mb);  // most rows empty
    check_index_add<double>(1, 1, 700, mb);
  }
}

template <class T>
void check_gather_scatter(int64_t n, int64_t classes, int64_t mb) {
  SCOPED_TRACE(::testing::Message() << "n " << n << " classes " << classes << " max_blocks "
                                    << mb);
  const DType dt = dtype_of<T>::value;
  const Tensor x = random_tensor({n, classes}, dt), src = random_tensor({n}, dt);
  const std::vector<int64_t> lab = random_labels(n, classes);
  const Tensor labels = Tensor::from_vector(lab, {n});
  std::vector<T> g(static_cast<size_t>(n), T(NAN));
  run_grid(n, mb, [&](uint32_t b, uint32_t t, uint32_t gd, uint32_t bd) {
    k::gather_body<T>(x.data<T>(), lab.data(), g.data(), n, classes, b, t, gd, bd);
  });
  expect_bitwise_equal(g, ops::gather(x, labels));
  for (bool ones : {false, true}) {
    std::vector<T> s(static_cast<size_t>(n * classes), T(NAN));
    run_grid(n * classes, mb, [&](uint32_t b, uint32_t t, uint32_t gd, uint32_t bd) {
      k::scatter_body<T>(ones ? nullptr : src.data<T>(), lab.data(), s.data(), n, classes, b, t,
                         gd, bd);
    });
    expect_bitwise_equal(s, ones ? ops::one_hot(labels, classes, dt)
                                 : ops::scatter(src, labels, classes));
  }
}

TEST(IndexBody, GatherScatterOneHotMatchCpu) {
  for (int64_t mb : kMaxBlocks) {
    check_gather_scatter<float>(37, 10, mb);
    check_gather_scatter<double>(37, 10, mb);
    check_gather_scatter<float>(600, 1, mb);
    check_gather_scatter<float>(3, 1000, mb);
  }
}

template <class T>
void check_cross_entropy(int64_t n, int64_t classes, int64_t mb) {
  SCOPED_TRACE(::testing::Message() << "n " << n << " classes " << classes << " max_blocks "
                                    << mb);
  const DType dt = dtype_of<T>::value;
  const Tensor x = random_tensor({n, classes}, dt);
  const std::vector<int64_t> lab = random_labels(n, classes);
  const Tensor labels = Tensor::from_vector(lab, {n});
  // Row pass: losses (summed here in the CPU's serial order, so the mean is the CPU op's bits)
  // and logsumexps.
  std::vector<double> loss(static_cast<size_t>(n), NAN);
  std::vector<T> lse(static_cast<size_t>(n), T(NAN));
  run_grid(n, mb, [&](uint32_t b, uint32_t t, uint32_t g, uint32_t bd) {
    k::cross_entropy_rows_body<T>(x.data<T>(), lab.data(), n, classes, loss.data(), lse.data(), b,
                                  t, g, bd);
  });
  double total = 0;
  for (double l : loss) total += l;
  const T mean = static_cast<T>(total / static_cast<double>(n));
  expect_bitwise_equal(std::vector<T>{mean}, ops::cross_entropy(x, labels));
  // Element pass, with the loss gradient on the "device" and as a host value.
  const T g = static_cast<T>(0.75);
  const Tensor grad = Tensor::scalar(0.75, dt);
  for (bool from_pointer : {true, false}) {
    std::vector<T> out(static_cast<size_t>(n * classes), T(NAN));
    run_grid(n * classes, mb, [&](uint32_t b, uint32_t t, uint32_t gd, uint32_t bd) {
      k::cross_entropy_grad_body<T>(x.data<T>(), lab.data(), lse.data(),
                                    from_pointer ? &g : nullptr, 0.75, out.data(), n, classes, b,
                                    t, gd, bd);
    });
    expect_bitwise_equal(out, ops::cross_entropy_backward(x, labels, grad));
  }
}

TEST(IndexBody, CrossEntropyPassesMatchCpuBitForBit) {
  for (int64_t mb : kMaxBlocks) {
    check_cross_entropy<float>(33, 10, mb);
    check_cross_entropy<double>(33, 10, mb);
    check_cross_entropy<float>(700, 3, mb);
    check_cross_entropy<float>(2, 1000, mb);
    check_cross_entropy<double>(1, 1, mb);
  }
}

}  // namespace
}  // namespace ebm
