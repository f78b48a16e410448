// IGEBM networks (nn/igebm_models.h) on the GPU: the PyTorch goldens of the CPU test (energy,
// ∇ₓ ΣE, every parameter gradient, one training power iteration) with the model moved to cuda,
// and GPU vs CPU on fresh random inputs for the conditional small model and for the dropout
// model in training mode (Philox masks are the same on both devices). TF32 stays off (the
// default), so the float32 tolerances of the CPU side apply. Skips without a device.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "autograd/ops.h"
#include "core/settings.h"
#include "cpu_compare.h"
#include "cuda_test_util.h"
#include "igebm_golden.h"
#include "nn/igebm_models.h"
#include "nn/init.h"
#include "test_util.h"

namespace ebm {
namespace {

using namespace test::igebm;

class IgebmGoldenCuda : public ::testing::TestWithParam<std::tuple<std::string, DType>> {};

TEST_P(IgebmGoldenCuda, MatchesPyTorch) {
  EBM_REQUIRE_CUDA();
  auto [name, dt] = GetParam();
  ASSERT_FALSE(allow_tf32());
  Golden g = load_golden(name);
  auto model = model_of(g, dt);
  model->to(Device::cuda());
  check_golden(g, *model, dt);
}

INSTANTIATE_TEST_SUITE_P(Cases, IgebmGoldenCuda,
                         ::testing::Combine(::testing::ValuesIn(kCases),
                                            ::testing::Values(DType::Float32, DType::Float64)),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" + dtype_name(std::get<1>(info.param));
                         });

// Everything one training step needs from the network, on one device.
struct Step {
  std::vector<double> energy, grad_x;
  std::vector<std::vector<double>> grads, state;
};

Step run_step(nn::IgebmResNet& m, const Tensor& x_host, const Tensor& y_host, Device dev) {
  Tensor x = x_host.to(dev).clone().set_requires_grad(true);
  Tensor y = y_host.defined() ? y_host.to(dev) : Tensor();
  m.zero_grad();
  m.refresh_spectral_norm();  // OncePerIteration: one power iteration, shared by both forwards
  Tensor e = m.forward(x, y);
  Step s;
  s.energy = e.to_vector<double>();
  s.grad_x = grad(sum(e), {x})[0].to_vector<double>();
  backward(sum(e) + sum(square(e)));
  for (const auto& [name, p] : m.named_parameters()) s.grads.push_back(p.grad().to_vector<double>());
  for (const auto& [name, t] : m.state_dict()) s.state.push_back(t.to_vector<double>());
  return s;
}

// Two identically seeded models, one moved to the GPU, run the same training-mode step.
void compare_devices(const std::string& name, nn::IgebmModelOptions o, int64_t batch) {
  Generator g_cpu(31), g_gpu(31);
  auto cpu = nn::make_igebm_model(name, o, g_cpu);
  auto gpu = nn::make_igebm_model(name, o, g_gpu);
  gpu->to(Device::cuda());
  // conv2 away from its near-zero init, so every path carries signal.
  Generator w(5);
  for (auto* m : {cpu.get(), gpu.get()})
    for (int64_t i = 0; i < m->num_blocks(); ++i) {
      w.manual_seed(100 + i);
      Tensor k = m->block(i).conv2().raw_weight().detach();
      nn::normal_(k, 0.0, 0.5, w);
    }
  const nn::IgebmArch& a = cpu->arch();
  Tensor x = test::uniform(Shape{batch, a.in_channels, a.image_size, a.image_size}, 0, 1, o.dtype);
  Tensor y;
  if (a.num_classes > 0) {
    std::vector<int64_t> ys;
    for (int64_t i = 0; i < batch; ++i) ys.push_back(i % a.num_classes);
    y = Tensor::from_vector(ys, Shape{batch});
  }
  Step c = run_step(*cpu, x, y, Device::cpu());
  Step gp = run_step(*gpu, x, y, Device::cuda());
  // Sums of up to 2·32·32·batch products per element: the cpu_compare.h bound for float32,
  // doubled for the depth of the network (~15 stages).
  double tol = o.dtype == DType::Float64 ? test::kTolFloat64 : 2 * test::kTolFloat32;
  EXPECT_LE(test::rel_error(gp.energy, c.energy), tol) << name << " energy";
  EXPECT_LE(test::rel_error(gp.grad_x, c.grad_x), tol) << name << " grad_x";
  auto names = cpu->named_parameters();
  for (size_t i = 0; i < c.grads.size(); ++i)
    EXPECT_LE(test::rel_error(gp.grads[i], c.grads[i]), tol) << name << " grad." << names[i].first;
  auto state = cpu->state_dict();
  for (size_t i = 0; i < c.state.size(); ++i)
    EXPECT_LE(test::rel_error(gp.state[i], c.state[i]), tol) << name << " " << state[i].first;
  EXPECT_EQ(gpu->dropout_generator().state(), cpu->dropout_generator().state());
}

TEST(IgebmModelsCuda, ConditionalSmallMatchesCpu) {
  EBM_REQUIRE_CUDA();
  nn::IgebmModelOptions o;
  o.num_filters = 16;
  o.num_classes = 10;
  compare_devices("resnet32_small", o, 8);
  o.dtype = DType::Float64;
  compare_devices("resnet32_small", o, 4);
}

// Training mode with dropout 0.5 after every conv1: the masks come from the same Philox stream.
TEST(IgebmModelsCuda, LargeWithDropoutMatchesCpu) {
  EBM_REQUIRE_CUDA();
  nn::IgebmModelOptions o;
  o.num_filters = 8;
  o.in_channels = 1;
  compare_devices("resnet32_large", o, 4);
}

}  // namespace
}  // namespace ebm
