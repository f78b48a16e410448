// One IGEBM training step (Du & Mordatch 2019; ../shared/specs/igebm-drl.md §1, the loop body of
// apps/igebm/igebm_trainer.cpp) as a benchmark: data batch (random tensors, no disk) → one
// spectral-norm power iteration → replay-buffer chain starts → K Langevin steps (∇ₓE by
// ebm::grad, fused ops::langevin_step_) → buffer push → E⁺ and E⁻ forwards → contrastive loss →
// backward → gradient norm → Adam (AdamOptions::igebm(), the official 3σ clip).
// Counters: ms_per_iter (median iteration, wall clock), images_per_s (batch / that time) and
// cpu_ms_per_iter (median process CPU time, all threads). The parts are timed separately so a
// regression can be located, BM_Part*/config:C/part:P with P = 0 spectral-norm refresh,
// 1 Langevin (buffer draw, chain, push), 2 loss (E⁺, E⁻, loss, backward, grad norm; an untimed
// refresh before each call), 3 Adam.
// Configurations (the first argument):
//   0 demo           scripts/run.sh's main job: Fashion-MNIST-shaped 1×32×32, resnet32_small,
//                    16 filters, unconditional, batch 64, K = 20, buffer 2000, lr 1e-3
//   1 cifar_reduced  3×32×32, resnet32 (class-conditional, 128 filters), batch 8, K = 5: the
//                    CIFAR-10 network at a batch and chain length a 2-core CPU can time
//   2 cifar          the same network at the README CIFAR-10 command's batch 128, K = 60 (GPU)
// CPU rows: host clock around the step. GPU rows (skipped without a device): host clock around
// the step plus a device synchronisation (the step ends with host reads anyway: loss.item()).
// Twin: bench/reference/igebm_step_torch.py; both side by side: bench/run_igebm_step.sh.
// Run: build/bench/bench_igebm_step --benchmark_filter=Cpu --benchmark_out=igebm_step.json \
//          --benchmark_out_format=json
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "core/ops/random.h"
#include "core/settings.h"
#include "nn/grad_clip.h"
#include "nn/igebm_models.h"
#include "nn/optim.h"
#include "samplers/langevin.h"
#include "samplers/losses.h"
#include "samplers/replay_buffer.h"
#if defined(_OPENMP)
#include <omp.h>
#endif
#if defined(EBM_WITH_CUDA)
#include "cuda/device.h"
#endif

namespace {

using namespace ebm;

struct StepConfig {
  const char* name;
  const char* model;
  int64_t channels, filters, classes, batch, steps, buffer;
  double lr;
};

// demo = scripts/run.sh's igebm_train flags (--model resnet32_small --num_filters 16
// --batch_size 64 --num_steps 20 --buffer_size 2000 --lr 1e-3, Fashion-MNIST, unconditional).
const StepConfig kConfigs[] = {
    {"demo", "resnet32_small", 1, 16, 0, 64, 20, 2000, 1e-3},
    {"cifar_reduced", "resnet32", 3, 128, 10, 8, 5, 10000, 3e-4},
    {"cifar", "resnet32", 3, 128, 10, 128, 60, 10000, 3e-4},
};

void sync(Device d) {
#if defined(EBM_WITH_CUDA)
  if (d.is_cuda()) cuda::synchronize(d.index);
#else
  (void)d;
#endif
}

// Everything a training step touches, built as build() in igebm_trainer.cpp builds it (the
// official sampler: step_lr 10, noise 0.005, clip 0.01, uint8 buffer, reinit 5 %).
struct Trainer {
  StepConfig cfg;
  Device device;
  std::shared_ptr<nn::IgebmResNet> model;
  std::unique_ptr<nn::Adam> optimizer;
  std::unique_ptr<samplers::ReplayBuffer> buffer;
  Generator langevin_gen{11}, buffer_gen{12};
  Tensor data, labels, negatives;
  samplers::IgebmLangevinOptions lo;

  Trainer(const StepConfig& c, Device d) : cfg(c), device(d) {
    set_allow_tf32(true);  // igebm_train's default (--tf32), as PyTorch allows it for cuDNN convs
    nn::IgebmModelOptions mo;
    mo.in_channels = c.channels;
    mo.image_size = 32;
    mo.num_classes = c.classes;
    mo.num_filters = c.filters;
    Generator init(1);
    model = nn::make_igebm_model(c.model, mo, init);
    model->to(d);
    model->train();
    nn::AdamOptions ao = nn::AdamOptions::igebm();
    ao.lr = c.lr;
    optimizer = std::make_unique<nn::Adam>(model->named_parameters(), ao);
    samplers::ReplayBufferOptions bo;
    bo.capacity = c.buffer;
    buffer = std::make_unique<samplers::ReplayBuffer>(bo, Shape{c.channels, 32, 32});
    Generator dg(2);
    data = ops::uniform(Shape{c.batch, c.channels, 32, 32}, dg, 0.0, 1.0, DType::Float32, d);
    if (c.classes > 0) {
      std::vector<int64_t> l(static_cast<size_t>(c.batch));
      for (int64_t i = 0; i < c.batch; ++i) l[i] = i % c.classes;
      labels = Tensor::from_vector(l, Shape{c.batch}).to(d);
    }
    lo.steps = static_cast<int>(c.steps);
    // Fill the buffer past one batch, so that chain starts are buffer draws (the steady state).
    for (int i = 0; i < 2; ++i) buffer->push(data);
  }

  Tensor energy(const Tensor& x) { return model->forward(x, labels); }

  void langevin() {
    negatives = buffer->sample(cfg.batch, 0.05, buffer_gen, device).images;
    samplers::igebm_langevin_(negatives, [&](const Tensor& x) { return energy(x); }, lo,
                              langevin_gen);
    buffer->push(negatives);
  }

  double loss_backward() {
    Tensor e_pos = energy(data);
    Tensor e_neg = energy(negatives.detach());
    samplers::ContrastiveLoss loss = samplers::contrastive_loss(e_pos, e_neg, 1.0, 1.0);
    double v = loss.loss.item();
    optimizer->zero_grad();
    backward(loss.loss);
    double gnorm = nn::grad_norm(model->named_parameters());  // logged by the trainer
    benchmark::DoNotOptimize(gnorm);
    return v;
  }

  double step() {
    model->refresh_spectral_norm();
    langevin();
    double v = loss_backward();
    optimizer->step();
    sync(device);
    return v;
  }
};

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double median_of(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t m = v.size();
  return m % 2 ? v[m / 2] : 0.5 * (v[m / 2 - 1] + v[m / 2]);
}

int threads() {
#if defined(_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}

// Runs f once untimed, then once per iteration on the host clock (manual time), each call
// preceded by an untimed before(). Sets ms_per_iter (the median) and images_per_s.
template <class F, class Before = void (*)()>
void time_step(benchmark::State& st, const StepConfig& c, Device d, F&& f,
               Before before = [] {}) {
  before();
  f();
  sync(d);
  std::vector<double> times, cpu_times;
  for (auto _ : st) {
    before();
    sync(d);
    const double c0 = process_cpu_seconds();
    auto t0 = std::chrono::steady_clock::now();
    f();
    sync(d);
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    cpu_times.push_back(process_cpu_seconds() - c0);
    st.SetIterationTime(dt);
    times.push_back(dt);
  }
  // The median iteration, as the twin reports (bench/reference/timing.py).
  const double median = median_of(times);
  st.counters["ms_per_iter"] = median * 1e3;
  st.counters["images_per_s"] = median > 0 ? c.batch / median : 0.0;
  // CPU time of the whole process (all threads, spin-waits included), median per iteration:
  // on a shared machine it does not count the time other processes held the cores.
  st.counters["cpu_ms_per_iter"] = median_of(cpu_times) * 1e3;
  st.counters["threads"] = d.is_cuda() ? 0 : threads();
  st.SetLabel(std::string(c.name) + " " + c.model + " f" + std::to_string(c.filters) + " b" +
              std::to_string(c.batch) + " K" + std::to_string(c.steps));
}

bool device_ok(benchmark::State& st, Device d) {
  if (!d.is_cuda()) return true;
#if defined(EBM_WITH_CUDA)
  if (cuda::device_count() > 0 && cuda::unavailable_reason().empty()) return true;
  st.SkipWithError("no CUDA device");
#else
  st.SkipWithError("no CUDA device (built without CUDA)");
#endif
  return false;
}

void run_step(benchmark::State& st, Device d) {
  if (!device_ok(st, d)) return;
  const StepConfig& c = kConfigs[st.range(0)];
  Trainer t(c, d);
  time_step(st, c, d, [&] { benchmark::DoNotOptimize(t.step()); });
}

enum Part { kSpectralNorm, kLangevin, kLoss, kAdam };

void run_part(benchmark::State& st, Device d) {
  if (!device_ok(st, d)) return;
  const StepConfig& c = kConfigs[st.range(0)];
  const Part part = static_cast<Part>(st.range(1));
  Trainer t(c, d);
  t.step();  // optimizer state, negatives and gradients exist from here on
  switch (part) {
    case kSpectralNorm:
      time_step(st, c, d, [&] { t.model->refresh_spectral_norm(); });
      break;
    case kLangevin:
      time_step(st, c, d, [&] { t.langevin(); });
      break;
    case kLoss:
      // The refresh's W/σ saved weight_orig, which the optimizer has changed since.
      time_step(st, c, d, [&] { benchmark::DoNotOptimize(t.loss_backward()); },
                [&] { t.model->refresh_spectral_norm(); });
      break;
    case kAdam:
      time_step(st, c, d, [&] { t.optimizer->step(); });
      break;
  }
  static const char* names[] = {"spectral_norm", "langevin", "loss", "adam"};
  st.SetLabel(std::string(names[part]) + " " + c.name + " b" + std::to_string(c.batch) + " K" +
              std::to_string(c.steps));
}

void BM_StepCpu(benchmark::State& st) { run_step(st, Device::cpu()); }
void BM_PartCpu(benchmark::State& st) { run_part(st, Device::cpu()); }
void BM_StepGpu(benchmark::State& st) { run_step(st, Device::cuda()); }
void BM_PartGpu(benchmark::State& st) { run_part(st, Device::cuda()); }

// The CPU runs demo and cifar_reduced; the GPU also the full CIFAR configuration.
BENCHMARK(BM_StepCpu)->ArgName("config")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)
    ->UseManualTime()->MinTime(3.0);
BENCHMARK(BM_PartCpu)->ArgNames({"config", "part"})->ArgsProduct({{0, 1}, {0, 1, 2, 3}})
    ->Unit(benchmark::kMillisecond)->UseManualTime()->MinTime(2.0);
BENCHMARK(BM_StepGpu)->ArgName("config")->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)
    ->UseManualTime()->MinTime(3.0);
BENCHMARK(BM_PartGpu)->ArgNames({"config", "part"})->ArgsProduct({{0, 2}, {0, 1, 2, 3}})
    ->Unit(benchmark::kMillisecond)->UseManualTime()->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
