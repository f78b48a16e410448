// DRL training loop and sampling mode (see drl_trainer.h).
#include "apps/drl/drl_trainer.h"

#include <cmath>
#include <cstdio>

#include "apps/common/training_loop.h"
#include "autograd/ops.h"
#include "core/io/image_grid.h"
#include "core/ops/index.h"
#include "core/settings.h"
#include "data/batches.h"
#include "nn/ema.h"
#include "nn/grad_clip.h"
#include "nn/lr_schedule.h"
#include "nn/optim.h"
#include "samplers/drl.h"

#ifndef EBM_VERSION
#define EBM_VERSION "unknown"
#endif

namespace ebm::app {

namespace {

// Independent streams per purpose, all from the one --seed (stream_seed).
enum Purpose : uint64_t { kInit = 1, kLangevin, kDiffusion, kDropout, kData, kBatchNoise, kGrid, kSample };

constexpr int64_t kImageSize = 32;  // datasets load at 32×32 (28×28 IDX images zero-padded)

struct Run {
  DrlConfig cfg;
  Device device = Device::cpu();
  data::Dataset data;
  std::shared_ptr<nn::DrlNet> model;     // trained
  std::shared_ptr<nn::DrlNet> sampling;  // the EMA copy the grids use (null without --ema)
  std::shared_ptr<Generator> dropout_gen;
  Generator langevin_gen, diffusion_gen;
  std::unique_ptr<nn::Adam> optimizer;
  std::unique_ptr<nn::Ema> ema;
  std::unique_ptr<data::EpochSampler> sampler;
  std::unique_ptr<samplers::DrlLadder> ladder;
  int64_t step = 0;
};

// The run's network, initialised from --seed (a checkpoint's weights are loaded over it).
std::shared_ptr<nn::DrlNet> make_model(const DrlConfig& c, int64_t channels, std::shared_ptr<Generator> dropout_gen) {
  nn::DrlModelOptions o;
  o.ch = c.ch;
  o.ch_mult = c.ch_mult_values();
  o.num_res_blocks = c.num_res_blocks;
  o.depth = c.depth;
  o.widen_factor = c.widen_factor;
  o.in_channels = channels;
  o.num_timesteps = c.num_diffusion_timesteps;
  o.dropout = c.dropout;
  o.dropout_generator = std::move(dropout_gen);
  Generator init(stream_seed(c.seed, kInit));
  return nn::make_drl_model(c.model, o, init);
}

samplers::DrlLadder make_ladder(const DrlConfig& c, double noise_scale, Device device) {
  samplers::DrlLadderOptions lo;
  lo.steps = c.mcmc_num_steps;
  lo.noise_scale = noise_scale;
  return samplers::DrlLadder(samplers::DrlSchedule::make(c.num_diffusion_timesteps, c.mcmc_step_size_b_square), lo,
                             DType::Float32, device);
}

// What the EMA averages: every float tensor of the state (weights and spectral-norm u, v).
nn::NamedTensors ema_tensors(const nn::DrlNet& m) {
  nn::NamedTensors out;
  for (auto& [name, t] : m.state_dict())
    if (t.dtype() == DType::Float32 || t.dtype() == DType::Float64) out.emplace_back(name, t);
  return out;
}

// The EMA in a checkpoint: "ema/<name>" as nn/checkpoint.h says, and "ema/updates".
nn::NamedTensors ema_section(const nn::Ema& ema) {
  nn::NamedTensors out;
  for (auto& [name, t] : ema.state_dict()) out.emplace_back(name.substr(4), t);  // drop "ema."
  return out;
}
void load_ema_section(nn::Ema& ema, const nn::NamedTensors& section) {
  nn::NamedTensors state;
  for (const auto& [name, t] : section) state.emplace_back("ema." + name, t);
  ema.load_state_dict(state);
}

// Copies the EMA into the sampling network; tensors the EMA does not average (integer buffers)
// come from the trained network.
void sync_sampling_net(Run& r) {
  r.ema->copy_to(ema_tensors(*r.sampling));
  nn::NamedTensors now = r.model->state_dict(), target = r.sampling->state_dict();
  for (size_t i = 0; i < now.size(); ++i)
    if (now[i].second.dtype() != DType::Float32 && now[i].second.dtype() != DType::Float64)
      target[i].second.copy_(now[i].second);
}

void build(Run& r) {
  const DrlConfig& c = r.cfg;
  r.device = Device::parse(c.device);
  set_allow_tf32(c.tf32);
  data::DatasetOptions d;
  d.name = c.dataset;
  d.dir = c.data_dir;
  d.image_size = kImageSize;
  d.limit = c.limit;
  r.data = data::load_dataset(d);
  EBM_CHECK(r.data.count >= c.n_batch_train, ValueError, "drl_train: dataset '", c.dataset, "' has ", r.data.count,
            " images, fewer than --n_batch_train ", c.n_batch_train);
  r.dropout_gen = std::make_shared<Generator>(stream_seed(c.seed, kDropout));
  r.model = make_model(c, r.data.channels, r.dropout_gen);
  r.model->to(r.device);
  r.model->train();
  nn::AdamOptions ao = nn::AdamOptions::drl(c.beta_1);
  ao.lr = c.lr;
  ao.weight_decay = c.weight_decay;  // coupled L2, as the port's torch.optim.Adam
  r.optimizer = std::make_unique<nn::Adam>(r.model->named_parameters(), ao);
  if (c.ema) {
    r.ema = std::make_unique<nn::Ema>(ema_tensors(*r.model), c.ma_decay, EmaForm::Tf, c.ema_warmup);
    r.sampling = make_model(c, r.data.channels, nullptr);
    r.sampling->to(r.device);
    r.sampling->load_state_dict(r.model->state_dict());
    r.sampling->eval();
  }
  r.sampler = std::make_unique<data::EpochSampler>(r.data.count, c.n_batch_train, stream_seed(c.seed, kData));
  r.ladder = std::make_unique<samplers::DrlLadder>(make_ladder(c, c.noise_scale, r.device));
  r.langevin_gen = Generator(stream_seed(c.seed, kLangevin));
  r.diffusion_gen = Generator(stream_seed(c.seed, kDiffusion));
}

json::Value run_config(const Run& r) {
  json::Value v = r.cfg.to_json();
  v.set("engine", "ebm " EBM_VERSION);
  v.set("device", r.device.to_string());
  v.set("app", "drl_train");
  v.set("channels", r.data.channels);
  v.set("image_size", kImageSize);
  return v;
}

void save(const Run& r, RunDir& dir) {
  nn::Checkpoint c;
  c.step = r.step;
  c.config = run_config(r);
  c.rng["langevin"] = r.langevin_gen.state();
  c.rng["diffusion"] = r.diffusion_gen.state();
  c.rng["dropout"] = r.dropout_gen->state();
  c.set_model(r.model->state_dict());
  c.set_section("optim", r.optimizer->state_dict());
  if (r.ema) {
    c.set_section("ema", ema_section(*r.ema));
    c.set_section("sampling_net", r.sampling->state_dict());
  }
  c.set_section("data", epoch_sampler_section(*r.sampler));
  c.save(dir.checkpoint_path(r.step));
  c.save(dir.latest_checkpoint());
}

void restore(Run& r, const nn::Checkpoint& c, const std::string& path) {
  nn::load_model_from_checkpoint(*r.model, c, path);
  r.optimizer->load_state_dict(c.section("optim"));
  if (r.ema) {
    EBM_CHECK(c.has_section("ema") && c.has_section("sampling_net"), IOError, "drl_train: '", path,
              "' holds no EMA (trained with --no-ema); resume it with --no-ema");
    load_ema_section(*r.ema, c.section("ema"));
    r.sampling->load_state_dict(c.section("sampling_net"));
  }
  restore_epoch_sampler(*r.sampler, c.section("data"));
  r.langevin_gen.set_state(c.rng.at("langevin"));
  r.diffusion_gen.set_state(c.rng.at("diffusion"));
  r.dropout_gen->set_state(c.rng.at("dropout"));
  r.step = c.step;
}

// Progressive samples (spec §2.8) of the sampling network (the trained one in eval mode without
// an EMA) from the same fixed noise at every grid, so grids of a run compare step to step. Writes
// samples/step_N.png (x_0) and samples/progression_step_N.png (rows x_T … x_0 of 8 samples).
void write_grids(Run& r, RunDir& dir) {
  nn::DrlNet& net = r.sampling ? *r.sampling : *r.model;
  const bool was_training = net.is_training();
  net.eval();
  Generator gen(stream_seed(r.cfg.seed, kGrid));
  std::vector<Tensor> trace;
  const Shape shape{r.cfg.grid_samples, r.data.channels, kImageSize, kImageSize};
  Tensor x = r.ladder->sample_progressive(shape, [&](const Tensor& y, const Tensor& t) { return net.forward(y, t); },
                                          gen, &trace);
  net.train(was_training);
  io::Image8 grid = io::make_grid(x, -1.0, 1.0);
  dir.write_grid(grid, r.step, "", "samples/progressive");
  const int64_t cols = std::min<int64_t>(8, r.cfg.grid_samples);
  std::vector<Tensor> rows;
  for (const Tensor& level : trace) rows.push_back(level.slice(0, cols));
  io::Image8 prog = io::make_grid(ops::concat(rows, 0), -1.0, 1.0, static_cast<int>(cols));
  dir.write_grid(prog, r.step, "progression", "samples/progression");
}

}  // namespace

DrlOutcome train_drl(DrlConfig cfg) {
  std::string ckpt_path;
  nn::Checkpoint ckpt;
  if (!cfg.resume.empty()) ckpt = load_resume_checkpoint("drl_train", cfg, &ckpt_path);
  Run r;
  r.cfg = cfg;
  build(r);
  if (!ckpt_path.empty()) restore(r, ckpt, ckpt_path);
  DrlOutcome out;
  if (TrainingLoop::already_done(r.step, cfg.iters, out)) return out;
  char banner[256];
  std::snprintf(banner, sizeof banner, "%s on %s, model %s (%lld parameters), %lld images, T %lld, K %lld",
                cfg.dataset.c_str(), r.device.to_string().c_str(), cfg.model.c_str(),
                static_cast<long long>(r.model->num_parameters()), static_cast<long long>(r.data.count),
                static_cast<long long>(cfg.num_diffusion_timesteps), static_cast<long long>(cfg.mcmc_num_steps));
  TrainingLoop loop("drl_train", cfg, r.step, cfg.n_batch_train, run_config(r), banner, ckpt_path);

  nn::LrSchedule schedule = nn::LrSchedule::drl(cfg.lr, cfg.warmup);
  schedule.cosine = cfg.cosine_decay;
  schedule.total_steps = cfg.iters;
  schedule.validate();
  const nn::EmaSyncPolicy sync{cfg.ema_sync_every};
  data::BatchTransform bt;
  bt.scale = data::PixelScale::Symmetric;
  bt.random_flip = cfg.randflip;
  const uint64_t batch_seed = stream_seed(cfg.seed, kBatchNoise);
  const samplers::DrlFn f = [&](const Tensor& y, const Tensor& t) { return r.model->forward(y, t); };

  while (r.step < cfg.iters) {
    const int64_t step = r.step + 1;
    data::Batch batch = data::make_batch(r.data, r.sampler->next(), bt, batch_seed, static_cast<uint64_t>(step), r.device);
    Tensor t = r.ladder->random_levels(cfg.n_batch_train, r.diffusion_gen);
    auto [x_t, x_next] = r.ladder->q_sample_pairs(batch.images, t, r.diffusion_gen);
    Tensor y_neg = r.ladder->langevin(x_next, t, f, r.langevin_gen);
    samplers::DrlLoss loss = r.ladder->recovery_loss(f, x_t, y_neg, t);
    const double loss_value = loss.loss.item();
    if (!std::isfinite(loss_value) || std::fabs(loss_value) > cfg.loss_bound)
      return loop.diverge(out, step,
                          "loss " + std::to_string(loss_value) + " (NaN/inf or |loss| above " + std::to_string(cfg.loss_bound) +
                              ", --loss-bound), mean f+ " + std::to_string(loss.f_pos) + ", mean f- " +
                              std::to_string(loss.f_neg),
                          "resume it with a lower --lr or --mcmc_step_size_b_square, or another --seed.");
    const double lr = schedule.at(r.optimizer->steps());
    r.optimizer->set_lr(lr);
    r.optimizer->zero_grad();
    backward(loss.loss);
    const nn::NamedTensors params = r.model->named_parameters();
    const double gnorm = cfg.grad_clip ? nn::clip_grad_norm_(params, 1.0, 2.0, false, nn::ClipForm::Tf)
                                       : nn::grad_norm(params);
    r.optimizer->step();
    if (r.ema) {
      r.ema->update(ema_tensors(*r.model));
      // After steps N, 2N, ... (1-based), so the grids of those steps see the fresh copy; train.py
      // syncs after 0-based iteration N, one EMA update later.
      if (sync.due(step)) sync_sampling_net(r);
    }
    r.step = step;
    out.last_step = step;
    out.last_loss = loss_value;

    char extra[96];
    std::snprintf(extra, sizeof extra, "f+ %.4f f- %.4f", loss.f_pos, loss.f_neg);
    loop.progress().update(step, loss_value, extra);
    if (loop.log_due(step)) {
      json::Value m = json::Value::object();
      m.set("step", step);
      m.set("loss", loss_value);
      m.set("f_pos", loss.f_pos);
      m.set("f_neg", loss.f_neg);
      const samplers::DrlLevelStats st = r.ladder->level_stats(loss, t);
      for (size_t k = 0; k < st.count.size(); ++k)
        if (st.count[k] > 0) m.set("loss_t" + std::to_string(k), st.mean[k]);
      m.set("grad_norm", gnorm);
      m.set("lr", lr);
      m.set("seconds_per_step", loop.progress().seconds_per_step());
      m.set("images_per_second", loop.progress().images_per_second());
      loop.dir().log_metrics(m);
    }
    if (loop.end_step(step, [&] { write_grids(r, loop.dir()); }, [&] { save(r, loop.dir()); }, out)) return out;
  }
  return loop.finish(out);
}

DrlEvalModel load_drl_eval_model(const std::string& checkpoint, const std::string& device, const std::string& weights) {
  const std::string path = checkpoint_file("drl_train", checkpoint);
  DrlEvalModel m;
  m.path = path;
  m.weights = weights;
  m.checkpoint = load_app_checkpoint(path, "drl_train");
  m.config.from_json(m.checkpoint.config);
  m.config.device = device;
  m.device = Device::parse(device);
  m.channels = m.checkpoint.config.at("channels").as_int();
  m.image_size = m.checkpoint.config.at("image_size").as_int();
  m.model = make_model(m.config, m.channels, nullptr);
  m.model->to(m.device);
  nn::load_model_from_checkpoint(*m.model, m.checkpoint, path);  // also the integer buffers
  if (weights == "ema" || weights == "synced") {
    const char* section = weights == "ema" ? "ema" : "sampling_net";
    EBM_CHECK(m.checkpoint.has_section(section), ValueError, "'", path,
              "' holds no EMA (trained with --no-ema); sample with --sample-from model");
    nn::NamedTensors state;
    for (auto& [name, t] : m.checkpoint.section(section))
      if (name != "updates") state.emplace_back(name, t);
    nn::LoadResult res = m.model->load_state_dict(state, /*strict=*/false);
    EBM_CHECK(res.unexpected.empty(), ValueError, "'", path, "': the ", section, " section names tensors the model lacks: ",
              res.unexpected.front());
  } else {
    EBM_CHECK(weights == "model", ValueError, "unknown weights '", weights, "' (ema, synced or model)");
  }
  m.model->eval();
  return m;
}

std::string sample_drl(DrlConfig cfg) {
  DrlEvalModel m = load_drl_eval_model(resume_checkpoint_path("drl_train", cfg.out_dir(), cfg.resume_iter),
                                       cfg.device, cfg.sample_from);
  samplers::DrlLadder ladder = make_ladder(m.config, cfg.sample_noise_scale, m.device);
  Generator gen(stream_seed(cfg.seed, kSample));
  const samplers::DrlFn f = [&](const Tensor& y, const Tensor& t) { return m.model->forward(y, t); };
  std::vector<Tensor> parts;
  for (int64_t done = 0; done < cfg.num_samples;) {
    const int64_t n = std::min(cfg.sample_batch, cfg.num_samples - done);
    parts.push_back(ladder.sample_progressive(Shape{n, m.channels, m.image_size, m.image_size}, f, gen).to(Device::cpu()));
    done += n;
    std::printf("drl_train: sampled %lld / %lld\n", static_cast<long long>(done), static_cast<long long>(cfg.num_samples));
    std::fflush(stdout);
  }
  return write_sample_files(cfg.out_dir(), m.checkpoint.step, ops::concat(parts, 0), -1.0, 1.0,
                            io::Quantize::Truncate);  // the official tf.cast of clip((x+1)·127.5)
}

}  // namespace ebm::app
