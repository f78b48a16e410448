// The Philox fill kernels' per-thread bodies (cuda/kernels/philox_fill_body.h), run on the CPU
// over the exact grid the launcher uses. Raw fills: every element must be written exactly once
// and equal the core/philox.h stream, for sizes that are not multiples of 4 or of the block,
// offsets in every residue mod 4, across Philox subsequence boundaries, and with grids small
// enough that the grid-stride loop wraps. Op fills (ops::fill_uniform_ / fill_normal_ /
// dropout_mask on the GPU): every group visited exactly once, the values bit for bit the CPU
// op's in float32 and float64, nothing written past the end. Needs no GPU and no CUDA toolkit.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernel_test_util.h"
#include "core/ops/random.h"
#include "core/philox.h"
#include "core/tensor.h"
#include "cuda/kernels/philox_fill_body.h"

namespace {

using ebm::cuda::kernels::PhiloxDist;
using ebm::cuda::kernels::PhiloxFillArgs;
namespace k = ebm::cuda::kernels;

using ebm::test::CountingOut;

// Runs the body over every (block, thread) of the launch the launcher would make with
// max_blocks, on a poisoned buffer; returns the buffer and checks the write counts.
template <PhiloxDist Dist, class T>
std::vector<T> run_grid(const PhiloxFillArgs& args, int64_t max_blocks, T poison) {
  std::vector<T> out(static_cast<size_t>(args.n), poison);
  std::vector<int> count(static_cast<size_t>(args.n), 0);
  int out_of_range = 0;
  const k::PhiloxLaunchDims d = k::philox_fill_dims(Dist, args.n, args.offset, max_blocks);
  EXPECT_LE(static_cast<int64_t>(d.grid), max_blocks);
  EXPECT_EQ(d.grid == 0, args.n == 0);
  CountingOut<T> sink{out.data(), count.data(), args.n, &out_of_range};
  for (uint32_t b = 0; b < d.grid; ++b)
    for (uint32_t t = 0; t < d.block; ++t)
      k::philox_fill_body<Dist>(args, sink, b, t, d.grid, d.block);
  EXPECT_EQ(out_of_range, 0);
  int64_t wrong = 0, first_wrong = -1;
  for (int64_t i = 0; i < args.n; ++i)
    if (count[i] != 1 && wrong++ == 0) first_wrong = i;
  EXPECT_EQ(wrong, 0) << "elements not written exactly once; first is " << first_wrong
                      << " (written " << (first_wrong >= 0 ? count[first_wrong] : 0) << " times)";
  return out;
}

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

const int64_t kSizes[] = {0, 1, 2, 3, 4, 5, 7, 255, 256, 257, 1023, 1024, 1025, 4099, 20011};
const uint64_t kOffsets[] = {0, 1, 2, 3, 5, 6, 7, 262143, 262142, (uint64_t(1) << 32) + 3};
// 1: one block strides over everything; 3: ragged wrap; 1056: an H100's 132 SMs x 8 waves.
const int64_t kMaxBlocks[] = {1, 3, 1056};
const uint64_t kSeeds[] = {0, 42, 0x9E3779B97F4A7C15ull};

TEST(PhiloxFillBody, LaunchDimensions) {
  EXPECT_EQ(k::philox_fill_units(PhiloxDist::Uniform, 0, 3), 0);
  EXPECT_EQ(k::philox_fill_units(PhiloxDist::Uniform, 4, 0), 1);
  EXPECT_EQ(k::philox_fill_units(PhiloxDist::Uniform, 4, 1), 2);   // words 1..4 span two blocks
  EXPECT_EQ(k::philox_fill_units(PhiloxDist::Normal, 4, 1), 1);    // odd offset: units start at 1
  EXPECT_EQ(k::philox_fill_units(PhiloxDist::Normal, 4, 3), 2);
  k::PhiloxLaunchDims d = k::philox_fill_dims(PhiloxDist::Word, 1 << 20, 0, 1056);
  EXPECT_EQ(d.units, 1 << 18);
  EXPECT_EQ(d.block, k::kPhiloxBlock);
  EXPECT_EQ(d.grid, 1024u);  // fewer blocks than the cap: one unit per thread
  d = k::philox_fill_dims(PhiloxDist::Word, int64_t(1) << 40, 0, 1056);
  EXPECT_EQ(d.grid, 1056u);  // capped: the grid-stride loop does the rest
}

TEST(PhiloxFillBody, WordsMatchStreamAndWriteEachElementOnce) {
  for (uint64_t seed : kSeeds)
    for (uint64_t offset : kOffsets)
      for (int64_t n : kSizes)
        for (int64_t mb : kMaxBlocks) {
          SCOPED_TRACE(::testing::Message() << "seed " << seed << " offset " << offset << " n "
                                            << n << " max_blocks " << mb);
          PhiloxFillArgs args;
          args.n = n;
          args.seed = seed;
          args.offset = offset;
          std::vector<uint32_t> out = run_grid<PhiloxDist::Word>(args, mb, 0xDEADBEEFu);
          int64_t bad = 0;
          for (int64_t i = 0; i < n; ++i) bad += out[i] != ebm::philox::word(seed, offset + i);
          ASSERT_EQ(bad, 0);
        }
}

TEST(PhiloxFillBody, UniformsMatchStreamBitForBit) {
  for (uint64_t seed : kSeeds)
    for (uint64_t offset : kOffsets)
      for (int64_t n : kSizes)
        for (int64_t mb : kMaxBlocks) {
          SCOPED_TRACE(::testing::Message() << "seed " << seed << " offset " << offset << " n "
                                            << n << " max_blocks " << mb);
          PhiloxFillArgs args;
          args.n = n;
          args.seed = seed;
          args.offset = offset;  // a = 0, b = 1: u * 1 + 0 is u exactly
          std::vector<float> out = run_grid<PhiloxDist::Uniform>(args, mb, NAN);
          int64_t bad = 0;
          for (int64_t i = 0; i < n; ++i)
            bad += bits(out[i]) != bits(ebm::philox::uniform(seed, offset, i));
          ASSERT_EQ(bad, 0);
        }
}

TEST(PhiloxFillBody, NormalsMatchStreamBitForBit) {
  for (uint64_t seed : kSeeds)
    for (uint64_t offset : kOffsets)
      for (int64_t n : kSizes)
        for (int64_t mb : kMaxBlocks) {
          SCOPED_TRACE(::testing::Message() << "seed " << seed << " offset " << offset << " n "
                                            << n << " max_blocks " << mb);
          PhiloxFillArgs args;
          args.n = n;
          args.seed = seed;
          args.offset = offset;
          std::vector<float> out = run_grid<PhiloxDist::Normal>(args, mb, NAN);
          int64_t bad = 0;
          for (int64_t i = 0; i < n; ++i)
            bad += bits(out[i]) != bits(ebm::philox::normal(seed, offset, i));
          ASSERT_EQ(bad, 0);
        }
}

TEST(PhiloxFillBody, ScaledFillsAreAMultiplyThenAnAdd) {
  const int64_t n = 1031;
  for (uint64_t offset : {uint64_t(0), uint64_t(3)}) {
    PhiloxFillArgs args;
    args.n = n;
    args.seed = 7;
    args.offset = offset;
    args.a = -0.75f;
    args.b = 3.1f;
    std::vector<float> u = run_grid<PhiloxDist::Uniform>(args, 5, NAN);
    std::vector<float> z = run_grid<PhiloxDist::Normal>(args, 5, NAN);
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_EQ(bits(u[i]), bits(ebm::philox::uniform(7, offset, i) * 3.1f + -0.75f)) << i;
      ASSERT_EQ(bits(z[i]), bits(ebm::philox::normal(7, offset, i) * 3.1f + -0.75f)) << i;
      ASSERT_GT(u[i], -0.75f);
      ASSERT_LE(u[i], -0.75f + 3.1f * 1.0000001f);
    }
  }
}

// ------------------------------------------------------------------------------------------------
// op fills

// Runs group_fill_body over the launch grid, counting visits per group, on a buffer of n
// elements plus 4 guards, all NaN first; returns the n elements and checks visits and guards.
template <k::GroupFill Kind, class T>
std::vector<T> run_group_grid(k::GroupFillArgs<T> args, int64_t max_blocks) {
  const int64_t n = args.n, groups = (n + 3) / 4;
  std::vector<T> buf(static_cast<size_t>(n + 4), T(NAN));
  std::vector<int> visits(static_cast<size_t>(groups), 0);
  args.out = buf.data();
  const k::GroupFillOp<Kind, T> op{args};
  int stray = 0;
  auto counting = [&](int64_t g) {
    if (g < 0 || g >= groups) {
      ++stray;
      return;
    }
    ++visits[static_cast<size_t>(g)];
    op(g);
  };
  const k::PhiloxLaunchDims d = k::group_fill_dims(n, max_blocks);
  EXPECT_EQ(d.units, groups);
  EXPECT_LE(static_cast<int64_t>(d.grid), max_blocks);
  EXPECT_EQ(d.grid == 0, n == 0);
  for (uint32_t b = 0; b < d.grid; ++b)
    for (uint32_t t = 0; t < d.block; ++t) k::group_fill_body(n, counting, b, t, d.grid, d.block);
  EXPECT_EQ(stray, 0);
  int64_t wrong = 0;
  for (int v : visits) wrong += v != 1;
  EXPECT_EQ(wrong, 0) << "groups not visited exactly once";
  for (int64_t i = n; i < n + 4; ++i) EXPECT_TRUE(std::isnan(buf[i])) << "guard " << i - n;
  buf.resize(static_cast<size_t>(n));
  return buf;
}

const int64_t kGroupSizes[] = {0, 1, 2, 3, 4, 5, 7, 255, 1023, 1025, 4099};
const uint64_t kGroupOffsets[] = {0, 1, 2, 3, 5, 262143, (uint64_t(1) << 32) + 3};

template <class T>
void check_op_fills() {
  const ebm::DType dt = ebm::dtype_of<T>::value;
  for (uint64_t seed : {uint64_t(42), uint64_t(0x9E3779B97F4A7C15ull)})
    for (uint64_t offset : kGroupOffsets)
      for (int64_t n : kGroupSizes)
        for (int64_t mb : kMaxBlocks) {
          SCOPED_TRACE(::testing::Message() << ebm::dtype_name(dt) << " seed " << seed
                                            << " offset " << offset << " n " << n
                                            << " max_blocks " << mb);
          k::GroupFillArgs<T> a;
          a.n = n;
          a.seed = seed;
          a.offset = offset;
          ebm::Tensor ref = ebm::Tensor::empty({n}, dt);
          // uniform on (-0.5, 1.5]
          a.a = T(-0.5);
          a.b = T(2.0);
          ebm::ops::fill_uniform_(ref, seed, offset, -0.5, 1.5);
          ebm::test::expect_bitwise_equal(run_group_grid<k::GroupFill::Uniform>(a, mb), ref);
          // normal(0.25, 3)
          a.a = T(0.25);
          a.b = T(3.0);
          ebm::ops::fill_normal_(ref, seed, offset, 0.25, 3.0);
          ebm::test::expect_bitwise_equal(run_group_grid<k::GroupFill::Normal>(a, mb), ref);
          // dropout mask, p = 0.3
          a.p = 0.3;
          a.b = static_cast<T>(1.0 / 0.7);
          ebm::test::expect_bitwise_equal(
              run_group_grid<k::GroupFill::Dropout>(a, mb),
              ebm::ops::dropout_mask({n}, 0.3, seed, offset, dt));
        }
}

TEST(PhiloxFillBody, OpFillsMatchTheCpuOpsBitForBit) {
  check_op_fills<float>();
  check_op_fills<double>();
}

TEST(PhiloxFillBody, OpFillDimensions) {
  EXPECT_EQ(k::group_fill_dims(0, 1056).grid, 0u);
  EXPECT_EQ(k::group_fill_dims(5, 1056).units, 2);
  const k::PhiloxLaunchDims d = k::group_fill_dims(1 << 20, 1056);
  EXPECT_EQ(d.units, 1 << 18);
  EXPECT_EQ(d.grid, 1024u);
  EXPECT_EQ(k::group_fill_dims(int64_t(1) << 40, 1056).grid, 1056u);
}

}  // namespace
