// classifier_train's training loop, test evaluation and checkpoints (see classifier_trainer.h).
#include "apps/classifier/classifier_trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "apps/common/interrupt.h"
#include "apps/common/progress.h"
#include "apps/common/run_dir.h"
#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "data/batches.h"
#include "eval/classifier_features.h"
#include "nn/checkpoint.h"
#include "nn/lr_schedule.h"
#include "nn/optim.h"

#ifndef EBM_VERSION
#define EBM_VERSION "unknown"
#endif

namespace ebm::app {

namespace {

uint64_t stream_seed(int64_t seed, uint64_t purpose) {
  uint64_t z = static_cast<uint64_t>(seed) * 0x9E3779B97F4A7C15ull + purpose * 0xBF58476D1CE4E5B9ull;
  z ^= z >> 31;
  return z * 0x94D049BB133111EBull;
}
enum Purpose : uint64_t { kInit = 1, kData, kFlip };

struct Run {
  ClassifierConfig cfg;
  Device device = Device::cpu();
  data::Dataset train, test;
  eval::ClassifierArch arch;
  std::shared_ptr<nn::WideResNet> model;
  std::unique_ptr<nn::Sgd> optimizer;
  std::unique_ptr<data::EpochSampler> sampler;
  nn::LrSchedule schedule;
  int64_t step = 0, total_steps = 0;
};

data::Dataset load(const ClassifierConfig& c, bool train) {
  data::DatasetOptions o;
  o.name = c.dataset;
  o.dir = c.data_dir;
  o.train = train;
  o.image_size = 32;  // the WRN's head pools an 8×8 map; 28×28 IDX images are zero-padded
  o.limit = train ? c.limit : c.test_limit;
  o.folder_channels = 3;
  return data::load_dataset(o);
}

void build(Run& r) {
  const ClassifierConfig& c = r.cfg;
  r.device = Device::parse(c.device);
  r.train = load(c, true);
  r.test = load(c, false);
  EBM_CHECK(r.train.num_classes > 0 && !r.train.labels.empty(), ValueError, "classifier_train: dataset '",
            c.dataset, "' has no labels");
  EBM_CHECK(r.train.count >= c.batch_size, ValueError, "classifier_train: ", r.train.count,
            " training images are fewer than --batch_size ", c.batch_size);
  r.arch.depth = c.depth;
  r.arch.widen_factor = c.widen_factor;
  r.arch.base_width = c.base_width;
  r.arch.in_channels = r.train.channels;
  r.arch.num_classes = r.train.num_classes;
  Generator init(stream_seed(c.seed, kInit));
  r.model = eval::make_classifier(r.arch, init);
  r.model->to(r.device);
  r.model->train();
  nn::SgdOptions so;
  so.lr = c.lr;
  so.momentum = c.momentum;
  so.nesterov = c.momentum > 0;
  so.weight_decay = c.weight_decay;
  r.optimizer = std::make_unique<nn::Sgd>(r.model->named_parameters(), so);
  r.sampler = std::make_unique<data::EpochSampler>(r.train.count, c.batch_size, stream_seed(c.seed, kData));
  r.total_steps = c.epochs * r.sampler->batches_per_epoch();
  r.schedule.base_lr = c.lr;
  r.schedule.warmup_steps = std::min(c.warmup, r.total_steps - 1);
  r.schedule.cosine = true;
  r.schedule.total_steps = r.total_steps;
  r.schedule.validate();
}

// Accuracy and mean cross-entropy over a dataset (eval mode, batches of 500, no graph).
std::pair<double, double> evaluate(nn::WideResNet& model, const data::Dataset& d, Device device) {
  NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  int64_t correct = 0;
  double loss_sum = 0;
  data::BatchTransform t;
  t.scale = data::PixelScale::Unit255;
  for (int64_t b = 0; b < d.count; b += 500) {
    std::vector<int64_t> idx;
    for (int64_t i = b; i < std::min(d.count, b + 500); ++i) idx.push_back(i);
    data::Batch batch = data::make_batch(d, idx, t, 0, 0, device);
    Tensor logits = model.forward(batch.images, Tensor());
    loss_sum += cross_entropy(logits, batch.labels).item() * static_cast<double>(idx.size());
    std::vector<float> l = logits.to_vector<float>();
    const int64_t k = logits.size(1);
    for (size_t i = 0; i < idx.size(); ++i) {
      int64_t best = 0;
      for (int64_t c = 1; c < k; ++c)
        if (l[i * k + c] > l[i * k + best]) best = c;
      correct += best == d.labels[static_cast<size_t>(idx[i])];
    }
  }
  model.train(was_training);
  return {static_cast<double>(correct) / static_cast<double>(d.count), loss_sum / static_cast<double>(d.count)};
}

json::Value run_config(const Run& r) {
  json::Value v = r.cfg.to_json();
  v.set("engine", "ebm " EBM_VERSION);
  v.set("device", r.device.to_string());
  v.set("app", "classifier_train");
  v.set("parameters", r.model->num_parameters());
  return v;
}

void save(const Run& r, RunDir& dir) {
  nn::Checkpoint c;
  c.step = r.step;
  c.config = run_config(r);
  c.set_model(r.model->state_dict());
  c.set_section("optim", r.optimizer->state_dict());
  data::EpochSampler::State s = r.sampler->state();
  c.set_section("data", {{"state", Tensor::from_vector(std::vector<int64_t>{static_cast<int64_t>(s.seed), s.epoch, s.position}, Shape{3})}});
  c.save(dir.checkpoint_path(r.step));
  c.save(dir.latest_checkpoint());
}

// The weights alone, with the architecture and test accuracy: the feature network's file.
std::string save_model(const Run& r, double accuracy) {
  nn::Checkpoint c;
  c.step = r.step;
  c.config = r.arch.to_json();
  c.config.set("dataset", r.cfg.dataset);
  c.config.set("test_accuracy", accuracy);
  c.config.set("test_images", r.test.count);
  c.config.set("training", run_config(r));
  c.set_model(r.model->state_dict());
  std::string path = r.cfg.out_dir() + "/classifier.safetensors";
  c.save(path);
  return path;
}

}  // namespace

ClassifierOutcome train_classifier(ClassifierConfig cfg) {
  const bool resuming = !cfg.resume.empty();
  nn::Checkpoint ckpt;
  std::string ckpt_path;
  if (resuming) {
    ckpt_path = cfg.out_dir() + "/checkpoints/latest.safetensors";
    EBM_CHECK(std::filesystem::exists(ckpt_path), IOError, "classifier_train: no checkpoint '", ckpt_path,
              "' to resume from (is '", cfg.out_dir(), "' a run directory?)");
    ckpt = nn::Checkpoint::load(ckpt_path);
    ClassifierConfig saved = cfg;
    saved.from_json(ckpt.config);
    saved.epochs = cfg.epochs;  // this command may extend the run
    cfg = saved;
  }
  Run r;
  r.cfg = cfg;
  build(r);
  if (resuming) {
    nn::load_model_from_checkpoint(*r.model, ckpt, ckpt_path);
    r.optimizer->load_state_dict(ckpt.section("optim"));
    std::vector<int64_t> s = ckpt.section("data").at(0).second.to_vector<int64_t>();
    r.sampler->set_state({static_cast<uint64_t>(s.at(0)), s.at(1), s.at(2)});
    r.step = ckpt.step;
  }
  ClassifierOutcome out;
  out.last_step = r.step;
  RunDir dir(cfg.out_dir(), resuming ? r.step : -1);
  dir.write_config(run_config(r));
  const int64_t per_epoch = r.sampler->batches_per_epoch();
  std::printf("classifier_train: WRN-%lld-%lld (base %lld, %lld parameters) on %s (%lld train / %lld test "
              "images, %lld classes), %lld epochs of %lld steps on %s, run directory %s\n",
              static_cast<long long>(cfg.depth), static_cast<long long>(cfg.widen_factor),
              static_cast<long long>(cfg.base_width), static_cast<long long>(r.model->num_parameters()),
              cfg.dataset.c_str(), static_cast<long long>(r.train.count), static_cast<long long>(r.test.count),
              static_cast<long long>(r.train.num_classes), static_cast<long long>(cfg.epochs),
              static_cast<long long>(per_epoch), r.device.to_string().c_str(), cfg.out_dir().c_str());
  std::fflush(stdout);
  if (r.step >= r.total_steps) {
    out.message = "nothing to do: the run is at step " + std::to_string(r.step) + " of " + std::to_string(r.total_steps);
    return out;
  }

  install_interrupt_handler();
  data::BatchTransform bt;
  bt.scale = data::PixelScale::Unit255;
  bt.random_flip = cfg.random_flip;
  const uint64_t batch_seed = stream_seed(cfg.seed, kFlip);
  Progress progress(r.step, r.total_steps, cfg.batch_size, cfg.log_every);
  const auto t0 = std::chrono::steady_clock::now();
  double loss_avg = 0, acc_avg = 0;
  int64_t avg_n = 0;

  while (r.step < r.total_steps) {
    const int64_t step = r.step + 1;
    data::Batch batch = data::make_batch(r.train, r.sampler->next(), bt, batch_seed, static_cast<uint64_t>(step), r.device);
    Tensor logits = r.model->forward(batch.images, Tensor());
    Tensor loss = cross_entropy(logits, batch.labels);
    const double loss_value = loss.item();
    if (!std::isfinite(loss_value)) {
      progress.finish();
      out.diverged = true;
      out.message = "diverged at step " + std::to_string(step) + " (loss " + std::to_string(loss_value) +
                    "); try a lower --lr";
      return out;
    }
    r.optimizer->zero_grad();
    backward(loss);
    r.optimizer->set_lr(r.schedule.at(r.optimizer->steps()));
    r.optimizer->step();
    r.step = step;
    out.last_step = step;
    {  // training accuracy of this batch, for the log
      std::vector<float> l = logits.detach().to_vector<float>();
      std::vector<int64_t> y = batch.labels.to_vector<int64_t>();
      const int64_t k = logits.size(1);
      int64_t correct = 0;
      for (size_t i = 0; i < y.size(); ++i) {
        int64_t best = 0;
        for (int64_t c = 1; c < k; ++c)
          if (l[i * k + c] > l[i * k + best]) best = c;
        correct += best == y[i];
      }
      loss_avg += loss_value;
      acc_avg += static_cast<double>(correct) / static_cast<double>(y.size());
      ++avg_n;
    }
    char extra[64];
    std::snprintf(extra, sizeof extra, "acc %.3f lr %.4f", acc_avg / avg_n, r.optimizer->lr());
    progress.update(step, loss_avg / avg_n, extra);
    const bool epoch_end = step % per_epoch == 0 || step == r.total_steps;
    if (step % cfg.log_every == 0 || epoch_end) {
      json::Value m = json::Value::object();
      m.set("step", step);
      m.set("loss", loss_avg / avg_n);
      m.set("train_accuracy", acc_avg / avg_n);
      m.set("lr", r.optimizer->lr());
      m.set("images_per_second", progress.images_per_second());
      if (epoch_end) {
        auto [acc, test_loss] = evaluate(*r.model, r.test, r.device);
        out.test_accuracy = acc;
        m.set("epoch", step / per_epoch);
        m.set("test_accuracy", acc);
        m.set("test_loss", test_loss);
        std::printf("%sepoch %lld: test accuracy %.4f (loss %.4f), %s elapsed\n", "",
                    static_cast<long long>((step + per_epoch - 1) / per_epoch), acc, test_loss,
                    format_duration(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()).c_str());
        std::fflush(stdout);
      }
      dir.log_metrics(m);
      loss_avg = acc_avg = 0;
      avg_n = 0;
    }
    if (epoch_end || interrupted()) save(r, dir);
    if (interrupted()) {
      progress.finish();
      out.interrupted = true;
      out.message = "interrupted at step " + std::to_string(step) + "; checkpoint written. Continue with --resume " + cfg.out_dir();
      return out;
    }
  }
  progress.finish();
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (out.test_accuracy < 0) out.test_accuracy = evaluate(*r.model, r.test, r.device).first;
  out.model_path = save_model(r, out.test_accuracy);
  char msg[256];
  std::snprintf(msg, sizeof msg, "finished %lld steps in %s; test accuracy %.4f on %lld images; classifier in %s",
                static_cast<long long>(r.step), format_duration(out.seconds).c_str(), out.test_accuracy,
                static_cast<long long>(r.test.count), out.model_path.c_str());
  out.message = msg;
  return out;
}

}  // namespace ebm::app
