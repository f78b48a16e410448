// The raw Philox fill kernels against core/philox.h on the CPU, bit for bit (words, uniforms, and
// normals: Box–Muller with core/math.h's portable log/sin/cos on both sides); outputs poisoned
// first, several seeds, offsets (every residue mod 4, subsequence boundaries) and sizes (tails of
// the vector width and of the block, grids that wrap), and a misaligned output pointer that
// forces the scalar store path. The op fills (ops::fill_*_ on cuda) are tests/cuda/test_random_cuda.cpp.
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

// Normals: Box–Muller with the portable log/sin/cos of core/math.h, built only from correctly
// rounded, never-fused float operations, so the GPU must give the CPU's bits exactly.
TEST(PhiloxFillCuda, NormalsMatchCpuExactly) {
  EBM_REQUIRE_CUDA();
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
          const float ref = philox::normal_scaled<float>(philox::normal(seed, offset, i), mean, std);
          if (bits(got[i]) != bits(ref) && bad++ == 0) first = i;
        }
        ASSERT_EQ(bad, 0) << "first difference at " << first << ": " << got[first] << " vs "
                          << philox::normal_scaled<float>(philox::normal(seed, offset, first), mean, std);
      }
}

TEST(PhiloxFillCuda, WordsAndUniformsMatchCpuExactly) {
  EBM_REQUIRE_CUDA();
  for (int64_t n : kSizes)
    for (uint64_t offset : kOffsets)
      for (bool misaligned : {false, true}) {
        const uint64_t seed = fresh_seed();
        SCOPED_TRACE(::testing::Message() << "n " << n << " offset " << offset << " seed " << seed
                                          << (misaligned ? " misaligned" : ""));
        const int64_t at = misaligned ? 1 : 0;  // element 1: the scalar store path
        DeviceBuffer<uint32_t> words(n, 1);
        words.poison(0xFF);
        ebm::cuda::philox_fill_words(words.get() + at, n, seed, offset, ebm::cuda::current_stream());
        DeviceBuffer<float> uni(n, 1);
        uni.poison(0xFF);
        ebm::cuda::philox_fill_uniform(uni.get() + at, n, seed, offset, -1.0f, 2.0f,
                                       ebm::cuda::current_stream());
        const std::vector<uint32_t> w = words.download(at, n);
        const std::vector<float> u = uni.download(at, n);
        int64_t bad = 0;
        for (int64_t i = 0; i < n; ++i) {
          bad += w[i] != philox::word(seed, offset + i);
          const float ref = philox::uniform_scaled<float>(philox::word(seed, offset + i), -1.0f, 3.0f);
          bad += bits(u[i]) != bits(ref);
        }
        ASSERT_EQ(bad, 0);
      }
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
