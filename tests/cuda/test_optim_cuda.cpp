// The optimizer kernels on the GPU (cuda/kernels/optim.cu) against the CPU backend on fresh random
// inputs: Adam (Torch and TF order, every clip mode, L2 and decoupled decay), SGD (momentum,
// first step, Nesterov), the EMA forms, gradient scale / clamp, float32 and float64, through the
// raw launchers into poisoned (NaN) outputs and through the ops in place. Both backends run the
// same never-fused EBM_HD arithmetic, so the results must be the same bits. The norm pieces use
// the same fixed split and lane tree: the same bits too. Then the nn layer on cuda parameters
// (Adam, SGD, clip_grad_norm_, EMA) against the same on the CPU, and the device errors.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "core/ops/optim.h"
#include "cpu_compare.h"
#include "cuda/optim.h"
#include "cuda_test_util.h"
#include "nn/ema.h"
#include "nn/grad_clip.h"
#include "nn/optim.h"
#include "test_util.h"

namespace ebm {
namespace {

using test::DeviceBuffer;
using test::upload;

template <class T>
int64_t bit_differences(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return -1;
  int64_t bad = 0;
  for (size_t i = 0; i < a.size(); ++i) bad += std::memcmp(&a[i], &b[i], sizeof(T)) != 0;
  return bad;
}

template <class T>
int64_t bit_differences(const Tensor& a, const Tensor& b) {
  return bit_differences(a.to(Device::cpu()).to_vector<T>(), b.to(Device::cpu()).to_vector<T>());
}

const int64_t kSizes[] = {1, 255, 256, 257, 4099, 100003};

std::vector<AdamHyper> adam_variants() {
  std::vector<AdamHyper> v;
  for (AdamEpsilon e : {AdamEpsilon::Torch, AdamEpsilon::Tf})
    for (AdamClip c : {AdamClip::None, AdamClip::Official, AdamClip::Port})
      for (int decay = 0; decay < 3; ++decay) {
        AdamHyper h;
        h.lr = 3e-3;
        h.beta1 = c == AdamClip::None ? 0.9 : 0.0;
        h.eps = e == AdamEpsilon::Tf ? 1e-7 : 1e-8;
        h.epsilon = e;
        h.clip = c;
        h.weight_decay = decay == 0 ? 0.0 : 0.05;
        h.decoupled_weight_decay = decay == 2;
        v.push_back(h);
      }
  return v;
}

template <class T>
void adam_matches_cpu() {
  const DType dt = dtype_of<T>::value;
  for (int64_t n : kSizes)
    for (const AdamHyper& h : adam_variants())
      for (int64_t step : {1, 2, 7}) {
        SCOPED_TRACE(::testing::Message() << dtype_name(dt) << " n " << n << " eps " << int(h.epsilon)
                                          << " clip " << int(h.clip) << " wd " << h.weight_decay
                                          << " decoupled " << h.decoupled_weight_decay << " step " << step);
        Tensor p = test::randn({n}, dt), g = test::randn({n}, dt, 2.0);
        Tensor m = test::randn({n}, dt, 0.1), v = test::uniform({n}, 0.0, 0.3, dt);
        auto pd = upload<T>(p), gd = upload<T>(g), md = upload<T>(m), vd = upload<T>(v);
        DeviceBuffer<T> po(n), mo(n), vo(n);
        po.poison(0xFF);
        mo.poison(0xFF);
        vo.poison(0xFF);
        AdamPtrs<T> q{pd->get(), gd->get(), md->get(), vd->get(), po.get(), mo.get(), vo.get()};
        cuda::adam_step(h.epsilon, adam_args<T>(h, step, n), q, cuda::current_stream());
        // The op in place on cuda tensors, and on the CPU.
        Tensor pg = p.to(Device::cuda()), gg = g.to(Device::cuda()), mg = m.to(Device::cuda()),
               vg = v.to(Device::cuda());
        ops::adam_step_(pg, gg, mg, vg, h, step);
        ops::adam_step_(p, g, m, v, h, step);
        EXPECT_EQ(bit_differences(po.download(0, n), p.to_vector<T>()), 0) << "raw launcher, param";
        EXPECT_EQ(bit_differences(mo.download(0, n), m.to_vector<T>()), 0) << "raw launcher, exp_avg";
        EXPECT_EQ(bit_differences(vo.download(0, n), v.to_vector<T>()), 0) << "raw launcher, exp_avg_sq";
        EXPECT_EQ(bit_differences<T>(pg, p), 0) << "op, param";
        EXPECT_EQ(bit_differences<T>(mg, m), 0) << "op, exp_avg";
        EXPECT_EQ(bit_differences<T>(vg, v), 0) << "op, exp_avg_sq";
      }
}

TEST(OptimCuda, AdamMatchesCpuBitForBit) {
  EBM_REQUIRE_CUDA();
  adam_matches_cpu<float>();
  adam_matches_cpu<double>();
}

template <class T>
void sgd_matches_cpu() {
  const DType dt = dtype_of<T>::value;
  for (int64_t n : kSizes)
    for (double momentum : {0.0, 0.9})
      for (bool nesterov : {false, true})
        for (bool first : {true, false}) {
          if (nesterov && momentum == 0.0) continue;
          SCOPED_TRACE(::testing::Message() << dtype_name(dt) << " n " << n << " momentum " << momentum
                                            << " nesterov " << nesterov << " first " << first);
          SgdHyper h;
          h.lr = 0.1;
          h.momentum = momentum;
          h.dampening = nesterov ? 0.0 : 0.2;
          h.weight_decay = 5e-4;
          h.nesterov = nesterov;
          Tensor p = test::randn({n}, dt), g = test::randn({n}, dt), b = test::randn({n}, dt);
          auto pd = upload<T>(p), gd = upload<T>(g), bd = upload<T>(b);
          DeviceBuffer<T> po(n), bo(n);
          po.poison(0xFF);
          bo.poison(0xFF);
          SgdPtrs<T> q{pd->get(), gd->get(), bd->get(), po.get(), bo.get()};
          cuda::sgd_step(momentum != 0.0, sgd_args<T>(h, first, n), q, cuda::current_stream());
          Tensor pg = p.to(Device::cuda()), gg = g.to(Device::cuda()), bg = b.to(Device::cuda());
          ops::sgd_step_(pg, gg, bg, h, first);
          ops::sgd_step_(p, g, b, h, first);
          EXPECT_EQ(bit_differences(po.download(0, n), p.to_vector<T>()), 0) << "raw launcher, param";
          if (momentum != 0.0)
            EXPECT_EQ(bit_differences(bo.download(0, n), b.to_vector<T>()), 0) << "raw launcher, buffer";
          EXPECT_EQ(bit_differences<T>(pg, p), 0) << "op, param";
          EXPECT_EQ(bit_differences<T>(bg, b), 0) << "op, buffer";
        }
}

TEST(OptimCuda, SgdMatchesCpuBitForBit) {
  EBM_REQUIRE_CUDA();
  sgd_matches_cpu<float>();
  sgd_matches_cpu<double>();
}

template <class T>
void maps_match_cpu() {
  const DType dt = dtype_of<T>::value;
  for (int64_t n : kSizes) {
    SCOPED_TRACE(::testing::Message() << dtype_name(dt) << " n " << n);
    Tensor s = test::randn({n}, dt), v = test::randn({n}, dt);
    for (EmaForm f : {EmaForm::Tf, EmaForm::Lerp}) {
      auto sd = upload<T>(s), vd = upload<T>(v);
      DeviceBuffer<T> so(n);
      so.poison(0xFF);
      EmaArgs<T> a;
      a.n = n;
      a.decay = static_cast<T>(0.999);
      a.one_minus_decay = static_cast<T>(1.0 - 0.999);
      cuda::ema_update(f, a, EmaPtrs<T>{sd->get(), vd->get(), so.get()}, cuda::current_stream());
      Tensor sg = s.to(Device::cuda());
      ops::ema_update_(sg, v.to(Device::cuda()), 0.999, f);
      Tensor sc = s.clone();
      ops::ema_update_(sc, v, 0.999, f);
      EXPECT_EQ(bit_differences(so.download(0, n), sc.to_vector<T>()), 0) << "ema raw";
      EXPECT_EQ(bit_differences<T>(sg, sc), 0) << "ema op";
    }
    Tensor x = test::randn({n}, dt, 3.0);
    x.data<T>()[0] = static_cast<T>(NAN);
    for (GradMap op : {GradMap::Scale, GradMap::Clamp}) {
      auto xd = upload<T>(x);
      DeviceBuffer<T> xo(n);
      xo.poison(0xFF);
      GradMapArgs<T> a{n, static_cast<T>(op == GradMap::Scale ? 0.37 : -1.5), static_cast<T>(2.0)};
      cuda::grad_map(op, a, GradMapPtrs<T>{xd->get(), xo.get()}, cuda::current_stream());
      Tensor xg = x.to(Device::cuda()), xc = x.clone();
      if (op == GradMap::Scale) {
        ops::grad_scale_(xg, 0.37);
        ops::grad_scale_(xc, 0.37);
      } else {
        ops::grad_clamp_(xg, -1.5, 2.0);
        ops::grad_clamp_(xc, -1.5, 2.0);
      }
      EXPECT_EQ(bit_differences(xo.download(0, n), xc.to_vector<T>()), 0) << "map raw " << int(op);
      EXPECT_EQ(bit_differences<T>(xg, xc), 0) << "map op " << int(op);
    }
  }
}

TEST(OptimCuda, EmaAndGradMapsMatchCpuBitForBit) {
  EBM_REQUIRE_CUDA();
  maps_match_cpu<float>();
  maps_match_cpu<double>();
}

template <class T>
void norms_match_cpu() {
  const DType dt = dtype_of<T>::value;
  std::vector<Tensor> xs;
  for (int64_t n : {int64_t(0), int64_t(1), kNormChunk - 1, kNormChunk, kNormChunk + 1,
                    3 * kNormChunk + 5, int64_t(1) << 20, int64_t(300) * kNormChunk + 9})
    xs.push_back(test::randn({n}, dt));
  std::vector<Tensor> xg;
  for (const Tensor& x : xs) xg.push_back(x.to(Device::cuda()));
  for (NormKind k : {NormKind::SumSquares, NormKind::MaxAbs}) {
    const std::vector<double> cpu = ops::norm_parts(xs, k), gpu = ops::norm_parts(xg, k);
    EXPECT_EQ(bit_differences(gpu, cpu), 0) << dtype_name(dt) << " kind " << int(k);
    // The raw launcher into a poisoned slot.
    const Tensor& big = xs.back();
    auto xd = upload<T>(big);
    DeviceBuffer<double> ws(norm_chunks(big.numel())), out(1);
    out.poison(0xFF);
    cuda::norm_part(k, xd->get(), big.numel(), ws.get(), out.get(), cuda::current_stream());
    EXPECT_EQ(bit_differences(out.download(0, 1), std::vector<double>{cpu.back()}), 0);
  }
}

TEST(OptimCuda, NormPartsMatchCpuBitForBit) {
  EBM_REQUIRE_CUDA();
  norms_match_cpu<float>();
  norms_match_cpu<double>();
}

// ---- the nn layer on cuda parameters

template <class Opt, class Options>
void optimizer_on_cuda(const Options& o) {
  const Shape shapes[] = {{64, 3, 3, 3}, {64}, {10, 4097}};
  nn::NamedTensors cpu, gpu;
  for (size_t i = 0; i < 3; ++i) {
    Tensor p = test::randn(shapes[i], DType::Float32);
    cpu.emplace_back(str("p", i), p.clone().set_requires_grad(true));
    gpu.emplace_back(str("p", i), p.to(Device::cuda()).set_requires_grad(true));
  }
  Opt oc(cpu, o), og(gpu, o);
  nn::Ema ec(cpu), eg(gpu);
  for (int step = 0; step < 4; ++step) {
    for (size_t i = 0; i < 3; ++i) {
      if (step == 1 && i == 1) {  // skipped on both
        cpu[i].second.zero_grad();
        gpu[i].second.zero_grad();
        continue;
      }
      Tensor g = test::randn(shapes[i], DType::Float32, 3.0);
      cpu[i].second.set_grad(g);
      gpu[i].second.set_grad(g.to(Device::cuda()));
    }
    const double nc = nn::clip_grad_norm_(cpu, 5.0), ng = nn::clip_grad_norm_(gpu, 5.0);
    EXPECT_EQ(nc, ng) << "the same split on both backends";
    oc.step();
    og.step();
    ec.update(cpu);
    eg.update(gpu);
  }
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(bit_differences<float>(gpu[i].second, cpu[i].second), 0) << cpu[i].first;
    EXPECT_EQ(bit_differences<float>(eg.shadows()[i].second, ec.shadows()[i].second), 0) << "ema " << i;
  }
  const nn::NamedTensors sc = oc.state_dict(), sg = og.state_dict();
  ASSERT_EQ(sc.size(), sg.size());
  for (size_t k = 0; k < sc.size(); ++k) {
    EXPECT_EQ(sg[k].first, sc[k].first);
    if (sg[k].second.dtype() == DType::Float32) {
      EXPECT_TRUE(sg[k].second.device().is_cuda()) << sg[k].first;
      EXPECT_EQ(bit_differences<float>(sg[k].second, sc[k].second), 0) << sc[k].first;
    }
  }
}

TEST(OptimCuda, OptimizersClipAndEmaOnCudaEqualCpu) {
  EBM_REQUIRE_CUDA();
  optimizer_on_cuda<nn::Adam>(nn::AdamOptions::igebm());
  optimizer_on_cuda<nn::Adam>(nn::AdamOptions::drl());
  optimizer_on_cuda<nn::Adam>(nn::AdamOptions::adamw());
  nn::SgdOptions s = nn::SgdOptions::mebm();
  s.nesterov = true;
  optimizer_on_cuda<nn::Sgd>(s);
}

TEST(OptimCuda, DeviceMismatchNamesTheParameter) {
  EBM_REQUIRE_CUDA();
  Tensor w = Tensor::zeros({3}, DType::Float32, Device::cuda()).set_requires_grad(true);
  Tensor b = Tensor::zeros({3}).set_requires_grad(true);
  w.set_grad(Tensor::zeros({3}));
  nn::Adam opt(nn::NamedTensors{{"fc.weight", w}});
  test::expect_error<DeviceError>([&] { opt.step(); }, {"adam.step", "'fc.weight'", "cpu", "cuda:0"});
  w.set_grad(Tensor::zeros({3}, DType::Float32, Device::cuda()));
  b.set_grad(Tensor::zeros({3}));
  test::expect_error<DeviceError>([&] { nn::clip_grad_norm_(nn::NamedTensors{{"fc.weight", w}, {"fc.bias", b}}, 1.0); },
                                  {"'fc.bias'", "'fc.weight'", "one device"});
  nn::Ema ema(nn::NamedTensors{{"fc.weight", w}});
  test::expect_error<DeviceError>([&] { ema.update({{"fc.weight", b}}); }, {"'fc.weight'", "cpu", "cuda:0"});
}

}  // namespace
}  // namespace ebm
