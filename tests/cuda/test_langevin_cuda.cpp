// The fused Langevin update on the GPU (cuda/kernels/langevin.cu) against the CPU backend on fresh
// random inputs: every variant, sizes with vector-width and block tails, several offsets; the
// noise bit for bit (x = g = 0 leaves only the noise), the values to 1e-6 relative (and, since
// both run the same never-fused EBM_HD arithmetic, in fact the same bits); outputs poisoned first
// through the raw launcher; the scalar path of misaligned buffers; the captured-graph path (noise
// {seed, base} read from device memory) against the eager one; argument checks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/ops/langevin.h"
#include "core/ops/random.h"
#include "cuda/langevin.h"
#include "cuda_test_util.h"
#include "test_util.h"

namespace ebm {
namespace {

using test::DeviceBuffer;

uint64_t fresh_seed() { return test::rng()(); }

int64_t bit_differences(const std::vector<float>& a, const std::vector<float>& b) {
  int64_t bad = 0;
  for (size_t i = 0; i < a.size(); ++i) bad += std::memcmp(&a[i], &b[i], 4) != 0;
  return bad;
}

std::vector<LangevinParams> variants() {
  return {LangevinParams::noise_only(0.3), LangevinParams::igebm(10.0, 0.01, 0.005),
          LangevinParams::igebm(10.0, 0.01, 0.0), LangevinParams::sgld(1.0, 0.01),
          LangevinParams::mebm(1.0, 0.001), LangevinParams::mebm(1.0, 0.0),
          LangevinParams::drl(true), LangevinParams::drl(false)};
}

struct Inputs {
  Tensor x, g;
  LangevinDrlInputs drl;
};

// CPU inputs of n elements as [samples, n / samples] (DRL: 6 levels, a random level per sample).
Inputs make_inputs(int64_t n, const LangevinParams& p) {
  const int64_t samples = n % 3 == 0 ? 3 : 1;
  const Shape s{samples, n / samples};
  Inputs in;
  in.x = test::uniform(s, -0.2, 1.2, DType::Float32);
  in.g = test::randn(s, DType::Float32, p.mode == LangevinMode::Igebm ? 0.02 : 1.5);
  if (p.mode == LangevinMode::Drl) {
    in.drl.x_tilde = test::randn(s, DType::Float32);
    in.drl.table = ops::drl_langevin_table({2e-5, 1.7e-3, 4.7e-3, 7.9e-3, 1.1e-2, 1.9e-2},
                                           {0.1, 0.27, 0.4, 0.5, 0.6, 1.0}, {1, 1, 1, 1, 1, 0}, 1.0);
    std::vector<int64_t> lv(samples);
    for (auto& t : lv) t = static_cast<int64_t>(test::rng()() % 6);
    in.drl.level = Tensor::from_vector(lv, {samples});
  }
  return in;
}

LangevinDrlInputs to_cuda(const LangevinDrlInputs& d) {
  if (!d.x_tilde.defined()) return {};
  return {d.x_tilde.to(Device::cuda()), d.level.to(Device::cuda()), d.table.to(Device::cuda())};
}

// Raw pointers of device tensors for the launcher, writing into `out`.
LangevinPtrs<float> pointers(const Tensor& x, const Tensor& g, const LangevinDrlInputs& d, float* out) {
  LangevinPtrs<float> m;
  m.x = static_cast<const float*>(x.data_ptr());
  m.out = out;
  m.grad = static_cast<const float*>(g.data_ptr());
  if (d.x_tilde.defined()) {
    m.x_tilde = static_cast<const float*>(d.x_tilde.data_ptr());
    m.level = static_cast<const int64_t*>(d.level.data_ptr());
    m.table = static_cast<const float*>(d.table.data_ptr());
  }
  return m;
}

const int64_t kSizes[] = {1, 3, 4, 5, 255, 257, 1025, 65539, 3000017};
const uint64_t kOffsets[] = {0, 1, 3, 4, 6, 262141, (uint64_t(1) << 33) + 8};

TEST(LangevinCuda, MatchesCpuForEveryVariant) {
  EBM_REQUIRE_CUDA();
  for (int64_t n : kSizes)
    for (LangevinParams p : variants()) {
      p.seed = fresh_seed();
      p.offset = kOffsets[test::rng()() % std::size(kOffsets)];
      SCOPED_TRACE(::testing::Message() << langevin_mode_name(p.mode) << " noise " << p.add_noise
                                        << " n " << n << " seed " << p.seed << " offset " << p.offset);
      Inputs in = make_inputs(n, p);
      Tensor xg = in.x.to(Device::cuda()), gg = in.g.to(Device::cuda());
      LangevinDrlInputs dg = to_cuda(in.drl);
      // Raw launcher into a poisoned output (NaN everywhere), x itself untouched.
      DeviceBuffer<float> out(n);
      out.poison(0xFF);
      cuda::langevin_step(p.mode, p.add_noise,
                          langevin_args<float>(p, n, n / in.x.size(0), dg.table.defined() ? 6 : 0),
                          pointers(xg, gg, dg, out.get()), cuda::current_stream());
      const std::vector<float> raw = out.download(0, n);
      // The op, in place, on the same inputs; then the CPU op.
      ops::langevin_step_(xg, gg, p, dg);
      const std::vector<float> gpu = xg.to(Device::cpu()).to_vector<float>();
      Tensor xc = in.x.clone();
      ops::langevin_step_(xc, in.g, p, in.drl);
      const Tensor cpu_t = xc;
      const std::vector<float> cpu = cpu_t.to_vector<float>();
      EXPECT_LE(test::close_ratio(Tensor::from_vector(gpu, cpu_t.shape()), cpu_t, 1e-6, 1e-6), 1.0);
      EXPECT_EQ(bit_differences(gpu, cpu), 0) << "GPU and CPU run the same never-fused arithmetic";
      EXPECT_EQ(bit_differences(raw, gpu), 0) << "raw launcher into a poisoned buffer vs the op";
    }
}

TEST(LangevinCuda, NoiseIsTheCpuStreamBitForBit) {
  EBM_REQUIRE_CUDA();
  for (int64_t n : kSizes)
    for (uint64_t offset : {uint64_t(0), uint64_t(1), uint64_t(6)}) {
      LangevinParams p = LangevinParams::sgld(1.0, 0.01);
      p.seed = fresh_seed();
      p.offset = offset;
      SCOPED_TRACE(::testing::Message() << "n " << n << " offset " << offset << " seed " << p.seed);
      Tensor x = Tensor::zeros({n}, DType::Float32, Device::cuda());
      Tensor g = Tensor::zeros({n}, DType::Float32, Device::cuda());
      ops::langevin_step_(x, g, p);
      Tensor noise = Tensor::empty({n});
      ops::fill_normal_(noise, p.seed, p.offset, 0.0, 0.01);
      EXPECT_EQ(bit_differences(x.to(Device::cpu()).to_vector<float>(), noise.to_vector<float>()), 0);
    }
}

// Buffers one float off 16-byte alignment take the scalar path; same results.
TEST(LangevinCuda, MisalignedBuffersUseTheScalarPath) {
  EBM_REQUIRE_CUDA();
  for (int64_t n : {int64_t(7), int64_t(1029), int64_t(100003)}) {
    LangevinParams p = LangevinParams::drl(true);
    p.seed = fresh_seed();
    p.offset = 4;
    SCOPED_TRACE(::testing::Message() << "n " << n << " seed " << p.seed);
    Inputs in = make_inputs(n, p);
    LangevinDrlInputs dg = to_cuda(in.drl);
    DeviceBuffer<float> x(n, 1), g(n, 1), xt(n, 1), out(n, 1);
    const std::vector<float> xv = in.x.to_vector<float>(), gv = in.g.to_vector<float>(),
                             tv = in.drl.x_tilde.to_vector<float>();
    auto up = [](float* dst, const std::vector<float>& v) {
      EBM_CUDA_CHECK(cudaMemcpy(dst, v.data(), v.size() * 4, cudaMemcpyHostToDevice));
    };
    up(x.get() + 1, xv);
    up(g.get() + 1, gv);
    up(xt.get() + 1, tv);
    out.poison(0xFF);
    LangevinPtrs<float> m;
    m.x = x.get() + 1;
    m.out = out.get() + 1;
    m.grad = g.get() + 1;
    m.x_tilde = xt.get() + 1;
    m.level = static_cast<const int64_t*>(dg.level.data_ptr());
    m.table = static_cast<const float*>(dg.table.data_ptr());
    cuda::langevin_step(p.mode, true, langevin_args<float>(p, n, n / in.x.size(0), 6), m,
                        cuda::current_stream());
    const std::vector<float> got = out.download(1, n);
    Tensor xc = in.x.clone();
    ops::langevin_step_(xc, in.g, p, in.drl);
    EXPECT_EQ(bit_differences(got, xc.to_vector<float>()), 0);
  }
}

// The captured-graph path of the kernel (args.philox_state: the noise's {seed, base} read from
// device memory, args.offset relative to the base) equals the eager kernel with the absolute
// (seed, base + offset), for every variant, both access paths and offsets wrapping past 2^64.
TEST(LangevinCuda, CapturedStateGivesTheEagerNoise) {
  EBM_REQUIRE_CUDA();
  DeviceBuffer<uint64_t> state(2);
  for (int64_t n : {int64_t(5), int64_t(1025), int64_t(65539)})
    for (LangevinParams p : variants()) {
      if (!p.add_noise) continue;
      const uint64_t base = test::rng()() % 2 ? test::rng()() % 1000 : ~uint64_t(0) - 2;
      const uint64_t rel = 4 * (test::rng()() % 100);
      p.seed = fresh_seed();
      SCOPED_TRACE(::testing::Message() << langevin_mode_name(p.mode) << " n " << n << " seed "
                                        << p.seed << " base " << base << " rel " << rel);
      Inputs in = make_inputs(n, p);
      Tensor xg = in.x.to(Device::cuda()), gg = in.g.to(Device::cuda());
      LangevinDrlInputs dg = to_cuda(in.drl);
      const uint64_t host_state[2] = {p.seed, base};
      EBM_CUDA_CHECK(cudaMemcpy(state.get(), host_state, sizeof host_state, cudaMemcpyHostToDevice));
      const int64_t per_sample = n / in.x.size(0), levels = dg.table.defined() ? 6 : 0;
      DeviceBuffer<float> captured(n), eager(n);
      captured.poison(0xFF);
      eager.poison(0xFF);
      LangevinArgs<float> a = langevin_args<float>(p, n, per_sample, levels);
      a.seed = 0;  // must come from the state
      a.offset = rel;
      a.philox_state = state.get();
      cuda::langevin_step(p.mode, true, a, pointers(xg, gg, dg, captured.get()),
                          cuda::current_stream());
      LangevinParams pe = p;
      pe.offset = base + rel;
      cuda::langevin_step(p.mode, true, langevin_args<float>(pe, n, per_sample, levels),
                          pointers(xg, gg, dg, eager.get()), cuda::current_stream());
      EXPECT_EQ(bit_differences(captured.download(0, n), eager.download(0, n)), 0);
    }
}

TEST(LangevinCuda, OutOfRangeLevelPoisonsOnlyItsSample) {
  EBM_REQUIRE_CUDA();
  LangevinParams p = LangevinParams::drl(false);
  Inputs in = make_inputs(3 * 10, p);
  in.drl.level = Tensor::from_vector(std::vector<int64_t>{0, 7, 2}, {3});
  Tensor x = in.x.to(Device::cuda());
  ops::langevin_step_(x, in.g.to(Device::cuda()), p, to_cuda(in.drl));
  const std::vector<float> v = x.to(Device::cpu()).to_vector<float>();
  for (int i = 0; i < 30; ++i) EXPECT_EQ(std::isnan(v[i]), i >= 10 && i < 20) << i;
}

TEST(LangevinCuda, ChecksDevicesDtypesAndPointers) {
  EBM_REQUIRE_CUDA();
  Tensor x = Tensor::zeros({2, 3}, DType::Float32, Device::cuda());
  test::expect_error<DeviceError>(
      [&] { ops::langevin_step_(x, Tensor::zeros({2, 3}), LangevinParams::sgld()); },
      {"langevin_step_", "different devices", "cuda:0", "cpu"});
  Tensor xd = Tensor::zeros({2, 3}, DType::Float64, Device::cuda());
  Tensor gd = Tensor::zeros({2, 3}, DType::Float64, Device::cuda());
  test::expect_error<DTypeError>([&] { ops::langevin_step_(xd, gd, LangevinParams::sgld()); },
                                 {"langevin_step_", "float32 only"});
  LangevinDrlInputs in{Tensor::zeros({2, 3}, DType::Float32, Device::cuda()),
                       Tensor::from_vector(std::vector<int64_t>{0, 0}, {2}),  // level on the cpu
                       Tensor::zeros({1, 3}, DType::Float32, Device::cuda())};
  Tensor g = Tensor::zeros({2, 3}, DType::Float32, Device::cuda());
  test::expect_error<DeviceError>([&] { ops::langevin_step_(x, g, LangevinParams::drl(), in); },
                                  {"different devices"});

  cudaStream_t s = cuda::current_stream();
  LangevinArgs<float> a;
  LangevinPtrs<float> m;
  EXPECT_NO_THROW(cuda::langevin_step(LangevinMode::Sgld, true, a, m, s));  // n = 0: nothing
  a.n = 4;
  EXPECT_THROW(cuda::langevin_step(LangevinMode::Sgld, true, a, m, s), ValueError);
  DeviceBuffer<float> buf(16);
  m.x = m.out = buf.get();
  EXPECT_THROW(cuda::langevin_step(LangevinMode::Sgld, true, a, m, s), ValueError);  // no grad
  EXPECT_NO_THROW(cuda::langevin_step(LangevinMode::Noise, true, a, m, s));
  m.grad = reinterpret_cast<const float*>(reinterpret_cast<const char*>(buf.get() + 8) + 2);
  test::expect_error<ValueError>([&] { cuda::langevin_step(LangevinMode::Sgld, true, a, m, s); },
                                 {"grad pointer", "not 4-byte aligned"});
  m.grad = buf.get() + 8;
  EXPECT_THROW(cuda::langevin_step(LangevinMode::Drl, true, a, m, s), ValueError);  // no x_tilde
  a.philox_state = reinterpret_cast<const uint64_t*>(buf.get() + 1);  // 4 bytes off
  test::expect_error<ValueError>([&] { cuda::langevin_step(LangevinMode::Sgld, true, a, m, s); },
                                 {"philox_state pointer", "not 8-byte aligned"});
  a.philox_state = nullptr;
  a.n = -1;
  EXPECT_THROW(cuda::langevin_step(LangevinMode::Sgld, true, a, m, s), ValueError);
  cuda::synchronize();
}

}  // namespace
}  // namespace ebm
