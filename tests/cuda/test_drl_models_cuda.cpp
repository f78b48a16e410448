// The DRL / JEM networks (nn/drl_models.h, nn/wrn.h) on the GPU: the PyTorch goldens of the CPU
// tests (tests/data/models/, make_drl_goldens.py) — eval and train mode, ∇x, every parameter
// gradient, SN u/v and BatchNorm statistics after a training forward — and three successive
// training forwards of net_res_temb2_small (u/v iterating each time) against the CPU backend on
// fresh inputs. Tolerance: kModelTol (tests/drl_model_goldens.h); cuDNN's algorithms sum in other
// orders than the CPU's GEMMs, which costs rounding of the same order as the CPU's (TF32 is off
// by default, so every product is a full float32 one).
#include "cuda_test_util.h"
#include "drl_model_goldens.h"
#include "nn/drl_models.h"
#include "nn/wrn.h"

namespace ebm {
namespace {

test::GoldenCall drl_call(nn::DrlNet& net) {
  return [&net](const Tensor& x, const Tensor& t) {
    return std::map<std::string, Tensor>{{"out", net.forward(x, t)}};
  };
}

test::GoldenCall jem_call(nn::JemWrn& m, bool with_uncond) {
  return [&m, with_uncond](const Tensor& x, const Tensor&) {
    Tensor logits = m.forward(x);
    std::map<std::string, Tensor> out{{"out", logits}, {"energy", nn::energy_from_logits(logits)}};
    if (with_uncond) out["uncond_f"] = m.uncond_f(x);  // eval only: a second trunk forward
    return out;
  };
}

nn::WrnOptions jem_small(nn::WrnNorm norm) {
  nn::WrnOptions o = nn::wrn_small_options();
  o.norm = norm;
  return o;
}

TEST(DrlModelsCuda, NetResTemb2SmallMatchesPyTorch) {
  EBM_REQUIRE_CUDA();
  for (const char* mode : {"eval", "train"}) {
    Generator gen(1);
    nn::DrlModelOptions o;
    o.sn_iterate_in_eval = false;  // the replica's (PyTorch's) eval: σ from the stored u, v
    auto net = nn::make_drl_model("net_res_temb2_small", o, gen);
    test::run_golden_case(*net, "drl_net_res_temb2_small", mode, Device::cuda(), drl_call(*net));
  }
}

TEST(DrlModelsCuda, TimeConditionedWrnSmallMatchesPyTorch) {
  EBM_REQUIRE_CUDA();
  Generator gen(2);
  auto net = nn::make_drl_model("wrn_small", {}, gen);
  test::run_golden_case(*net, "wrn_small_te", "eval", Device::cuda(), drl_call(*net));
}

TEST(DrlModelsCuda, JemWrnSmallMatchesPyTorch) {
  EBM_REQUIRE_CUDA();
  {
    Generator gen(3);
    nn::JemWrn m(jem_small(nn::WrnNorm::None), gen);
    test::run_golden_case(m, "wrn_small_jem", "eval", Device::cuda(), jem_call(m, true));
  }
  for (const char* mode : {"eval", "train"}) {
    Generator gen(4);
    nn::JemWrn m(jem_small(nn::WrnNorm::Batch), gen);
    test::run_golden_case(m, "wrn_small_jem_bn", mode, Device::cuda(), jem_call(m, mode[0] == 'e'));
  }
  std::cout << "worst error / tolerance: " << test::worst_ratio() << "\n";
}

TEST(DrlModelsCuda, RepeatedTrainingForwardsMatchCpu) {
  EBM_REQUIRE_CUDA();
  Generator g_cpu(5), g_gpu(5);  // same seed: identical initial weights and u/v
  auto cpu = nn::make_drl_model("net_res_temb2_small", {}, g_cpu);
  auto gpu = nn::make_drl_model("net_res_temb2_small", {}, g_gpu);
  gpu->to(Device::cuda());
  Tensor t = Tensor::from_vector(std::vector<int64_t>{0, 2, 5, 3}, Shape{4});
  for (int step = 0; step < 3; ++step) {
    SCOPED_TRACE(step);
    Tensor y = test::randn(Shape{4, 3, 16, 16}, DType::Float32);
    Tensor f_cpu = cpu->forward(y, t);
    Tensor yg = y.to(Device::cuda());
    yg.set_requires_grad(true);
    Tensor f_gpu = gpu->forward(yg, t.to(Device::cuda()));
    test::expect_golden(f_gpu, f_cpu, "f");
    Tensor y2 = y.clone();
    y2.set_requires_grad(true);
    Tensor gx_cpu = grad(sum(cpu->forward(y2, t)), {y2})[0];  // another step on the CPU too
    Tensor gx_gpu = grad(sum(gpu->forward(yg, t.to(Device::cuda()))), {yg})[0];
    test::expect_golden(gx_gpu, gx_cpu, "grad_y");
  }
  auto sn_cpu = nn::spectral_norms(*cpu), sn_gpu = nn::spectral_norms(*gpu);
  ASSERT_EQ(sn_cpu.size(), sn_gpu.size());
  for (size_t i = 0; i < sn_cpu.size(); ++i) {
    test::expect_golden(sn_gpu[i]->u(), sn_cpu[i]->u(), "u of SN layer " + std::to_string(i));
    test::expect_golden(sn_gpu[i]->v(), sn_cpu[i]->v(), "v of SN layer " + std::to_string(i));
  }
}

}  // namespace
}  // namespace ebm
