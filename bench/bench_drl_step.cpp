// One DRL training step (Gao et al., ICLR 2021; ../shared/specs/igebm-drl.md §2.6, the loop body
// of apps/drl/drl_trainer.cpp) as a benchmark: data batch (random [-1, 1] tensors, no disk) →
// per-example levels and diffusion pairs → K conditional Langevin steps (∇_y f by ebm::grad,
// fused ops::langevin_step_ with per-sample coefficients; spectral norm iterates on every
// training forward) → one forward of [y⁺; y⁻] (2B) → weighted loss → backward → gradient norm →
// Adam (AdamOptions::drl(): Keras ε, β₁ 0.9) → EMA of weights and u/v vectors.
// Counters: ms_per_iter and images_per_s (batch / step time). The parts are timed separately:
// BM_Part*/langevin (levels, pairs, chain), /loss (forward 2B, loss, backward, grad norm),
// /adam_ema (optimizer step and EMA update).
// Configurations (the first argument):
//   0 demo           Fashion-MNIST-shaped 1×32×32, net_res_temb2_small (ch 16, mult 1,2,2,
//                    1 block), batch 32, K = 30 (the CPU demo run)
//   1 cifar_reduced  3×32×32, net_res_temb2 (ch 128, 2 blocks: config.py's default), batch 4,
//                    K = 3: the CIFAR-10 network at a size a 2-core CPU can time
//   2 cifar          the README CIFAR-10 command: 8 blocks, batch 256, K = 30 (GPU only)
// CPU rows: host clock around the step. GPU rows (skipped without a device): host clock around
// the step plus a device synchronisation (the step ends with a host read anyway: loss.item()).
// Twin: bench/reference/drl_step_torch.py (the replica of tests/reference/drl_models.py).
// Run: build/bench/bench_drl_step --benchmark_filter=Cpu --benchmark_out=drl_step.json \
//          --benchmark_out_format=json
#include <memory>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "bench/step_bench.h"
#include "core/ops/random.h"
#include "nn/drl_models.h"
#include "nn/ema.h"
#include "nn/grad_clip.h"
#include "nn/optim.h"
#include "samplers/drl.h"

namespace {

using namespace ebm;

struct StepConfig {
  const char* name;
  const char* model;
  int64_t channels, ch;
  std::vector<int64_t> ch_mult;
  int64_t blocks, batch, steps;
};

const StepConfig kConfigs[] = {
    {"demo", "net_res_temb2_small", 1, 16, {1, 2, 2}, 1, 32, 30},
    {"cifar_reduced", "net_res_temb2", 3, 128, {1, 2, 2, 2}, 2, 4, 3},
    {"cifar", "net_res_temb2", 3, 128, {1, 2, 2, 2}, 8, 256, 30},
};

// Everything a training step touches, built as build() in drl_trainer.cpp builds it (official
// flags: T 6, b² 2e-4, λ 1, lr 1e-4 past the warm-up, EMA 0.999).
struct Trainer {
  StepConfig cfg;
  Device device;
  std::shared_ptr<nn::DrlNet> model;
  std::unique_ptr<nn::Adam> optimizer;
  std::unique_ptr<nn::Ema> ema;
  std::unique_ptr<samplers::DrlLadder> ladder;
  Generator langevin_gen{11}, diffusion_gen{12};
  Tensor data, t, x_t, y_neg;

  Trainer(const StepConfig& c, Device d) : cfg(c), device(d) {
    nn::DrlModelOptions o;
    o.ch = c.ch;
    o.ch_mult = c.ch_mult;
    o.num_res_blocks = c.blocks;
    o.in_channels = c.channels;
    Generator init(1);
    model = nn::make_drl_model(c.model, o, init);
    model->to(d);
    model->train();
    optimizer = std::make_unique<nn::Adam>(model->named_parameters(), nn::AdamOptions::drl());
    ema = std::make_unique<nn::Ema>(model->state_dict(), 0.999);
    ladder = std::make_unique<samplers::DrlLadder>(samplers::DrlSchedule::make(6, 2e-4),
                                                   samplers::DrlLadderOptions{c.steps, 1.0}, DType::Float32, d);
    Generator dg(2);
    data = ops::uniform(Shape{c.batch, c.channels, 32, 32}, dg, -1.0, 1.0, DType::Float32, d);
  }

  Tensor f(const Tensor& y, const Tensor& level) { return model->forward(y, level); }

  void langevin() {
    t = ladder->random_levels(cfg.batch, diffusion_gen);
    auto pairs = ladder->q_sample_pairs(data, t, diffusion_gen);
    x_t = pairs.first;
    y_neg = ladder->langevin(pairs.second, t, [&](const Tensor& y, const Tensor& l) { return f(y, l); }, langevin_gen);
  }

  double loss_backward() {
    samplers::DrlLoss loss = ladder->recovery_loss([&](const Tensor& y, const Tensor& l) { return f(y, l); }, x_t,
                                                   y_neg, t);
    const double v = loss.loss.item();
    optimizer->zero_grad();
    backward(loss.loss);
    double gnorm = nn::grad_norm(model->named_parameters());  // logged by the trainer
    benchmark::DoNotOptimize(gnorm);
    return v;
  }

  void adam_ema() {
    optimizer->step();
    ema->update(model->state_dict());
  }

  double step() {
    langevin();
    const double v = loss_backward();
    adam_ema();
    return v;
  }

  std::string label() const {
    return std::string(cfg.name) + " " + cfg.model + " ch" + std::to_string(cfg.ch) + "x" +
           std::to_string(cfg.blocks) + " b" + std::to_string(cfg.batch) + " K" + std::to_string(cfg.steps);
  }
};

void run_step(benchmark::State& st, Device d) {
  if (!bench::device_ready(st, d)) return;
  Trainer tr(kConfigs[st.range(0)], d);
  bench::time_calls(st, d, tr.cfg.batch, [&] { benchmark::DoNotOptimize(tr.step()); });
  st.SetLabel(tr.label());
}

enum Part { kLangevin, kLoss, kAdamEma };

void run_part(benchmark::State& st, Device d) {
  if (!bench::device_ready(st, d)) return;
  Trainer tr(kConfigs[st.range(0)], d);
  tr.step();  // optimizer state, negatives and gradients exist from here on
  const Part part = static_cast<Part>(st.range(1));
  switch (part) {
    case kLangevin:
      bench::time_calls(st, d, tr.cfg.batch, [&] { tr.langevin(); });
      break;
    case kLoss:
      bench::time_calls(st, d, tr.cfg.batch, [&] { benchmark::DoNotOptimize(tr.loss_backward()); });
      break;
    case kAdamEma:
      bench::time_calls(st, d, tr.cfg.batch, [&] { tr.adam_ema(); });
      break;
  }
  static const char* names[] = {"langevin", "loss", "adam_ema"};
  st.SetLabel(std::string(names[part]) + " " + tr.label());
}

void BM_StepCpu(benchmark::State& st) { run_step(st, Device::cpu()); }
void BM_PartCpu(benchmark::State& st) { run_part(st, Device::cpu()); }
void BM_StepGpu(benchmark::State& st) { run_step(st, Device::cuda()); }
void BM_PartGpu(benchmark::State& st) { run_part(st, Device::cuda()); }

// The CPU runs demo and cifar_reduced; the GPU also the README CIFAR-10 configuration.
BENCHMARK(BM_StepCpu)->ArgName("config")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)
    ->UseManualTime()->MinTime(3.0);
BENCHMARK(BM_PartCpu)->ArgNames({"config", "part"})->ArgsProduct({{0, 1}, {0, 1, 2}})
    ->Unit(benchmark::kMillisecond)->UseManualTime()->MinTime(2.0);
BENCHMARK(BM_StepGpu)->ArgName("config")->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)
    ->UseManualTime()->MinTime(3.0);
BENCHMARK(BM_PartGpu)->ArgNames({"config", "part"})->ArgsProduct({{0, 2}, {0, 1, 2}})
    ->Unit(benchmark::kMillisecond)->UseManualTime()->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
