// Philox4x32-10 and the random fills: known-answer vectors of Random123 (Salmon et al., SC 2011),
// the stream against cuRAND's host generator bit for bit (when built with the CUDA toolkit), the
// fills against the scalar philox:: functions, moments of the fills with thresholds derived from
// the sample size, determinism, offsets, and the Generator's bookkeeping.
#include <cmath>
#include <cstring>
#include <memory>

#include "core/philox.h"
#include "test_util.h"

#ifdef EBM_HAVE_CURAND
#include <curand.h>
#endif

namespace ebm {
namespace {

// ---- (a) known answers

// Random123's kat_vectors, "philox4x32 10" lines: counter (4 words), key (2 words), result.
struct Kat {
  uint32_t ctr[4], key[2], out[4];
};
const Kat kPhiloxKats[] = {
    {{0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u}, {0x00000000u, 0x00000000u},
     {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}},
    {{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu},
     {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}},
    // the digits of pi
    {{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, {0xa4093822u, 0x299f31d0u},
     {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}},
};

TEST(Philox, BlockMatchesRandom123KnownAnswers) {
  for (const Kat& k : kPhiloxKats) {
    philox::U32x4 c{{k.ctr[0], k.ctr[1], k.ctr[2], k.ctr[3]}};
    philox::U32x4 r = philox::block(c, k.key[0], k.key[1]);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(r.v[i], k.out[i]) << "word " << i << " of ctr " << std::hex << k.ctr[0];
  }
}

TEST(Philox, StreamLayoutSpreadsBlocksOverSubsequences) {
  // Word w lives in block (x = w / 2^18, subsequence = (w / 4) mod 2^16): spot-check the layout
  // stated in philox.h against explicit counters, including across the 2^18-word wrap.
  uint64_t seed = 0x0123456789abcdefull;
  for (uint64_t w : {uint64_t(0), uint64_t(5), uint64_t(262143), uint64_t(262144), uint64_t(1) << 33}) {
    uint64_t q = w / 4, x = q >> 16;
    philox::U32x4 c{{static_cast<uint32_t>(x), static_cast<uint32_t>(x >> 32),
                     static_cast<uint32_t>(q & 0xffff), 0u}};
    philox::U32x4 b = philox::block(c, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
    EXPECT_EQ(philox::word(seed, w), b.v[w % 4]) << "word " << w;
  }
}

// ---- (b) cuRAND's host generator as the oracle

#ifdef EBM_HAVE_CURAND
#define CURAND_OK(expr) ASSERT_EQ((expr), CURAND_STATUS_SUCCESS) << #expr

struct CurandDeleter {
  void operator()(curandGenerator_t g) const { curandDestroyGenerator(g); }
};
using CurandGen = std::unique_ptr<std::remove_pointer_t<curandGenerator_t>, CurandDeleter>;

// A host Philox generator positioned at (seed, offset).
void make_curand(CurandGen& out, uint64_t seed, uint64_t offset) {
  curandGenerator_t g = nullptr;
  CURAND_OK(curandCreateGeneratorHost(&g, CURAND_RNG_PSEUDO_PHILOX4_32_10));
  out.reset(g);
  CURAND_OK(curandSetPseudoRandomGeneratorSeed(g, seed));
  CURAND_OK(curandSetGeneratorOffset(g, offset));
}

struct CurandCase {
  uint64_t seed;
  uint64_t offset;
  size_t n;
};

// Random seeds (fresh per run) and a fixed one; offsets including an odd one, one just below
// the 2^18-word wrap and one past 2^32; a size that crosses the subsequence wrap.
std::vector<CurandCase> curand_cases() {
  std::vector<CurandCase> cases;
  uint64_t seeds[] = {test::rng()(), test::rng()(), 42};
  for (uint64_t seed : seeds)
    for (uint64_t offset : {uint64_t(0), uint64_t(3), uint64_t(262141), uint64_t(1) << 33})
      for (size_t n : {size_t(1000), size_t(1) << 22}) cases.push_back({seed, offset, n});
  return cases;
}
#endif

TEST(PhiloxCurand, RawStreamMatchesCurandHostGenerator) {
#ifndef EBM_HAVE_CURAND
  GTEST_SKIP() << "built without the CUDA toolkit (cuRAND)";
#else
  for (const CurandCase& c : curand_cases()) {
    SCOPED_TRACE(str("seed ", c.seed, " offset ", c.offset, " n ", c.n));
    CurandGen g;
    make_curand(g, c.seed, c.offset);
    std::vector<uint32_t> ref(c.n);
    CURAND_OK(curandGenerate(g.get(), ref.data(), c.n));
    size_t mismatches = 0, first = 0;
    for (size_t i = 0; i < c.n; ++i)
      if (philox::word(c.seed, c.offset + i) != ref[i] && mismatches++ == 0) first = i;
    EXPECT_EQ(mismatches, 0u) << "first mismatch at word " << first;
  }
#endif
}

TEST(PhiloxCurand, UniformMatchesCurandGenerateUniform) {
#ifndef EBM_HAVE_CURAND
  GTEST_SKIP() << "built without the CUDA toolkit (cuRAND)";
#else
  for (const CurandCase& c : curand_cases()) {
    SCOPED_TRACE(str("seed ", c.seed, " offset ", c.offset, " n ", c.n));
    CurandGen g;
    make_curand(g, c.seed, c.offset);
    std::vector<float> ref(c.n);
    CURAND_OK(curandGenerateUniform(g.get(), ref.data(), c.n));
    Tensor t = Tensor::empty({static_cast<int64_t>(c.n)}, DType::Float32);
    ops::fill_uniform_(t, c.seed, c.offset);
    const float* p = t.data<float>();
    size_t bad_scalar = 0, bad_fill = 0;
    for (size_t i = 0; i < c.n; ++i) {
      bad_scalar += philox::uniform(c.seed, c.offset, i) != ref[i];
      bad_fill += std::memcmp(&p[i], &ref[i], sizeof(float)) != 0;
    }
    EXPECT_EQ(bad_scalar, 0u) << "philox::uniform differs from curandGenerateUniform";
    EXPECT_EQ(bad_fill, 0u) << "fill_uniform_ differs from curandGenerateUniform";
  }
#endif
}

// Our normals use cuRAND's word pairs and maps but portable log/sin/cos (core/math.h), so they
// differ from cuRAND's (glibc libm on the host) by rounding only. Bound: n = sin(v) * s with
// s = sqrt(-2 log u) <= 6.7 (u >= 2^-32); sin/cos differ by <= 1e-7 absolute (ours 9.3e-8 worst
// measured over 2e7 draws, glibc < 0.5 ulp), times s: 6.7e-7; log differs by <= 2.5 ulp relative,
// so s by 1.25 ulp = 1.5e-7 relative of |n|. Tolerance |diff| <= 1e-6 + 4e-7 |n|.
TEST(PhiloxCurand, NormalMatchesCurandGenerateNormalToRounding) {
#ifndef EBM_HAVE_CURAND
  GTEST_SKIP() << "built without the CUDA toolkit (cuRAND)";
#else
  double worst = 0;
  for (const CurandCase& c : curand_cases()) {
    if (c.offset % 2) continue;  // cuRAND pairs words from its own offset; ours pair 2j, 2j+1
    SCOPED_TRACE(str("seed ", c.seed, " offset ", c.offset, " n ", c.n));
    CurandGen g;
    make_curand(g, c.seed, c.offset);
    std::vector<float> ref(c.n);  // n is even, as curandGenerateNormal requires
    CURAND_OK(curandGenerateNormal(g.get(), ref.data(), c.n, 0.0f, 1.0f));
    Tensor t = Tensor::empty({static_cast<int64_t>(c.n)}, DType::Float32);
    ops::fill_normal_(t, c.seed, c.offset);
    const float* p = t.data<float>();
    size_t bad_scalar = 0, bad_fill = 0;
    for (size_t i = 0; i < c.n; ++i) {
      double tol = 1e-6 + 4e-7 * std::fabs(ref[i]);
      double d = std::fabs(double(philox::normal(c.seed, c.offset, i)) - ref[i]);
      worst = std::max(worst, d / tol);
      bad_scalar += !(d <= tol);
      bad_fill += !(std::fabs(double(p[i]) - ref[i]) <= tol);
    }
    EXPECT_EQ(bad_scalar, 0u) << "philox::normal differs from curandGenerateNormal";
    EXPECT_EQ(bad_fill, 0u) << "fill_normal_ differs from curandGenerateNormal";
  }
  std::printf("worst |ours - cuRAND| / tolerance: %.3f\n", worst);
#endif
}

// ---- (c) the fills

// Every element of a fill equals the scalar philox:: function, for odd offsets (two blocks per
// group), sizes that leave a partial last group, and sizes large enough for threads.
TEST(RandomFill, ElementsMatchScalarPhilox) {
  for (uint64_t offset : {uint64_t(0), uint64_t(1), uint64_t(2), uint64_t(7), uint64_t(262141)})
    for (int64_t n : {int64_t(1), int64_t(5), int64_t(1003), int64_t(1) << 17}) {
      uint64_t seed = test::rng()();
      SCOPED_TRACE(str("seed ", seed, " offset ", offset, " n ", n));
      Tensor u = Tensor::empty({n}, DType::Float32), z = Tensor::empty({n}, DType::Float32);
      ops::fill_uniform_(u, seed, offset);
      ops::fill_normal_(z, seed, offset);
      const float *up = u.data<float>(), *zp = z.data<float>();
      int64_t bad_u = 0, bad_z = 0;
      for (int64_t i = 0; i < n; ++i) {
        bad_u += up[i] != philox::uniform(seed, offset, i);
        bad_z += zp[i] != philox::normal(seed, offset, i);  // by value: -0 == +0 (see above)
      }
      EXPECT_EQ(bad_u, 0);
      EXPECT_EQ(bad_z, 0);
    }
}

TEST(RandomFill, Float64HoldsTheFloat32DrawsAffinelyMapped) {
  uint64_t seed = test::rng()();
  Tensor u32 = Tensor::empty({2, 3, 33}, DType::Float32), u64 = Tensor::empty({2, 3, 33}, DType::Float64);
  ops::fill_uniform_(u32, seed, 12);
  ops::fill_uniform_(u64, seed, 12);
  EXPECT_EQ(u64.to_vector<double>(), u32.to_vector<double>());
  Tensor r64 = Tensor::empty({199}, DType::Float64), z64 = Tensor::empty({199}, DType::Float64);
  ops::fill_uniform_(r64, seed, 4, -2.0, 3.0);
  ops::fill_normal_(z64, seed, 4, 1.5, 0.25);
  auto rv = r64.to_vector<double>(), zv = z64.to_vector<double>();
  for (int64_t i = 0; i < 199; ++i) {
    EXPECT_DOUBLE_EQ(rv[i], double(philox::uniform(seed, 4, i)) * 5.0 - 2.0);
    EXPECT_DOUBLE_EQ(zv[i], double(philox::normal(seed, 4, i)) * 0.25 + 1.5);
  }
}

struct Moments {
  double mean, var, frac_beyond;  // frac_beyond: share of |x - mean_ref| > cut
};
Moments moments(const Tensor& t, double mean_ref, double cut) {
  auto v = t.to_vector<double>();
  double s = 0, s2 = 0, beyond = 0;
  for (double x : v) s += x;
  double m = s / v.size();
  for (double x : v) {
    s2 += (x - m) * (x - m);
    beyond += std::fabs(x - mean_ref) > cut;
  }
  return {m, s2 / (v.size() - 1), beyond / v.size()};
}

// Thresholds: 6 standard errors of each statistic for n draws (a false alarm about once in
// 5e8 runs per check). SE(mean) = sigma / sqrt(n); SE(var) = sqrt((mu4 - sigma^4) / n);
// SE(fraction) = sqrt(q (1 - q) / n).
TEST(RandomFill, UniformMomentsMatchTheory) {
  const int64_t n = 1 << 20;
  const double lo = -1.0, hi = 3.0, w = hi - lo;
  Generator gen(test::rng()());
  Tensor t = ops::uniform({n}, gen, lo, hi);
  Moments m = moments(t, 1.0, 1.0);  // |x - 1| > 1 has probability 1/2
  double var = w * w / 12, mu4 = w * w * w * w / 80;
  EXPECT_NEAR(m.mean, 1.0, 6 * std::sqrt(var / n));
  EXPECT_NEAR(m.var, var, 6 * std::sqrt((mu4 - var * var) / n));
  EXPECT_NEAR(m.frac_beyond, 0.5, 6 * std::sqrt(0.25 / n));
  auto v = t.to_vector<float>();
  // (lo, hi] before rounding; u * span + lo rounds to lo for u < ~2^-26 (about once per 2^26
  // draws), so in float32 the closed range is what holds.
  for (float x : v) ASSERT_TRUE(x >= lo && x <= hi) << x;
  Tensor u = ops::rand({n}, gen);  // the unit range stays open at 0: u = (x + 1/2) 2^-32
  for (float x : u.to_vector<float>()) ASSERT_TRUE(x > 0.0f && x <= 1.0f) << x;
}

TEST(RandomFill, NormalMomentsMatchTheory) {
  const int64_t n = 1 << 20;
  const double mean = 0.5, sd = 2.0;
  Generator gen(test::rng()());
  for (DType dt : {DType::Float32, DType::Float64}) {
    Tensor t = ops::normal({n}, gen, mean, sd, dt);
    Moments m = moments(t, mean, 2 * sd);
    double var = sd * sd, q = 0.04550026389635842;  // P(|Z| > 2)
    EXPECT_NEAR(m.mean, mean, 6 * std::sqrt(var / n));
    EXPECT_NEAR(m.var, var, 6 * std::sqrt(2 * var * var / n));  // mu4 = 3 sigma^4
    EXPECT_NEAR(m.frac_beyond, q, 6 * std::sqrt(q * (1 - q) / n));
  }
}

TEST(RandomFill, SameSeedAndOffsetGiveSameValues) {
  uint64_t seed = test::rng()();
  Tensor a = Tensor::empty({3, 70, 71}), b = Tensor::empty({3, 70, 71});
  ops::fill_normal_(a, seed, 1024);
  ops::fill_normal_(b, seed, 1024);
  EXPECT_EQ(a.to_vector<float>(), b.to_vector<float>());
  Generator g1(seed), g2(seed);
  EXPECT_EQ(ops::rand({1000}, g1).to_vector<float>(), ops::rand({1000}, g2).to_vector<float>());
}

TEST(RandomFill, OffsetsShiftTheStream) {
  // A fill at offset o + k is the fill at offset o shifted by k elements (uniforms: any k;
  // normals: even k, so the Box–Muller pairs line up).
  uint64_t seed = test::rng()();
  Tensor base = Tensor::empty({4096}), shifted = Tensor::empty({4000});
  for (uint64_t k : {uint64_t(1), uint64_t(2), uint64_t(3), uint64_t(6), uint64_t(96)}) {
    ops::fill_uniform_(base, seed, 100);
    ops::fill_uniform_(shifted, seed, 100 + k);
    auto bv = base.to_vector<float>(), sv = shifted.to_vector<float>();
    for (size_t i = 0; i < sv.size(); ++i) ASSERT_EQ(sv[i], bv[i + k]) << "k " << k << " i " << i;
    if (k % 2) continue;
    ops::fill_normal_(base, seed, 100);
    ops::fill_normal_(shifted, seed, 100 + k);
    bv = base.to_vector<float>();
    sv = shifted.to_vector<float>();
    for (size_t i = 0; i < sv.size(); ++i) ASSERT_EQ(sv[i], bv[i + k]) << "k " << k << " i " << i;
  }
}

TEST(RandomFill, DisjointOffsetsAndSeedsAreUncorrelated) {
  // Sample correlation of independent draws has SE 1/sqrt(n).
  const int64_t n = 1 << 18;
  uint64_t seed = test::rng()();
  auto corr = [&](const Tensor& a, const Tensor& b) {
    auto x = a.to_vector<double>(), y = b.to_vector<double>();
    double sx = 0, sy = 0, sxy = 0, sxx = 0, syy = 0;
    for (int64_t i = 0; i < n; ++i) {
      sx += x[i];
      sy += y[i];
    }
    double mx = sx / n, my = sy / n;
    for (int64_t i = 0; i < n; ++i) {
      sxy += (x[i] - mx) * (y[i] - my);
      sxx += (x[i] - mx) * (x[i] - mx);
      syy += (y[i] - my) * (y[i] - my);
    }
    return sxy / std::sqrt(sxx * syy);
  };
  Tensor a = Tensor::empty({n}), b = Tensor::empty({n}), c = Tensor::empty({n});
  ops::fill_normal_(a, seed, 0);
  ops::fill_normal_(b, seed, n);      // the next, disjoint range of the same stream
  ops::fill_normal_(c, seed + 1, 0);  // another stream
  EXPECT_LT(std::fabs(corr(a, b)), 6.0 / std::sqrt(double(n)));
  EXPECT_LT(std::fabs(corr(a, c)), 6.0 / std::sqrt(double(n)));
  EXPECT_NE(a.to_vector<float>(), b.to_vector<float>());
}

TEST(RandomGenerator, ReserveKeepsBlockAlignment) {
  Generator g(7);
  EXPECT_EQ(g.reserve(1), 0u);
  EXPECT_EQ(g.reserve(4), 4u);
  EXPECT_EQ(g.reserve(5), 8u);
  EXPECT_EQ(g.reserve(0), 16u);
  EXPECT_EQ(g.reserve(3), 16u);
  EXPECT_EQ(g.offset(), 20u);
  for (int i = 0; i < 100; ++i) {
    uint64_t n = test::rng()() % 100000;
    uint64_t before = g.offset(), start = g.reserve(n);
    EXPECT_EQ(start, before);
    EXPECT_EQ(start % 4, 0u);
    EXPECT_GE(g.offset() - start, n);
    EXPECT_LT(g.offset() - start, n + 4);
  }
  EXPECT_EQ(g.seed(), 7u);
}

TEST(RandomGenerator, DrawsFollowTheReservedOffsetsAndStateRestores) {
  Generator g(test::rng()());
  Generator::State saved = g.state();
  Tensor a = ops::randn({3, 5}, g);  // 15 words -> 16 reserved
  EXPECT_EQ(g.offset(), saved.offset + 16);
  Tensor b = ops::rand({7}, g);
  // Each draw equals a raw fill at the offset it reserved.
  Tensor a_ref = Tensor::empty({3, 5}), b_ref = Tensor::empty({7});
  ops::fill_normal_(a_ref, g.seed(), saved.offset);
  ops::fill_uniform_(b_ref, g.seed(), saved.offset + 16);
  EXPECT_EQ(a.to_vector<float>(), a_ref.to_vector<float>());
  EXPECT_EQ(b.to_vector<float>(), b_ref.to_vector<float>());
  // Restoring the state (as a checkpoint resume does) replays the same draws.
  Generator h;
  h.set_state(saved);
  EXPECT_EQ(ops::randn({3, 5}, h).to_vector<float>(), a.to_vector<float>());
  EXPECT_EQ(ops::rand({7}, h).to_vector<float>(), b.to_vector<float>());
  EXPECT_EQ(h.state(), g.state());
  h.manual_seed(g.seed());
  EXPECT_EQ(h.offset(), 0u);
}

TEST(RandomFill, ErrorsNameTheOp) {
  Tensor labels = Tensor::zeros({4}, DType::Int64);
  try {
    ops::fill_normal_(labels, 1, 0);
    FAIL() << "expected DTypeError";
  } catch (const DTypeError& e) {
    EXPECT_NE(std::string(e.what()).find("fill_normal_"), std::string::npos) << e.what();
  }
  Tensor t = Tensor::empty({4});
  EXPECT_THROW(ops::fill_uniform_(t, 1, 0, 2.0, 1.0), ValueError);
  EXPECT_THROW(ops::fill_normal_(t, 1, 0, 0.0, -1.0), ValueError);
  EXPECT_THROW(ops::dropout_mask({4}, 1.5, 1, 0), ValueError);
}

}  // namespace
}  // namespace ebm
