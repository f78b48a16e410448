// Recipe adapters for ebm_eval (see eval_model.h): IGEBM (apps/igebm) and DRL (apps/drl).
#include "apps/eval/eval_model.h"

#include <cmath>
#include <filesystem>

#include "apps/drl/drl_trainer.h"
#include "apps/igebm/igebm_trainer.h"
#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "core/io/sha256.h"
#include "core/ops/random.h"
#include "samplers/drl.h"
#include "samplers/langevin.h"

namespace ebm::app {

namespace {

class IgebmEval : public EvalModel {
 public:
  IgebmEval(IgebmEvalModel m, const SamplerRequest& s) : m_(std::move(m)) {
    init_ = s.init;
    EBM_CHECK(s.ema != "on", ValueError, "--ema on: igebm_train checkpoints hold no EMA weights "
              "(the IGEBM recipe keeps none); use --ema off or auto");
    lo_.steps = static_cast<int>(s.steps >= 0 ? s.steps : m_.config.num_steps);
    lo_.step_lr = s.step_lr >= 0 ? s.step_lr : m_.config.step_lr;
    lo_.grad_clip = s.grad_clip >= 0 ? s.grad_clip : m_.config.proj_norm;
    lo_.noise_std = 0.005 * (s.noise_scale >= 0 ? s.noise_scale : m_.config.noise_scale);
    if (init_ == "buffer") {
      buffer_ = m_.replay_buffer();
      EBM_CHECK(buffer_->size() > 0, ValueError, "--init buffer: the replay buffer in '", m_.path,
                "' is empty (use --init noise)");
    }
  }

  std::string recipe() const override { return "igebm"; }
  json::Value info() const override {
    json::Value v = json::Value::object();
    v.set("recipe", "igebm");
    v.set("app", "igebm_train");
    v.set("path", m_.path);
    v.set("sha256", io::sha256_file_hex(m_.path));
    v.set("step", m_.checkpoint.step);
    v.set("model", m_.config.model);
    v.set("num_filters", m_.config.num_filters);
    v.set("conditional", m_.config.cclass);
    v.set("parameters", m_.model->num_parameters());
    v.set("dataset", m_.config.dataset);
    v.set("data_dir", m_.config.data_dir);
    return v;
  }
  json::Value sampler_settings() const override {
    json::Value v = json::Value::object();
    v.set("name", "igebm_langevin");
    v.set("rule", "x <- clamp(x - step_lr * clip(grad_x E(x + noise), +-grad_clip), 0, 1), noise ~ N(0, noise_std^2) "
                  "(samplers/langevin.h)");
    v.set("init", init_ == "buffer" ? "replay buffer of the checkpoint (uniform draws with replacement, no fresh starts)"
                                    : "uniform noise U(0, 1)");
    v.set("steps", static_cast<int64_t>(lo_.steps));
    v.set("step_lr", lo_.step_lr);
    v.set("grad_clip", lo_.grad_clip);
    v.set("noise_std", lo_.noise_std);
    v.set("clamp", json::Value(json::Value::Array{0.0, 1.0}));
    v.set("labels", m_.num_classes > 0 ? "sample i gets class i mod " + std::to_string(m_.num_classes) : "none (unconditional)");
    v.set("model_mode", "eval (no dropout; spectral norm W/sigma from the stored u, v)");
    v.set("ema", false);
    return v;
  }
  bool ema() const override { return false; }
  int64_t channels() const override { return m_.channels; }
  int64_t image_size() const override { return m_.image_size; }
  std::string dataset() const override { return m_.config.dataset; }
  std::string data_dir() const override { return m_.config.data_dir; }
  std::pair<double, double> pixel_range() const override { return {0.0, 1.0}; }
  io::Quantize quantize() const override { return io::Quantize::Round; }
  data::PixelScale data_scale() const override {
    return m_.config.dequantize ? data::PixelScale::Dequantized256 : data::PixelScale::Unit255;
  }
  Device device() const override { return m_.device; }

  Tensor sample(int64_t first, int64_t n, Generator& gen) override {
    Tensor x = init_ == "buffer"
                   ? buffer_->sample(n, 0.0, gen, m_.device).images
                   : ops::uniform(Shape{n, m_.channels, m_.image_size, m_.image_size}, gen, 0.0, 1.0,
                                  DType::Float32, m_.device);
    Tensor labels = labels_for(first, n);
    if (lo_.steps > 0)
      samplers::igebm_langevin_(x, [&](const Tensor& v) { return m_.model->forward(v, labels); }, lo_, gen);
    return x;
  }

  Tensor energy(const Tensor& x) override {
    NoGradGuard no_grad;
    Tensor xd = x.to(m_.device);
    if (m_.num_classes == 0) return m_.model->forward(xd, Tensor()).to(Device::cpu());
    // Class-marginal energy -log sum_y exp(-E(x, y)), in double on the host.
    const int64_t n = x.size(0);
    std::vector<std::vector<float>> e;
    for (int64_t k = 0; k < m_.num_classes; ++k) {
      Tensor y = Tensor::from_vector(std::vector<int64_t>(static_cast<size_t>(n), k), Shape{n}).to(m_.device);
      e.push_back(m_.model->forward(xd, y).to_vector<float>());
    }
    std::vector<double> out(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      double m = -1e300, s = 0;
      for (auto& ek : e) m = std::max(m, -static_cast<double>(ek[i]));
      for (auto& ek : e) s += std::exp(-static_cast<double>(ek[i]) - m);
      out[i] = -(m + std::log(s));
    }
    return Tensor::from_vector(out, Shape{n});
  }

 private:
  Tensor labels_for(int64_t first, int64_t n) const {
    if (m_.num_classes == 0) return Tensor();
    std::vector<int64_t> l(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) l[i] = (first + i) % m_.num_classes;
    return Tensor::from_vector(l, Shape{n}).to(m_.device);
  }

  IgebmEvalModel m_;
  std::string init_;
  samplers::IgebmLangevinOptions lo_;
  std::unique_ptr<samplers::ReplayBuffer> buffer_;
};

// DRL (Gao et al. 2021): progressive sampling from N(0, I) through all T levels, K conditional
// Langevin steps each, from the EMA weights by default (the official evaluation); samples and
// data in [-1, 1]. Energy for OOD: E(x) = -f(a'_0 x, t = 0), the level-0 network.
class DrlEval : public EvalModel {
 public:
  DrlEval(const std::string& path, const SamplerRequest& s, const std::string& device) {
    EBM_CHECK(s.init == "noise", ValueError, "--init buffer: DRL has no replay buffer (its chains start from N(0, I))");
    EBM_CHECK(s.grad_clip < 0, ValueError, "--proj_norm: DRL's sampler has no gradient clip");
    weights_ = s.ema == "off" ? "model" : "ema";
    nn::Checkpoint probe = nn::Checkpoint::load(path);
    if (s.ema == "auto" && !probe.has_section("ema")) weights_ = "model";
    EBM_CHECK(s.ema != "on" || probe.has_section("ema"), ValueError, "--ema on: '", path,
              "' holds no EMA weights (trained with --no-ema)");
    m_ = load_drl_eval_model(path, device, weights_);
    samplers::DrlLadderOptions lo;
    lo.steps = s.steps >= 0 ? s.steps : m_.config.mcmc_num_steps;
    lo.noise_scale = s.noise_scale >= 0 ? s.noise_scale : m_.config.sample_noise_scale;
    b2_ = s.step_lr >= 0 ? s.step_lr : m_.config.mcmc_step_size_b_square;
    ladder_ = std::make_unique<samplers::DrlLadder>(
        samplers::DrlSchedule::make(m_.config.num_diffusion_timesteps, b2_), lo, DType::Float32, m_.device);
  }
  std::string recipe() const override { return "drl"; }
  json::Value info() const override {
    json::Value v = json::Value::object();
    v.set("recipe", "drl");
    v.set("app", "drl_train");
    v.set("path", m_.path);
    v.set("sha256", io::sha256_file_hex(m_.path));
    v.set("step", m_.checkpoint.step);
    v.set("model", m_.config.model);
    v.set("weights", weights_);
    v.set("parameters", m_.model->num_parameters());
    v.set("dataset", m_.config.dataset);
    v.set("data_dir", m_.config.data_dir);
    return v;
  }
  json::Value sampler_settings() const override {
    json::Value v = json::Value::object();
    v.set("name", "drl_progressive");
    v.set("rule", "x_T ~ N(0, I); for t = T-1..0: K conditional Langevin steps of level t (step b^2 sigma_t^2 "
                  "schedule, noise x lambda), then x_t = y / a'_(t+1) (samplers/drl.h)");
    v.set("init", "gaussian noise N(0, I)");
    v.set("levels", m_.config.num_diffusion_timesteps);
    v.set("steps", ladder_->options().steps);
    v.set("step_size_b_square", b2_);
    v.set("noise_scale", ladder_->options().noise_scale);
    v.set("weights", weights_);
    v.set("ema", weights_ == "ema");
    return v;
  }
  bool ema() const override { return weights_ == "ema"; }
  int64_t channels() const override { return m_.channels; }
  int64_t image_size() const override { return m_.image_size; }
  std::string dataset() const override { return m_.config.dataset; }
  std::string data_dir() const override { return m_.config.data_dir; }
  std::pair<double, double> pixel_range() const override { return {-1.0, 1.0}; }
  io::Quantize quantize() const override { return io::Quantize::Truncate; }  // the official export
  data::PixelScale data_scale() const override { return data::PixelScale::Symmetric; }
  Device device() const override { return m_.device; }
  Tensor sample(int64_t, int64_t n, Generator& gen) override {
    const samplers::DrlFn f = [&](const Tensor& y, const Tensor& t) { return m_.model->forward(y, t); };
    return ladder_->sample_progressive(Shape{n, m_.channels, m_.image_size, m_.image_size}, f, gen);
  }
  Tensor energy(const Tensor& x) override {
    NoGradGuard no_grad;
    Tensor xd = x.to(m_.device);
    Tensor t = Tensor::zeros(Shape{x.size(0)}, DType::Int64, m_.device);
    return neg(m_.model->forward(ladder_->to_y(xd, t), t)).to(Device::cpu());
  }

 private:
  DrlEvalModel m_;
  std::string weights_;
  double b2_ = 0;
  std::unique_ptr<samplers::DrlLadder> ladder_;
};

}  // namespace

std::unique_ptr<EvalModel> load_eval_model(const std::string& checkpoint, const SamplerRequest& sampler,
                                           const std::string& device) {
  std::string path = checkpoint;
  if (std::filesystem::is_directory(path)) path += "/checkpoints/latest.safetensors";
  EBM_CHECK(std::filesystem::is_regular_file(path), IOError, "ebm_eval: no checkpoint '", path,
            "' (give a run directory or a .safetensors checkpoint)");
  nn::Checkpoint c = nn::Checkpoint::load(path);
  const json::Value* app = c.config.find("app");
  const std::string name = app && app->is_string() ? app->as_string() : "";
  if (name == "igebm_train") return std::make_unique<IgebmEval>(load_igebm_eval_model(path, device), sampler);
  if (name == "drl_train") return std::make_unique<DrlEval>(path, sampler, device);
  EBM_THROW(ValueError, "ebm_eval: '", path, "' is not a checkpoint of a known recipe (config app: ",
            app ? json::dump(*app) : std::string("missing"), "; known: igebm_train, drl_train)");
}

}  // namespace ebm::app
