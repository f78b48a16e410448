// The Philox fill kernels against core/philox.h on the CPU: words and uniforms bit for bit,
// normals within a derived tolerance; outputs poisoned first, several seeds, offsets (every
// residue mod 4, subsequence boundaries) and sizes (tails of the vector width and of the block,
// grids that wrap), and a misaligned output pointer that forces the scalar store path.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <iostream>
#include <random>

#include "core/philox.h"
#include "cuda/philox_fill.h"
#include "cuda_test_util.h"

namespace {

namespace philox = ebm::philox;
using ebm::test::DeviceBuffer;

const int64_t kSizes[] = {1, 3, 4, 5, 255, 257, 1025, 65539, 3000017};
const uint64_t kOffsets[] = {0, 1, 2, 3, 262141, (uint64_t(1) << 33) + 6};

uint64_t fresh_seed() {
  static std::mt19937_64 gen(std::random_device{}());
  return gen();
}

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// Tolerance for GPU normals vs the CPU's, |gpu - cpu| <= kAbs + kRel * |cpu| (Box–Muller:
// n = sin(v) * sqrt(-2 log u), u and v from the two words; see core/philox.h).
//  - kRel: CUDA's sinf/cosf are accurate to 2 ulp and logf to 1 ulp (CUDA C Programming Guide,
//    mathematical functions), glibc's to under 1 ulp; through the sqrt (halves the log's relative
//    error) and the final product that is at most ~6 ulp = 6 * 2^-23 ~ 7e-7 relative: 1e-6.
//  - kAbs: the word -> (u, v) maps are never fused (math::mul_add_rn), so u and v are bit-equal
//    on both sides; every remaining difference is relative to a factor (sin/cos, log, sqrt), so
//    only a tiny absolute floor for results that round to near zero is needed: 1e-12.
// Uniforms and words have no such step (u = x * 2^-32 + 2^-33 is exact either way) and must
// match bit for bit.
constexpr double kNormalRel = 1e-6;
constexpr double kNormalAbs = 1e-12;

TEST(PhiloxFillCuda, WordsMatchCpuExactly) {
  EBM_REQUIRE_CUDA();
  for (int64_t n : kSizes)
    for (uint64_t offset : kOffsets) {
      const uint64_t seed = fresh_seed();
      SCOPED_TRACE(::testing::Message() << "n " << n << " offset " << offset << " seed " << seed);
      DeviceBuffer<uint32_t> buf(n);
      // Two poisons: a word left unwritten cannot match both 0x00000000 and 0xFFFFFFFF.
      for (unsigned char poison : {0x00, 0xFF}) {
        buf.poison(poison);
        ebm::cuda::philox_fill_words(buf.get(), n, seed, offset, ebm::cuda::current_stream());
        std::vector<uint32_t> got = buf.download(0, n);
        int64_t bad = 0, first = -1;
        for (int64_t i = 0; i < n; ++i)
          if (got[i] != philox::word(seed, offset + i) && bad++ == 0) first = i;
        ASSERT_EQ(bad, 0) << "first mismatch at " << first;
      }
    }
}

TEST(PhiloxFillCuda, UniformsMatchCpuExactly) {
  EBM_REQUIRE_CUDA();
  for (int64_t n : kSizes)
    for (uint64_t offset : kOffsets)
      for (size_t shift : {0, 1}) {  // shift 1: output not 16-byte aligned, scalar stores
        const uint64_t seed = fresh_seed();
        SCOPED_TRACE(::testing::Message() << "n " << n << " offset " << offset << " seed " << seed
                                          << " shift " << shift);
        DeviceBuffer<float> buf(n, 1);
        buf.poison(0xFF);  // NaN
        ebm::cuda::philox_fill_uniform(buf.get() + shift, n, seed, offset, 0.0f, 1.0f,
                                       ebm::cuda::current_stream());
        std::vector<float> got = buf.download(shift, n);
        int64_t bad = 0, first = -1;
        for (int64_t i = 0; i < n; ++i)
          if (bits(got[i]) != bits(philox::uniform(seed, offset, i)) && bad++ == 0) first = i;
        ASSERT_EQ(bad, 0) << "first mismatch at " << first << ": " << got[first] << " vs "
                          << philox::uniform(seed, offset, first);
      }
}

TEST(PhiloxFillCuda, ScaledUniformsMatchCpuExactly) {
  EBM_REQUIRE_CUDA();
  const int64_t n = 100003;
  const uint64_t seed = fresh_seed();
  DeviceBuffer<float> buf(n);
  buf.poison(0xFF);
  ebm::cuda::philox_fill_uniform(buf.get(), n, seed, 5, -1.0f, 1.0f, ebm::cuda::current_stream());
  std::vector<float> got = buf.download(0, n);
  for (int64_t i = 0; i < n; ++i)
    ASSERT_EQ(bits(got[i]), bits(philox::uniform(seed, 5, i) * 2.0f + -1.0f)) << i;
}

TEST(PhiloxFillCuda, NormalsMatchCpuWithinTolerance) {
  EBM_REQUIRE_CUDA();
  double worst_ratio = 0, worst_abs = 0, worst_rel = 0;
  int64_t exact = 0, total = 0;
  for (int64_t n : kSizes)
    for (uint64_t offset : kOffsets)
      for (auto [mean, std] : {std::pair{0.0f, 1.0f}, std::pair{0.5f, 0.01f}}) {
        const uint64_t seed = fresh_seed();
        SCOPED_TRACE(::testing::Message() << "n " << n << " offset " << offset << " seed " << seed
                                          << " mean " << mean << " std " << std);
        DeviceBuffer<float> buf(n);
        buf.poison(0xFF);
        ebm::cuda::philox_fill_normal(buf.get(), n, seed, offset, mean, std,
                                      ebm::cuda::current_stream());
        std::vector<float> got = buf.download(0, n);
        int64_t bad = 0, first = -1;
        for (int64_t i = 0; i < n; ++i) {
          const float ref = philox::normal(seed, offset, i) * std + mean;
          const double d = std::fabs(double(got[i]) - ref);
          const double ratio = d / (kNormalAbs * std + kNormalRel * std::fabs(ref));
          if (!(ratio <= 1.0) && bad++ == 0) first = i;  // NaN (unwritten) fails too
          if (ratio > worst_ratio) worst_ratio = ratio;
          if (d / std > worst_abs) worst_abs = d / std;
          if (ref != mean && d / std::fabs(ref) > worst_rel && std::fabs(ref - mean) > 0.1 * std)
            worst_rel = d / std::fabs(ref);
          exact += bits(got[i]) == bits(ref);
          ++total;
        }
        ASSERT_EQ(bad, 0) << "first out of tolerance at " << first << ": " << got[first]
                          << " vs " << philox::normal(seed, offset, first) * std + mean;
      }
  std::cout << "[ normals ] " << total << " values, " << exact << " bit-identical; worst |diff|/std "
            << worst_abs << ", worst relative (|z| > 0.1) " << worst_rel
            << ", worst diff / tolerance " << worst_ratio << "\n";
  RecordProperty("normal_worst_abs", std::to_string(worst_abs));
  RecordProperty("normal_worst_rel", std::to_string(worst_rel));
}

TEST(PhiloxFillCuda, LaunchersCheckTheirArguments) {
  EBM_REQUIRE_CUDA();
  cudaStream_t s = ebm::cuda::current_stream();
  EXPECT_NO_THROW(ebm::cuda::philox_fill_words(nullptr, 0, 1, 0, s));  // nothing to do
  EXPECT_THROW(ebm::cuda::philox_fill_words(nullptr, 4, 1, 0, s), ebm::ValueError);
  EXPECT_THROW(ebm::cuda::philox_fill_normal(nullptr, -1, 1, 0, 0.f, 1.f, s), ebm::ValueError);
  DeviceBuffer<float> buf(8);
  float* misaligned = reinterpret_cast<float*>(reinterpret_cast<char*>(buf.get()) + 2);
  EXPECT_THROW(ebm::cuda::philox_fill_uniform(misaligned, 4, 1, 0, 0.f, 1.f, s), ebm::ValueError);
}

}  // namespace
