// The fused Langevin update (core/ops/langevin.h) on the CPU:
// (a) every variant equals the unfused sequence of existing ops (fill_normal_ with the same seed
//     and offset, unary Clamp/Affine, binary Add/Sub/Mul): the noise bit for bit, the values to
//     1e-6 relative; float32 and float64, sizes that are not multiples of 4, odd offsets;
// (b) the CUDA kernel's per-thread body, run over the launch grid on the CPU, writes every element
//     of a poisoned output exactly once, with the value of the element formula at philox::normal;
// (c) DRL's per-sample coefficients (gathered by level) against a hand computation, and the
//     table built from the spec's T = 6 schedule against the spec's values;
// (d) error messages for mismatched shapes, dtypes, devices and bad parameters;
// (e) inside a captured CUDA graph: the body reading the noise's {seed, base} from the graph's
//     state replays the chain exactly as eager chains from the same generator state.
#include <cmath>
#include <cstring>
#include <iterator>
#include <vector>

#include "core/ops/langevin.h"
#include "core/ops/random.h"
#include "test_util.h"

namespace ebm {
namespace {

using test::close_ratio;
using test::expect_error;

uint64_t fresh_seed() { return test::rng()(); }

template <class T>
uint64_t bits(T v) {
  uint64_t u = 0;
  std::memcpy(&u, &v, sizeof(T));
  return u;
}

// Number of elements whose bits differ.
int64_t bit_differences(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.dtype(), b.dtype());
  int64_t bad = 0;
  if (a.dtype() == DType::Float32) {
    const float *p = a.data<float>(), *q = b.data<float>();
    for (int64_t i = 0; i < a.numel(); ++i) bad += bits(p[i]) != bits(q[i]);
  } else {
    const double *p = a.data<double>(), *q = b.data<double>();
    for (int64_t i = 0; i < a.numel(); ++i) bad += bits(p[i]) != bits(q[i]);
  }
  return bad;
}

// A tensor of per-sample values v[b] shaped [N, 1, ..., 1] to broadcast against x.
Tensor per_sample(const std::vector<double>& v, const Tensor& x) {
  std::vector<int64_t> dims(x.dim(), 1);
  dims[0] = static_cast<int64_t>(v.size());
  return Tensor::from_vector(v, Shape(dims)).to(x.dtype());
}

// The same update as separate ops, in the header's order of operations.
Tensor unfused(const Tensor& x, const Tensor& g, const LangevinParams& p,
               const LangevinDrlInputs& drl) {
  Tensor noise;
  auto add = [](const Tensor& a, const Tensor& b) { return ops::binary(BinaryOp::Add, a, b); };
  auto mul = [](const Tensor& a, const Tensor& b) { return ops::binary(BinaryOp::Mul, a, b); };
  switch (p.mode) {
    case LangevinMode::Noise: {
      noise = Tensor::empty(x.shape(), x.dtype());
      ops::fill_normal_(noise, p.seed, p.offset, 0.0, p.noise_std);
      return add(x, noise);
    }
    case LangevinMode::Igebm:
    case LangevinMode::Sgld: {
      Tensor gc = p.clamp_grad ? ops::unary(UnaryOp::Clamp, g, p.grad_min, p.grad_max) : g;
      const double step = p.mode == LangevinMode::Igebm ? -p.step : p.step;
      Tensor y = add(x, ops::unary(UnaryOp::Affine, gc, step, 0.0));
      if (p.add_noise) {
        noise = Tensor::empty(x.shape(), x.dtype());
        ops::fill_normal_(noise, p.seed, p.offset, 0.0, p.noise_std);
      }
      if (p.mode == LangevinMode::Igebm) {
        if (p.clamp_value) y = ops::unary(UnaryOp::Clamp, y, p.value_min, p.value_max);
        if (p.add_noise) y = add(y, noise);
      } else {
        if (p.add_noise) y = add(y, noise);
        if (p.clamp_value) y = ops::unary(UnaryOp::Clamp, y, p.value_min, p.value_max);
      }
      return y;
    }
    case LangevinMode::Drl: {
      // Gather the coefficients per sample on the host, then broadcast them.
      const std::vector<double> table = drl.table.to_vector<double>();
      const std::vector<int64_t> level = drl.level.to_vector<int64_t>();
      std::vector<double> a, b, c;
      for (int64_t t : level) {
        a.push_back(table[3 * t]);
        b.push_back(-table[3 * t + 1]);
        c.push_back(table[3 * t + 2]);
      }
      Tensor y = add(x, mul(per_sample(a, x), g));
      y = add(y, mul(per_sample(b, x), ops::binary(BinaryOp::Sub, x, drl.x_tilde)));
      if (p.add_noise) {
        noise = Tensor::empty(x.shape(), x.dtype());
        ops::fill_normal_(noise, p.seed, p.offset, 0.0, 1.0);
        y = add(y, mul(per_sample(c, x), noise));
      }
      return y;
    }
  }
  return Tensor();
}

// A DRL table of `levels` rows with distinct, spec-like coefficients.
Tensor test_table(int64_t levels, DType dt) {
  std::vector<double> s_sq, sig_sq, r;
  for (int64_t t = 0; t < levels; ++t) {
    s_sq.push_back(2e-5 + 4e-3 * t);
    sig_sq.push_back(0.1 + 0.15 * t);
    r.push_back(t + 1 < levels ? 1.0 : 0.0);
  }
  return ops::drl_langevin_table(s_sq, sig_sq, r, 1.0, dt);
}

Tensor random_levels(int64_t samples, int64_t levels) {
  std::vector<int64_t> v(samples);
  for (auto& t : v) t = static_cast<int64_t>(test::rng()() % levels);
  return Tensor::from_vector(v, {samples});
}

// Every variant with the options that change its code path.
std::vector<LangevinParams> all_variants() {
  std::vector<LangevinParams> v;
  v.push_back(LangevinParams::noise_only(0.3));
  v.push_back(LangevinParams::igebm(10.0, 0.01, 0.005));   // a middle step of a chain
  v.push_back(LangevinParams::igebm(10.0, 0.01, 0.0));     // the last step: no noise
  LangevinParams ig = LangevinParams::igebm(0.5, 1.0, 0.05);
  ig.clamp_grad = false;  // clamps are independent switches
  v.push_back(ig);
  v.push_back(LangevinParams::sgld(1.0, 0.01));            // JEM
  v.push_back(LangevinParams::mebm(1.0, 0.001));           // M-JEM script
  v.push_back(LangevinParams::mebm(1.0, 0.0));             // M-EBM default: no noise
  v.push_back(LangevinParams::drl(true));
  v.push_back(LangevinParams::drl(false));
  return v;
}

std::string describe(const LangevinParams& p) {
  return str(langevin_mode_name(p.mode), " noise ", p.add_noise, " clamp_g ", p.clamp_grad,
             " clamp_v ", p.clamp_value, " seed ", p.seed, " offset ", p.offset);
}

// Inputs of one case: x spread beyond the value box, g beyond the gradient clip.
struct Case {
  Tensor x, g;
  LangevinDrlInputs drl;
};
Case make_case(const Shape& s, const LangevinParams& p, DType dt) {
  Case c;
  c.x = test::uniform(s, -0.2, 1.2, dt);
  c.g = test::randn(s, dt, p.mode == LangevinMode::Igebm ? 0.02 : 1.5);
  if (p.mode == LangevinMode::Drl) {
    c.drl.x_tilde = test::randn(s, dt);
    c.drl.table = test_table(6, dt);
    c.drl.level = random_levels(s[0], 6);
  }
  return c;
}

// ---- (a) fused == unfused

TEST(Langevin, FusedEqualsUnfusedOps) {
  const Shape shapes[] = {{1}, {3}, {2, 4}, {5, 3, 7}, {3, 1, 2, 3}, {7, 3, 17, 19}, {0, 3}};
  // Block-aligned offsets (the Generator's) and unaligned odd and even ones.
  const uint64_t offsets[] = {0, 1, 6, 262143, (uint64_t(1) << 32) + 4};
  for (DType dt : {DType::Float32, DType::Float64})
    for (const Shape& s : shapes)
      for (uint64_t offset : offsets)
        for (LangevinParams p : all_variants()) {
          p.seed = fresh_seed();
          p.offset = offset;
          SCOPED_TRACE(str(describe(p), " shape ", s, " ", dtype_name(dt)));
          Case c = make_case(s, p, dt);
          Tensor expected = unfused(c.x, c.g, p, c.drl);
          Tensor x = c.x.clone();
          const uint64_t version = x.storage().version();
          ops::langevin_step_(x, c.g, p, c.drl);
          EXPECT_GT(x.storage().version(), version);
          EXPECT_LE(close_ratio(x, expected, 1e-6, 1e-6), 1.0);
          // Same operations in the same order, so in fact the same bits.
          EXPECT_EQ(bit_differences(x, expected), 0);
        }
}

// With x = 0 and g = 0 the update leaves exactly the noise term: the bits of fill_normal_.
TEST(Langevin, NoiseIsFillNormalBitForBit) {
  for (DType dt : {DType::Float32, DType::Float64})
    for (int64_t n : {1, 2, 3, 5, 13, 1031, 4097})
      for (uint64_t offset : {0ull, 1ull, 3ull, 4ull, 6ull, 262141ull})
        for (LangevinParams p : {LangevinParams::noise_only(0.7), LangevinParams::igebm(10, 0.01, 0.005),
                                 LangevinParams::sgld(1.0, 0.01), LangevinParams::drl(true)}) {
          p.seed = fresh_seed();
          p.offset = offset;
          SCOPED_TRACE(str(describe(p), " n ", n, " ", dtype_name(dt)));
          const Shape s{n, 1};
          Tensor x = Tensor::zeros(s, dt), g = Tensor::zeros(s, dt);
          LangevinDrlInputs drl;
          double std = p.noise_std;
          if (p.mode == LangevinMode::Drl) {  // one level whose noise column is 0.25
            std = 0.25;
            drl.x_tilde = Tensor::zeros(s, dt);
            drl.level = Tensor::from_vector(std::vector<int64_t>(n, 0), {n});
            drl.table = Tensor::from_vector(std::vector<double>{0.5, 0.003, std}, {1, 3}).to(dt);
          }
          ops::langevin_step_(x, g, p, drl);
          Tensor noise = Tensor::empty(s, dt);
          ops::fill_normal_(noise, p.seed, p.offset, 0.0, std);
          EXPECT_EQ(bit_differences(x, noise), 0);
        }
}

TEST(Langevin, GeneratorReservesTheNoiseWords) {
  Generator gen(fresh_seed(), 8);
  Tensor x = Tensor::zeros({3, 5}), g = Tensor::zeros({3, 5});
  ops::langevin_step_(x, g, LangevinParams::sgld(1.0, 0.5), gen);
  EXPECT_EQ(gen.offset(), 8u + 16u);  // normal_words(15) = 16, already a multiple of 4
  Tensor noise = Tensor::empty({3, 5});
  ops::fill_normal_(noise, gen.seed(), 8, 0.0, 0.5);
  EXPECT_EQ(bit_differences(x, noise), 0);
  ops::langevin_step_(x, g, LangevinParams::mebm(1.0, 0.0), gen);  // no noise: gen untouched
  EXPECT_EQ(gen.offset(), 24u);
}

// ---- (b) the kernel body over its launch grid

// Memory that counts the writes to a separate, poisoned output.
template <class T>
struct CountingPtrs : LangevinPtrs<T> {
  int* count = nullptr;
  int* out_of_range = nullptr;
  int64_t n = 0;
  void put1(int64_t i, T v) const {
    if (i < 0 || i >= n) {
      ++*out_of_range;
      return;
    }
    this->out[i] = v;
    ++count[i];
  }
  void put4(int64_t i, const T* v) const {
    for (int k = 0; k < 4; ++k) put1(i + k, v[k]);
  }
};

template <LangevinMode M, bool Noise>
void check_body_over_grid(int64_t n, int64_t per_sample, uint64_t offset, int64_t max_blocks) {
  SCOPED_TRACE(str("mode ", langevin_mode_name(M), " noise ", Noise, " n ", n, " P ", per_sample,
                   " offset ", offset, " max_blocks ", max_blocks));
  const int64_t levels = 5, samples = n == 0 ? 0 : (n + per_sample - 1) / per_sample;
  std::vector<float> x(n), g(n), xt(n), out(n, NAN), table(3 * levels);
  std::vector<int64_t> level(samples);
  std::vector<int> count(n, 0);
  for (auto* v : {&x, &g, &xt})
    for (auto& e : *v) e = static_cast<float>(test::rng()() % 2001) / 1000.0f - 1.0f;
  for (int64_t t = 0; t < 3 * levels; ++t) table[t] = 0.1f * static_cast<float>(t + 1);
  for (auto& t : level) t = static_cast<int64_t>(test::rng()() % levels);
  LangevinParams p = LangevinParams::mebm(0.7, 0.3, 0.5, -0.6, 0.6);
  p.mode = M;
  if (M != LangevinMode::Igebm && M != LangevinMode::Sgld) p.clamp_grad = p.clamp_value = false;
  p.seed = fresh_seed();
  p.offset = offset;
  const LangevinArgs<float> a = langevin_args<float>(p, n, per_sample, levels);
  int out_of_range = 0;
  CountingPtrs<float> m;
  m.x = x.data();
  m.out = out.data();
  m.grad = g.data();
  m.x_tilde = xt.data();
  m.level = level.data();
  m.table = table.data();
  m.count = count.data();
  m.out_of_range = &out_of_range;
  m.n = n;
  const LangevinLaunchDims d = langevin_launch_dims(n, max_blocks);
  EXPECT_LE(static_cast<int64_t>(d.grid), max_blocks);
  EXPECT_EQ(d.grid == 0, n == 0);
  for (uint32_t b = 0; b < d.grid; ++b)
    for (uint32_t t = 0; t < d.block; ++t) langevin_body<M, Noise, float>(a, m, b, t, d.grid, d.block);
  EXPECT_EQ(out_of_range, 0);
  int64_t not_once = 0, wrong = 0, first = -1;
  for (int64_t i = 0; i < n; ++i) {
    not_once += count[i] != 1;
    // The element formula at element i's own normal and its sample's coefficients.
    const float z = Noise ? philox::normal(p.seed, offset, static_cast<uint64_t>(i)) : 0.0f;
    const int64_t t = level[i / per_sample];
    const DrlCoeffs<float> c{table[3 * t], table[3 * t + 1], table[3 * t + 2]};
    const float ref = langevin_element<M, Noise, float>(a, x[i], g[i], xt[i], z, c);
    if (bits(out[i]) != bits(ref) && wrong++ == 0) first = i;
  }
  EXPECT_EQ(not_once, 0) << "elements not written exactly once";
  EXPECT_EQ(wrong, 0) << "first wrong element " << first;
}

template <LangevinMode M, bool Noise>
void check_body_all() {
  const int64_t sizes[] = {0, 1, 2, 3, 4, 5, 7, 255, 256, 257, 1023, 1025, 4099};
  const uint64_t offsets[] = {0, 1, 3, 6, 262143};
  for (int64_t n : sizes)
    for (int64_t mb : {1, 3, 1056})
      for (int64_t ps : {1, 3, 5, 12}) {
        if (M != LangevinMode::Drl && ps != 1) continue;
        check_body_over_grid<M, Noise>(n, ps, offsets[test::rng()() % std::size(offsets)], mb);
      }
}

TEST(LangevinBody, WritesEveryElementOnceOverTheLaunchGrid) {
  check_body_all<LangevinMode::Noise, true>();
  check_body_all<LangevinMode::Igebm, true>();
  check_body_all<LangevinMode::Igebm, false>();
  check_body_all<LangevinMode::Sgld, true>();
  check_body_all<LangevinMode::Sgld, false>();
  check_body_all<LangevinMode::Drl, true>();
  check_body_all<LangevinMode::Drl, false>();
}

TEST(LangevinBody, LaunchDimensions) {
  EXPECT_EQ(langevin_groups(0), 0);
  EXPECT_EQ(langevin_groups(1), 1);
  EXPECT_EQ(langevin_groups(4), 1);
  EXPECT_EQ(langevin_groups(5), 2);
  LangevinLaunchDims d = langevin_launch_dims(1 << 20, 1056);
  EXPECT_EQ(d.groups, 1 << 18);
  EXPECT_EQ(d.block, kLangevinBlock);
  EXPECT_EQ(d.grid, 1024u);
  d = langevin_launch_dims(int64_t(1) << 40, 1056);
  EXPECT_EQ(d.grid, 1056u);
}

// langevin_words4 is philox_words4 without the variable index.
TEST(LangevinBody, WordsMatchPhiloxWords4) {
  for (uint64_t w : {0ull, 1ull, 2ull, 3ull, 5ull, 262142ull, 262143ull, (1ull << 34) + 7})
    for (uint64_t seed : {0ull, 42ull, 0x9E3779B97F4A7C15ull}) {
      const philox::U32x4 a = langevin_words4(seed, w), b = philox_words4(seed, w);
      for (int k = 0; k < 4; ++k) EXPECT_EQ(a.v[k], b.v[k]) << "w " << w << " k " << k;
    }
}

// ---- (c) DRL coefficients

// The table from the spec's T = 6 schedule (igebm-drl.md §2.2): s_t² and σ_{t+1} give the tether
// column s_t²/(2σ²_{t+1}) (0 at the top level, r = 0) and the noise column λ s_t.
// ---- captured CUDA graphs: the kernel body reading {seed, base} from a captured state

TEST(LangevinGraph, ResolvedPhiloxIsTheStatePlusTheCapturedOffset) {
  LangevinArgs<float> a;
  a.seed = 1;
  a.offset = 8;
  EXPECT_EQ(langevin_resolve_philox(a).offset, 8u) << "eager: unchanged";
  const uint64_t state[2] = {0xDEADBEEFull, ~uint64_t(0) - 3};  // base 2^64 - 4
  a.philox_state = state;
  const LangevinArgs<float> r = langevin_resolve_philox(a);
  EXPECT_EQ(r.seed, 0xDEADBEEFull);
  EXPECT_EQ(r.offset, 4u) << "wraps mod 2^64, as Generator::reserve's offsets do";
  EXPECT_EQ(r.philox_state, nullptr);
}

// One step of a chain through the kernel body over the launch grid, in place on x, as the
// launcher picks it: the captured body when it draws noise, the eager one otherwise.
template <LangevinMode M>
void body_step(const LangevinArgs<float>& a, float* x, const float* g, bool noise) {
  LangevinPtrs<float> m;
  m.x = x;
  m.out = x;
  m.grad = g;
  const LangevinLaunchDims d = langevin_launch_dims(a.n, 7);
  for (uint32_t b = 0; b < d.grid; ++b)
    for (uint32_t t = 0; t < d.block; ++t) {
      if (noise)
        langevin_body_captured<M, true, float>(a, m, b, t, d.grid, d.block);
      else
        langevin_body<M, false, float>(a, m, b, t, d.grid, d.block);
    }
}

// What a captured K-step chain computes at each replay, on the CPU: the capture records each
// draw relative to the generator's offset (CapturedGenerator) and leaves the generator as it
// was; replay k reserves the chain's words and the body reads {seed, base} from the state. Bit
// for bit the eager chains run from a copy of the generator, also across a reseed between
// replays, unaligned offsets and offsets wrapping past 2^64.
TEST(LangevinGraph, ReplaysOfACapturedChainEqualEagerChains) {
  const int64_t n = 1031;
  const uint64_t seed = fresh_seed();
  for (uint64_t start : {uint64_t(0), uint64_t(6), ~uint64_t(0) - 4000}) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed << " start " << start);
    // The chain: IGEBM's first noise, K = 3 IGEBM steps (the last without noise), one SGLD step.
    std::vector<LangevinParams> steps = {LangevinParams::noise_only(0.005)};
    for (int k = 1; k <= 3; ++k) steps.push_back(LangevinParams::igebm(10.0, 0.01, k < 3 ? 0.005 : 0.0));
    steps.push_back(LangevinParams::sgld(1.0, 0.01));
    std::vector<Tensor> grads;
    for (size_t k = 0; k < steps.size(); ++k) grads.push_back(test::randn({n}, DType::Float32, 0.02));
    const Tensor x0 = test::uniform({n}, 0.0, 1.0, DType::Float32);

    Generator eager_gen(seed, start), graph_gen(seed, start);
    // The capture: offsets relative to the base; the generator is left where it was.
    CapturedGenerator cap(graph_gen);
    std::vector<uint64_t> rel(steps.size(), 0);
    for (size_t k = 0; k < steps.size(); ++k)
      if (steps[k].add_noise) rel[k] = cap.reserve(ops::normal_words(n));
    cap.finish();
    EXPECT_EQ(graph_gen.offset(), start);

    Tensor xe = x0.clone(), xg = x0.clone();
    for (int replay = 0; replay < 4; ++replay) {
      if (replay == 2) {  // a reseed between replays is followed by both
        eager_gen.manual_seed(seed + 1);
        graph_gen.manual_seed(seed + 1);
      }
      for (size_t k = 0; k < steps.size(); ++k) ops::langevin_step_(xe, grads[k], steps[k], eager_gen);
      const uint64_t state[2] = {graph_gen.seed(), cap.replay()};
      for (size_t k = 0; k < steps.size(); ++k) {
        LangevinArgs<float> a = langevin_args<float>(steps[k], n);
        a.offset = rel[k];
        a.philox_state = state;
        const float* g = grads[k].data<float>();
        switch (steps[k].mode) {
          case LangevinMode::Noise: body_step<LangevinMode::Noise>(a, xg.data<float>(), g, true); break;
          case LangevinMode::Igebm:
            body_step<LangevinMode::Igebm>(a, xg.data<float>(), g, steps[k].add_noise);
            break;
          default: body_step<LangevinMode::Sgld>(a, xg.data<float>(), g, steps[k].add_noise);
        }
      }
      EXPECT_EQ(graph_gen.state(), eager_gen.state()) << "replay " << replay;
      EXPECT_EQ(bit_differences(xg, xe), 0) << "replay " << replay;
    }
  }
}

TEST(LangevinDrl, TableFromTheSpecSchedule) {
  const std::vector<double> s_sq = {2.0954e-5, 1.7277e-3, 4.6861e-3, 7.9202e-3, 1.0742e-2, 1.9196e-2};
  const std::vector<double> sigma = {0.323680, 0.516495, 0.632211, 0.713242, 0.773369, 0.999741};
  const std::vector<double> tether = {1.000e-4, 3.238e-3, 5.862e-3, 7.785e-3, 8.980e-3, 0.0};
  const std::vector<double> s = {0.00458, 0.04157, 0.06846, 0.08900, 0.10364, 0.13855};
  std::vector<double> sig_sq, r(6, 1.0);
  for (double v : sigma) sig_sq.push_back(v * v);
  r[5] = 0.0;
  Tensor table = ops::drl_langevin_table(s_sq, sig_sq, r, 0.99, DType::Float64);
  ASSERT_EQ(table.shape(), Shape({6, 3}));
  const std::vector<double> v = table.to_vector<double>();
  for (int t = 0; t < 6; ++t) {
    EXPECT_EQ(v[3 * t], 0.5);
    EXPECT_NEAR(v[3 * t + 1], tether[t], 1e-3 * tether[t] + 1e-12) << "tether at t = " << t;
    EXPECT_NEAR(v[3 * t + 2], 0.99 * s[t], 2e-3 * s[t]) << "noise std at t = " << t;
  }
  expect_error<ShapeError>([&] { ops::drl_langevin_table(s_sq, sig_sq, {1.0}, 1.0); },
                           {"drl_langevin_table", "one s_t^2"});
  expect_error<ValueError>([&] { ops::drl_langevin_table({1e-3}, {0.0}, {1.0}, 1.0); },
                           {"drl_langevin_table", "sigma_{t+1}^2 > 0"});
}

// Four samples of P = 6 elements (groups of four straddle samples), each at its own level;
// every element against y + ½g − B_t (y − x̃) + C_t ξ_i computed by hand in double.
TEST(LangevinDrl, PerSampleCoefficientsByHand) {
  const std::vector<double> s_sq = {2e-5, 1.7e-3, 4.7e-3, 7.9e-3, 1.1e-2, 1.9e-2};
  const std::vector<double> sig_sq = {0.105, 0.267, 0.400, 0.509, 0.598, 0.999};
  const std::vector<double> r = {1, 1, 1, 1, 1, 0};
  const std::vector<int64_t> levels = {5, 0, 3, 1};
  for (DType dt : {DType::Float32, DType::Float64}) {
    const Shape s{4, 1, 2, 3};
    Tensor x = test::randn(s, dt), g = test::randn(s, dt, 3.0), xt = test::randn(s, dt);
    LangevinDrlInputs drl{xt, Tensor::from_vector(levels, {4}),
                          ops::drl_langevin_table(s_sq, sig_sq, r, 1.0, dt)};
    LangevinParams p = LangevinParams::drl();
    p.seed = fresh_seed();
    p.offset = 3;
    const std::vector<double> xv = x.to_vector<double>(), gv = g.to_vector<double>(),
                              tv = xt.to_vector<double>();
    ops::langevin_step_(x, g, p, drl);
    const std::vector<double> got = x.to_vector<double>();
    for (int64_t i = 0; i < 24; ++i) {
      const int64_t t = levels[i / 6];
      const double tether = r[t] * s_sq[t] / (2 * sig_sq[t]), std = std::sqrt(s_sq[t]);
      const double xi = philox::normal(p.seed, p.offset, i);
      const double want = xv[i] + 0.5 * gv[i] - tether * (xv[i] - tv[i]) + std * xi;
      const double tol = dt == DType::Float32 ? 1e-6 : 1e-13;
      EXPECT_NEAR(got[i], want, tol * (1 + std::fabs(want))) << "element " << i << " level " << t;
    }
  }
}

// ---- (d) errors

TEST(Langevin, ErrorsNameTheOpAndTheProblem) {
  Tensor x = Tensor::zeros({2, 3}), g = Tensor::zeros({2, 3});
  const LangevinParams sgld = LangevinParams::sgld();
  expect_error<ShapeError>([&] { ops::langevin_step_(x, Tensor::zeros({3, 2}), sgld); },
                           {"langevin_step_", "shapes differ", "float32[2, 3]", "float32[3, 2]"});
  expect_error<DTypeError>(
      [&] { ops::langevin_step_(x, Tensor::zeros({2, 3}, DType::Float64), sgld); },
      {"langevin_step_", "dtypes differ"});
  Tensor xi = Tensor::zeros({2, 3}, DType::Int64);
  expect_error<DTypeError>([&] { ops::langevin_step_(xi, g, sgld); },
                           {"langevin_step_", "float32 or float64", "int64"});
  expect_error<ValueError>([&] { ops::langevin_step_(x, Tensor(), sgld); },
                           {"langevin_step_", "'grad'", "undefined"});
  expect_error<ValueError>([&] { ops::langevin_step_(x, x.view({2, 3}), sgld); },
                           {"langevin_step_", "must not share storage"});
  LangevinParams bad = sgld;
  bad.noise_std = -1;
  expect_error<ValueError>([&] { ops::langevin_step_(x, g, bad); }, {"noise_std", "-1"});
  bad = LangevinParams::mebm();
  bad.grad_min = 2;
  expect_error<ValueError>([&] { ops::langevin_step_(x, g, bad); }, {"grad_min <= grad_max"});
  bad = LangevinParams::drl();
  bad.clamp_value = true;
  expect_error<ValueError>([&] { ops::langevin_step_(x, g, bad); }, {"mode drl has no clamps"});
  // Noise mode reads no gradient.
  EXPECT_NO_THROW(ops::langevin_step_(x, Tensor(), LangevinParams::noise_only(0.1)));

  // DRL's conditioning inputs.
  const LangevinParams drl = LangevinParams::drl();
  LangevinDrlInputs in{Tensor::zeros({2, 3}), Tensor::from_vector(std::vector<int64_t>{0, 1}, {2}),
                       test_table(2, DType::Float32)};
  EXPECT_NO_THROW(ops::langevin_step_(x, g, drl, in));
  expect_error<ValueError>([&] { ops::langevin_step_(x, g, drl); }, {"'x_tilde'", "undefined"});
  expect_error<ValueError>([&] { ops::langevin_step_(x, g, sgld, in); },
                           {"DRL inputs", "mode sgld"});
  LangevinDrlInputs b = in;
  b.x_tilde = Tensor::zeros({2, 2});
  expect_error<ShapeError>([&] { ops::langevin_step_(x, g, drl, b); }, {"shapes differ"});
  b = in;
  b.level = Tensor::zeros({2});
  expect_error<DTypeError>([&] { ops::langevin_step_(x, g, drl, b); }, {"level must be int64"});
  b = in;
  b.level = Tensor::from_vector(std::vector<int64_t>{0, 1, 1}, {3});
  expect_error<ShapeError>([&] { ops::langevin_step_(x, g, drl, b); },
                           {"level must have shape [2]", "int64[3]"});
  b = in;
  b.level = Tensor::from_vector(std::vector<int64_t>{0, 2}, {2});
  expect_error<ValueError>([&] { ops::langevin_step_(x, g, drl, b); },
                           {"level[1] = 2", "outside the table's 2 levels"});
  b = in;
  b.table = Tensor::zeros({2, 2});
  expect_error<ShapeError>([&] { ops::langevin_step_(x, g, drl, b); }, {"table must have shape [T, 3]"});
  b = in;
  b.table = Tensor::zeros({2, 3}, DType::Float64);
  expect_error<DTypeError>([&] { ops::langevin_step_(x, g, drl, b); }, {"dtypes differ"});
}

// A cuda tensor: without a usable device it cannot even be made (the device hooks say why); with
// one, mixing devices is a DeviceError naming both tensors.
TEST(Langevin, DevicesMustMatch) {
  Tensor xc;
  try {
    xc = Tensor::zeros({2, 3}, DType::Float32, Device::cuda());
  } catch (const Error& e) {
    GTEST_SKIP() << "no cuda tensors here: " << e.message();
  }
  Tensor g = Tensor::zeros({2, 3});
  expect_error<DeviceError>([&] { ops::langevin_step_(xc, g, LangevinParams::sgld()); },
                            {"langevin_step_", "different devices", "cuda:0", "cpu"});
}

}  // namespace
}  // namespace ebm
