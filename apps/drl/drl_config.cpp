// DRL flags, checks and JSON form (see drl_config.h).
#include "apps/drl/drl_config.h"

#include <cstdlib>
#include <sstream>

#include "data/dataset.h"
#include "nn/drl_models.h"

namespace ebm::app {

void DrlConfig::declare(Flags& f) {
  f.add_choice("dataset", &dataset, data::dataset_names(), "training data");
  f.add("data-dir", &data_dir, "dataset directory (default: the dataset's standard place)");
  f.add("randflip", &randflip, "random horizontal flips of the data");
  f.add_choice("model", &model, nn::drl_model_names(),
               "energy network: the official net_res_temb2, or the PyTorch port's WRN-28-10 with time embedding");
  f.add("ch", &ch, "net_res_temb2: base width (0: the model's, 128; small 16)");
  f.add("ch_mult", &ch_mult, "net_res_temb2: width multipliers per level, e.g. 1,2,2,2 (empty: the model's)");
  f.add("num_res_blocks", &num_res_blocks, "net_res_temb2: residual blocks per level (0: the model's)");
  f.add("depth", &depth, "wrn: depth 6n+4 (0: the preset's)");
  f.add("widen_factor", &widen_factor, "wrn: widen factor (0: the preset's)");
  f.add("dropout", &dropout, "dropout rate in the residual blocks");
  f.add("spec_norm", &spec_norm, "accepted for compatibility: net_res_temb2 always uses spectral norm");
  f.add("num_diffusion_timesteps", &num_diffusion_timesteps, "T: noise levels of the diffusion ladder");
  f.add("mcmc_num_steps", &mcmc_num_steps, "K: Langevin steps per level");
  f.add("mcmc_step_size_b_square", &mcmc_step_size_b_square, "b^2 of the step size s_t^2 = b^2 sigma_{t+1}^2 c_t");
  f.add("noise_scale", &noise_scale, "Langevin noise multiplier in training and the in-training grids");
  f.add("n_batch_train", &n_batch_train, "batch size");
  f.add("lr", &lr, "Adam learning rate");
  f.add("beta_1", &beta_1, "Adam beta1 (0.5 in the README's CelebA and LSUN-128 runs)");
  f.add("warmup", &warmup, "linear learning-rate warm-up, in optimiser steps");
  f.add("cosine_decay", &cosine_decay, "cosine learning-rate decay to 0 over --iters after the warm-up");
  f.add("grad_clip", &grad_clip, "clip the gradients' global norm at 1 (TF clip_by_global_norm)");
  f.add("weight_decay", &weight_decay, "coupled L2 weight decay (the PyTorch port: 5e-4)");
  f.add("ma_decay", &ma_decay, "EMA decay of the weights and spectral-norm vectors");
  f.add("ema", &ema, "keep an EMA of the weights for sampling (the PyTorch port has none)");
  f.add("ema_warmup", &ema_warmup,
        "EMA decay min(ma_decay, (1+n)/(10+n)) after n updates (TF's num_updates; official: off)");
  f.add("ema_sync_every", &ema_sync_every, "copy the EMA into the sampling network every N iterations (official 5000)");
  declare_run_flags(f);
  f.add("grid-samples", &grid_samples, "images in the in-training sample grids");
  f.add("loss-bound", &loss_bound, "stop as diverged when the loss is NaN/inf or |loss| exceeds this "
        "(the PyTorch port's 1000; the official code stops below -1e6)");
  f.add("sample-batch", &sample_batch, "sampling mode: images per batch");
  f.add("sample-noise-scale", &sample_noise_scale, "sampling mode: Langevin noise multiplier (official evaluation 0.99)");
  f.add_choice("sample-from", &sample_from, {"ema", "synced", "model"},
               "sampling mode: the EMA weights, the last synced sampling network, or the trained network");
}

std::vector<int64_t> DrlConfig::ch_mult_values() const {
  std::vector<int64_t> v;
  std::stringstream s(ch_mult);
  for (std::string item; std::getline(s, item, ',');) {
    char* end = nullptr;
    const long long x = std::strtoll(item.c_str(), &end, 10);
    EBM_CHECK(!item.empty() && end && *end == '\0' && x >= 1, UsageError, "drl_train: bad value '", ch_mult,
              "' for --ch_mult: want positive integers separated by commas, e.g. 1,2,2,2");
    v.push_back(x);
  }
  return v;
}

void DrlConfig::finalize(const Flags& f) {
  auto fail = [](const std::string& msg) { EBM_THROW(UsageError, "drl_train: ", msg); };
  if (n_batch_train < 1) fail("--n_batch_train must be >= 1");
  if (num_diffusion_timesteps < 2 || num_diffusion_timesteps > 501)
    fail("--num_diffusion_timesteps must lie in [2, 501] (the official grouping of 1000 DDPM steps)");
  if (mcmc_num_steps < 0) fail("--mcmc_num_steps must be >= 0");
  if (!(mcmc_step_size_b_square > 0)) fail("--mcmc_step_size_b_square must be > 0");
  if (!(noise_scale >= 0) || !(sample_noise_scale >= 0)) fail("--noise_scale and --sample-noise-scale must be >= 0");
  if (!(lr > 0)) fail("--lr must be > 0");
  if (!(beta_1 >= 0 && beta_1 < 1)) fail("--beta_1 must lie in [0, 1)");
  if (warmup < 0) fail("--warmup must be >= 0");
  if (cosine_decay && iters <= warmup) fail("--cosine_decay needs --iters > --warmup");
  if (!(weight_decay >= 0)) fail("--weight_decay must be >= 0");
  if (!(ma_decay >= 0 && ma_decay <= 1)) fail("--ma_decay must lie in [0, 1]");
  if (ema_sync_every < 0) fail("--ema_sync_every must be >= 0");
  if (!(dropout >= 0 && dropout < 1)) fail("--dropout must lie in [0, 1)");
  if (ch < 0 || num_res_blocks < 0 || depth < 0 || widen_factor < 0)
    fail("--ch, --num_res_blocks, --depth and --widen_factor must be >= 0");
  (void)ch_mult_values();  // throws naming --ch_mult
  const bool wrn = model.rfind("wrn", 0) == 0;
  if (model != "net_res_temb2" && !f.given("num_res_blocks")) num_res_blocks = 0;  // the preset's
  if (wrn && (f.given("ch") || f.given("ch_mult") || f.given("num_res_blocks")))
    fail("--ch, --ch_mult and --num_res_blocks size net_res_temb2; --model " + model + " takes --depth/--widen_factor");
  if (!wrn && (f.given("depth") || f.given("widen_factor")))
    fail("--depth and --widen_factor size the wrn models; --model " + model + " takes --ch/--ch_mult/--num_res_blocks");
  if (!spec_norm && !wrn) fail("--no-spec_norm: net_res_temb2 is built with spectral norm (the wrn models have none)");
  if (grid_samples < 1) fail("--grid-samples must be >= 1");
  if (!(loss_bound > 0)) fail("--loss-bound must be > 0");
  if (sample_batch < 1) fail("--sample-batch must be >= 1");
  finalize_run_flags(f, "drl_train");
}

json::Value DrlConfig::to_json() const {
  json::Value v = json::Value::object();
  v.set("dataset", dataset);
  v.set("data_dir", data_dir);
  v.set("randflip", randflip);
  v.set("model", model);
  v.set("ch", ch);
  v.set("ch_mult", ch_mult);
  v.set("num_res_blocks", num_res_blocks);
  v.set("depth", depth);
  v.set("widen_factor", widen_factor);
  v.set("dropout", dropout);
  v.set("num_diffusion_timesteps", num_diffusion_timesteps);
  v.set("mcmc_num_steps", mcmc_num_steps);
  v.set("mcmc_step_size_b_square", mcmc_step_size_b_square);
  v.set("noise_scale", noise_scale);
  v.set("n_batch_train", n_batch_train);
  v.set("lr", lr);
  v.set("beta_1", beta_1);
  v.set("warmup", warmup);
  v.set("cosine_decay", cosine_decay);
  v.set("grad_clip", grad_clip);
  v.set("weight_decay", weight_decay);
  v.set("ma_decay", ma_decay);
  v.set("ema", ema);
  v.set("ema_warmup", ema_warmup);
  v.set("ema_sync_every", ema_sync_every);
  v.set("seed", seed);
  v.set("iters", iters);
  v.set("limit", limit);
  cadence_to_json(v);
  return v;
}

void DrlConfig::from_json(const json::Value& v) {
  dataset = v.at("dataset").as_string();
  data_dir = v.at("data_dir").as_string();
  randflip = v.at("randflip").as_bool();
  model = v.at("model").as_string();
  ch = v.at("ch").as_int();
  ch_mult = v.at("ch_mult").as_string();
  num_res_blocks = v.at("num_res_blocks").as_int();
  depth = v.at("depth").as_int();
  widen_factor = v.at("widen_factor").as_int();
  dropout = v.at("dropout").as_double();
  num_diffusion_timesteps = v.at("num_diffusion_timesteps").as_int();
  mcmc_num_steps = v.at("mcmc_num_steps").as_int();
  mcmc_step_size_b_square = v.at("mcmc_step_size_b_square").as_double();
  noise_scale = v.at("noise_scale").as_double();
  n_batch_train = v.at("n_batch_train").as_int();
  lr = v.at("lr").as_double();
  beta_1 = v.at("beta_1").as_double();
  warmup = v.at("warmup").as_int();
  cosine_decay = v.at("cosine_decay").as_bool();
  grad_clip = v.at("grad_clip").as_bool();
  weight_decay = v.at("weight_decay").as_double();
  ma_decay = v.at("ma_decay").as_double();
  ema = v.at("ema").as_bool();
  const json::Value* warm = v.find("ema_warmup");  // absent in checkpoints written before the flag
  ema_warmup = warm && warm->as_bool();
  ema_sync_every = v.at("ema_sync_every").as_int();
  seed = v.at("seed").as_int();
  limit = v.at("limit").as_int();
  cadence_from_json(v);
}

}  // namespace ebm::app
