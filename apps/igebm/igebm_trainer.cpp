// IGEBM training loop and sampling mode (see igebm_trainer.h).
#include "apps/igebm/igebm_trainer.h"

#include <cmath>
#include <cstdio>

#include "apps/common/training_loop.h"
#include "autograd/ops.h"
#include "core/io/image_grid.h"
#include "core/ops/random.h"
#include "core/settings.h"
#include "data/batches.h"
#include "nn/checkpoint.h"
#include "nn/grad_clip.h"
#include "nn/igebm_models.h"
#include "nn/optim.h"
#include "samplers/chain_graph.h"
#include "samplers/langevin.h"
#include "samplers/losses.h"
#include "samplers/replay_buffer.h"

#ifndef EBM_VERSION
#define EBM_VERSION "unknown"
#endif

namespace ebm::app {

namespace {

// Independent streams per purpose, all from the one --seed (stream_seed).
enum Purpose : uint64_t { kInit = 1, kLangevin, kBuffer, kDropout, kData, kBatchNoise };

struct Run {
  IgebmConfig cfg;
  Device device = Device::cpu();
  data::Dataset data;
  std::shared_ptr<nn::IgebmResNet> model;
  std::shared_ptr<Generator> dropout_gen;
  Generator langevin_gen, buffer_gen;
  std::unique_ptr<nn::Adam> optimizer;
  std::unique_ptr<samplers::ReplayBuffer> buffer;
  std::unique_ptr<data::EpochSampler> sampler;
  int64_t step = 0;
};

data::Dataset load_data(const IgebmConfig& cfg) {
  data::DatasetOptions o;
  o.name = cfg.dataset;
  o.dir = cfg.data_dir;
  o.image_size = 32;  // the IGEBM networks are 32×32 (28×28 data is zero-padded)
  o.limit = cfg.limit;
  return data::load_dataset(o);
}

// The run's network (initialised from --seed; a checkpoint's weights are loaded over it).
std::shared_ptr<nn::IgebmResNet> make_model(const IgebmConfig& c, int64_t channels, int64_t num_classes,
                                            std::shared_ptr<Generator> dropout_gen) {
  nn::IgebmModelOptions mo;
  mo.in_channels = channels;
  mo.image_size = 32;
  mo.num_classes = num_classes;
  mo.num_filters = c.num_filters;
  mo.sn_schedule = c.sn_schedule == "forward" ? nn::SpectralNormSchedule::EveryForward
                                              : nn::SpectralNormSchedule::OncePerIteration;
  mo.dropout_generator = std::move(dropout_gen);
  Generator init(stream_seed(c.seed, kInit));
  return nn::make_igebm_model(c.model, mo, init);
}

samplers::ReplayBufferOptions buffer_options(const IgebmConfig& c) {
  samplers::ReplayBufferOptions bo;
  bo.capacity = c.buffer_size;
  bo.storage = c.buffer_storage == "float" ? samplers::BufferStorage::Float32 : samplers::BufferStorage::UInt8;
  return bo;
}

void build(Run& r) {
  const IgebmConfig& c = r.cfg;
  r.device = Device::parse(c.device);
  set_allow_tf32(c.tf32);
  r.data = load_data(c);
  EBM_CHECK(!c.cclass || r.data.num_classes > 0, ValueError, "igebm_train: --cclass needs labels, and dataset '",
            c.dataset, "' has none");
  r.dropout_gen = std::make_shared<Generator>(stream_seed(c.seed, kDropout));
  r.model = make_model(c, r.data.channels, c.cclass ? r.data.num_classes : 0, r.dropout_gen);
  r.model->to(r.device);
  r.model->train();
  nn::AdamOptions ao = c.adam_clip == "port" ? nn::AdamOptions::igebm_port() : nn::AdamOptions::igebm();
  if (c.adam_clip == "none") ao.clip = AdamClip::None;
  ao.lr = c.lr;
  r.optimizer = std::make_unique<nn::Adam>(r.model->named_parameters(), ao);
  r.buffer = std::make_unique<samplers::ReplayBuffer>(buffer_options(c), Shape{r.data.channels, 32, 32});
  r.sampler = std::make_unique<data::EpochSampler>(r.data.count, c.batch_size, stream_seed(c.seed, kData));
  r.langevin_gen = Generator(stream_seed(c.seed, kLangevin));
  r.buffer_gen = Generator(stream_seed(c.seed, kBuffer));
}

json::Value run_config(const Run& r) {
  json::Value v = r.cfg.to_json();
  v.set("engine", "ebm " EBM_VERSION);
  v.set("device", r.device.to_string());
  v.set("app", "igebm_train");
  return v;
}

void save(const Run& r, RunDir& dir) {
  nn::Checkpoint c;
  c.step = r.step;
  c.config = run_config(r);
  c.rng["langevin"] = r.langevin_gen.state();
  c.rng["buffer"] = r.buffer_gen.state();
  c.rng["dropout"] = r.dropout_gen->state();
  c.set_model(r.model->state_dict());
  c.set_section("optim", r.optimizer->state_dict());
  c.set_section("buffer", r.buffer->state());
  c.set_section("data", epoch_sampler_section(*r.sampler));
  c.save(dir.checkpoint_path(r.step));
  c.save(dir.latest_checkpoint());
}

std::string resume_path(const IgebmConfig& cfg) {
  return resume_checkpoint_path("igebm_train", cfg.out_dir(), cfg.resume_iter);
}

void restore(Run& r, const nn::Checkpoint& c, const std::string& path) {
  nn::load_model_from_checkpoint(*r.model, c, path);
  r.optimizer->load_state_dict(c.section("optim"));
  r.buffer->load_state(c.section("buffer"));
  restore_epoch_sampler(*r.sampler, c.section("data"));
  r.langevin_gen.set_state(c.rng.at("langevin"));
  r.buffer_gen.set_state(c.rng.at("buffer"));
  r.dropout_gen->set_state(c.rng.at("dropout"));
  r.step = c.step;
}

void write_samples(Run& r, RunDir& dir, const Tensor& negatives) {
  io::Image8 grid = io::make_grid(negatives.slice(0, std::min<int64_t>(64, negatives.size(0))), 0.0, 1.0);
  dir.write_grid(grid, r.step, "", "samples/negatives");
  if (r.buffer->size() > 0) {
    Generator g(r.step);  // a look at the buffer must not move the training streams
    samplers::ReplaySample s = r.buffer->sample(std::min<int64_t>(64, r.cfg.batch_size), 0.0, g, Device::cpu());
    if (s.fresh == 0) {
      io::Image8 b = io::make_grid(s.images, 0.0, 1.0);
      dir.write_grid(b, r.step, "buffer", "samples/buffer");
    }
  }
}

// For one chain, the layers' W/σ become the given tensors (the graph's buffers); put back after.
class CachedWeightsSwap {
 public:
  CachedWeightsSwap(const std::vector<nn::SpectralNorm*>& layers, const std::vector<Tensor>& w, size_t first)
      : layers_(layers) {
    for (size_t i = 0; i < layers_.size(); ++i) {
      saved_.push_back(layers_[i]->cached());
      layers_[i]->set_cached(w.at(first + i));
    }
  }
  ~CachedWeightsSwap() {
    for (size_t i = 0; i < layers_.size(); ++i) layers_[i]->set_cached(saved_[i]);
  }
  CachedWeightsSwap(const CachedWeightsSwap&) = delete;
  CachedWeightsSwap& operator=(const CachedWeightsSwap&) = delete;

 private:
  const std::vector<nn::SpectralNorm*>& layers_;
  std::vector<Tensor> saved_;
};

}  // namespace

IgebmOutcome train_igebm(IgebmConfig cfg) {
  std::string ckpt_path;
  nn::Checkpoint ckpt;
  if (!cfg.resume.empty()) ckpt = load_resume_checkpoint("igebm_train", cfg, &ckpt_path);
  Run r;
  r.cfg = cfg;
  build(r);
  if (!ckpt_path.empty()) restore(r, ckpt, ckpt_path);
  IgebmOutcome out;
  if (TrainingLoop::already_done(r.step, cfg.iters, out)) return out;
  char banner[256];
  std::snprintf(banner, sizeof banner, "%s on %s, model %s (%lld parameters), %lld images", cfg.dataset.c_str(),
                r.device.to_string().c_str(), cfg.model.c_str(), static_cast<long long>(r.model->num_parameters()),
                static_cast<long long>(r.data.count));
  TrainingLoop loop("igebm_train", cfg, r.step, cfg.batch_size, run_config(r), banner, ckpt_path);

  samplers::IgebmLangevinOptions lo;
  lo.steps = static_cast<int>(cfg.num_steps);
  lo.step_lr = cfg.step_lr;
  lo.noise_std = cfg.noise_std();
  lo.grad_clip = cfg.proj_norm;
  const bool once_per_iteration = cfg.sn_schedule == "iteration";
  data::BatchTransform bt;
  bt.scale = cfg.dequantize ? data::PixelScale::Dequantized256 : data::PixelScale::Unit255;
  bt.random_flip = cfg.random_flip;
  const uint64_t batch_seed = stream_seed(cfg.seed, kBatchNoise);
  Tensor negatives;
  // --cuda-graph: the chain's inputs are the labels and, under the once-per-iteration schedule,
  // every layer's W/σ, which refresh_spectral_norm makes anew each iteration; a graph reads them
  // from buffers it owns, so the chain swaps those in. The other weights are updated in place.
  const std::vector<nn::SpectralNorm*> sn_layers =
      once_per_iteration ? nn::spectral_norms(*r.model) : std::vector<nn::SpectralNorm*>{};
  samplers::GraphedChain graphed(
      [&](Tensor& x, const std::vector<Tensor>& in) {
        CachedWeightsSwap swap(sn_layers, in, 1);
        const Tensor& labels = in[0];
        return samplers::igebm_langevin_(x, [&](const Tensor& v) { return r.model->forward(v, labels); }, lo,
                                         r.langevin_gen);
      },
      r.langevin_gen, cfg.cuda_graph);
  std::vector<Tensor> chain_inputs;

  while (r.step < cfg.iters) {
    const int64_t step = r.step + 1;
    data::Batch batch = data::make_batch(r.data, r.sampler->next(), bt, batch_seed,
                                         static_cast<uint64_t>(step), r.device);
    Tensor labels = cfg.cclass ? batch.labels : Tensor();
    if (once_per_iteration) r.model->refresh_spectral_norm();
    if (cfg.replay_batch) {
      negatives = r.buffer->sample(cfg.batch_size, cfg.reinit, r.buffer_gen, r.device).images;
    } else {
      negatives = ops::uniform(batch.images.shape(), r.buffer_gen, 0.0, 1.0, DType::Float32, r.device);
    }
    Tensor chain_grad;
    if (cfg.cuda_graph) {
      chain_inputs.assign({labels});
      for (nn::SpectralNorm* sn : sn_layers) chain_inputs.push_back(sn->cached());
      chain_grad = graphed.run_(negatives, chain_inputs);
    } else {
      auto energy = [&](const Tensor& x) { return r.model->forward(x, labels); };
      chain_grad = samplers::igebm_langevin_(negatives, energy, lo, r.langevin_gen);
    }
    r.buffer->push(negatives);
    Tensor e_pos = r.model->forward(batch.images, labels);
    Tensor e_neg = r.model->forward(negatives.detach(), labels);
    samplers::ContrastiveLoss loss = samplers::contrastive_loss(e_pos, e_neg, cfg.l2_coeff, cfg.ml_coeff);
    double loss_value = loss.loss.item();
    if (!std::isfinite(loss_value) || std::fabs(loss.e_pos) > cfg.energy_bound ||
        std::fabs(loss.e_neg) > cfg.energy_bound)
      return loop.diverge(out, step,
                          "loss " + std::to_string(loss_value) + ", mean E+ " + std::to_string(loss.e_pos) +
                              ", mean E- " + std::to_string(loss.e_neg) + " (--energy-bound " +
                              std::to_string(cfg.energy_bound) + ")",
                          "try a lower --lr or --step_lr, or resume with another --seed.");
    r.optimizer->zero_grad();
    backward(loss.loss);
    double gnorm = nn::grad_norm(r.model->named_parameters());
    r.optimizer->step();
    r.step = step;
    out.last_step = step;
    out.last_loss = loss_value;

    char extra[96];
    std::snprintf(extra, sizeof extra, "E+ %.4f E- %.4f", loss.e_pos, loss.e_neg);
    loop.progress().update(step, loss_value, extra);
    if (loop.log_due(step)) {
      json::Value m = json::Value::object();
      m.set("step", step);
      m.set("loss", loss_value);
      m.set("e_pos", loss.e_pos);
      m.set("e_neg", loss.e_neg);
      m.set("grad_norm", gnorm);
      m.set("langevin_grad", chain_grad.item());
      m.set("seconds_per_step", loop.progress().seconds_per_step());
      m.set("images_per_second", loop.progress().images_per_second());
      loop.dir().log_metrics(m);
    }
    if (loop.end_step(step, [&] { write_samples(r, loop.dir(), negatives); }, [&] { save(r, loop.dir()); }, out))
      return out;
  }
  return loop.finish(out);
}

IgebmEvalModel load_igebm_eval_model(const std::string& checkpoint, const std::string& device) {
  const std::string path = checkpoint_file("igebm_train", checkpoint);
  IgebmEvalModel m;
  m.path = path;
  m.checkpoint = load_app_checkpoint(path, "igebm_train");
  m.config.from_json(m.checkpoint.config);
  m.config.device = device;
  m.device = Device::parse(device);
  // The image shape and classes from the tensors: stem.weight_orig [F, C, 3, 3]; a conditional
  // model's blocks.0.gb1 [K, C_in].
  for (const auto& [name, t] : m.checkpoint.model()) {
    if (name == "stem.weight_orig" || name == "stem.weight") m.channels = t.size(1);
    if (name == "blocks.0.gb1" && t.dim() == 2) m.num_classes = t.size(0);
  }
  EBM_CHECK(m.channels > 0, ValueError, "'", path, "' holds no stem.weight_orig tensor (not an IGEBM model)");
  EBM_CHECK(!m.config.cclass || m.num_classes > 0, ValueError, "'", path,
            "': a conditional run, but blocks.0.gb1 is not [classes, channels]");
  m.model = make_model(m.config, m.channels, m.num_classes, nullptr);
  m.model->to(m.device);
  nn::load_model_from_checkpoint(*m.model, m.checkpoint, path);
  m.model->eval();  // the evaluation model: no dropout, stored spectral-norm vectors
  m.model->refresh_spectral_norm();
  return m;
}

std::unique_ptr<samplers::ReplayBuffer> IgebmEvalModel::replay_buffer() const {
  auto b = std::make_unique<samplers::ReplayBuffer>(buffer_options(config), Shape{channels, image_size, image_size});
  if (checkpoint.has_section("buffer")) b->load_state(checkpoint.section("buffer"));
  return b;
}

std::string sample_igebm(IgebmConfig cfg) {
  IgebmEvalModel m = load_igebm_eval_model(resume_path(cfg), cfg.device);
  const int64_t step = m.checkpoint.step;
  Generator gen(stream_seed(cfg.seed, kLangevin) ^ 0x5A5A5A5A);
  Tensor x = ops::uniform(Shape{cfg.num_samples, m.channels, 32, 32}, gen, 0.0, 1.0, DType::Float32, m.device);
  Tensor labels;
  if (m.config.cclass) {
    std::vector<int64_t> l(static_cast<size_t>(cfg.num_samples));
    for (int64_t i = 0; i < cfg.num_samples; ++i) l[i] = i % m.num_classes;
    labels = Tensor::from_vector(l, Shape{cfg.num_samples}).to(m.device);
  }
  samplers::IgebmLangevinOptions lo;
  lo.steps = static_cast<int>(cfg.sample_steps);
  lo.step_lr = m.config.step_lr;
  lo.noise_std = m.config.noise_std();
  lo.grad_clip = m.config.proj_norm;
  samplers::igebm_langevin_(x, [&](const Tensor& v) { return m.model->forward(v, labels); }, lo, gen);
  return write_sample_files(cfg.out_dir(), step, x, 0.0, 1.0, io::Quantize::Round);
}

}  // namespace ebm::app
