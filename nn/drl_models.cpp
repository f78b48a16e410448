// DRL's net_res_temb2 and the DRL model factory (see drl_models.h; spec igebm-drl.md §2.4).
#include "nn/drl_models.h"

#include <algorithm>

#include "autograd/ops.h"
#include "nn/init.h"
#include "nn/wrn.h"

namespace ebm::nn {

namespace {

constexpr double kLeak = 0.2;  // TF's leaky_relu default, DRL's `act=lrelu`

// DRL's default_init: TF VarianceScaling(scale, fan_avg, uniform) on the weight (weight_orig
// under SN), scale 0 meaning 1e-10; bias 0.
template <class Layer>
void drl_init(Layer& layer, double scale, Generator& gen) {
  NoGradGuard no_grad;
  Tensor w = layer.raw_weight().detach();  // same storage; the leaf itself is not recorded on
  variance_scaling_fan_avg_uniform_(w, scale == 0.0 ? 1e-10 : scale, gen);
  if (Tensor* b = layer.bias()) b->detach().zero_();
}

SpectralNormOptions sn(bool on, bool capped = false) {
  SpectralNormOptions s;
  s.enabled = on;
  s.capped = capped;
  return s;
}

std::shared_ptr<Conv2d> drl_conv(int64_t c_in, int64_t c_out, SpectralNormOptions s, double scale,
                                 DType dt, Generator& gen) {
  Conv2dOptions o;
  o.in_channels = c_in;
  o.out_channels = c_out;
  o.kernel = 3;
  o.padding = 1;
  o.spectral_norm = s;
  o.dtype = dt;
  auto c = std::make_shared<Conv2d>(o, gen);
  drl_init(*c, scale, gen);
  return c;
}

std::shared_ptr<Linear> drl_dense(int64_t in, int64_t out, bool spectral, DType dt, Generator& gen) {
  LinearOptions o;
  o.in_features = in;
  o.out_features = out;
  o.spectral_norm = sn(spectral);
  o.dtype = dt;
  auto l = std::make_shared<Linear>(o, gen);
  drl_init(*l, 1.0, gen);
  return l;
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

std::shared_ptr<Generator> derived_generator(Generator& gen) {
  uint64_t offset = gen.reserve(4);
  return std::make_shared<Generator>(splitmix64(gen.seed() ^ splitmix64(offset)), 0);
}

// ------------------------------------------------------------------------------------------
// DrlResBlock

DrlResBlock::DrlResBlock(int64_t c_in, int64_t c_out, int64_t temb_dim,
                         const NetResTemb2Options& o, const std::shared_ptr<Generator>& dropout_gen,
                         Generator& gen)
    : Module("DrlResBlock") {
  // Registration order = the replica's: g, conv1, temb_proj, (dropout), conv2, conv_shortcut.
  g_ = register_parameter("g", Tensor::ones(Shape{c_out}, o.dtype));
  conv1_ = register_module("conv1", drl_conv(c_in, c_out, sn(o.spectral_norm), 1.0, o.dtype, gen));
  temb_proj_ = register_module("temb_proj", drl_dense(temb_dim, c_out, o.spectral_norm, o.dtype, gen));
  dropout_ = register_module("dropout", std::make_shared<Dropout>(o.dropout, dropout_gen));
  // "Zero" init (scale 1e-10) with the capped norm, so the block starts as ≈ the identity.
  conv2_ = register_module(
      "conv2", drl_conv(c_out, c_out, sn(o.spectral_norm, /*capped=*/true), 0.0, o.dtype, gen));
  if (c_in != c_out)
    conv_shortcut_ = register_module(
        "conv_shortcut", drl_conv(c_in, c_out, sn(o.spectral_norm), 1.0, o.dtype, gen));
}

Tensor DrlResBlock::forward(const Tensor& x, const Tensor& temb_act) {
  Tensor h = conv1_->forward(leaky_relu(x, kLeak));
  Tensor tp = temb_proj_->forward(temb_act);                      // [N, C]
  h = add(h, reshape(tp, Shape{tp.size(0), tp.size(1), 1, 1}));   // broadcast over H, W
  h = dropout_->forward(leaky_relu(h, kLeak));
  h = mul(conv2_->forward(h), per_channel(*g_));
  return add(conv_shortcut_ ? conv_shortcut_->forward(x) : x, h);
}

// ------------------------------------------------------------------------------------------
// NetResTemb2

NetResTemb2::NetResTemb2(const NetResTemb2Options& o, Generator& gen) : DrlNet("NetResTemb2"), o_(o) {
  EBM_CHECK(o.in_channels > 0 && o.ch > 0 && !o.ch_mult.empty() && o.num_res_blocks > 0 &&
                o.num_timesteps > 0 && o.dropout >= 0.0 && o.dropout < 1.0,
            ValueError,
            "NetResTemb2: need in_channels, ch, num_res_blocks, num_timesteps > 0, a non-empty "
            "ch_mult and dropout in [0, 1); got in_channels ", o.in_channels, ", ch ", o.ch,
            ", ", o.ch_mult.size(), " levels, num_res_blocks ", o.num_res_blocks,
            ", num_timesteps ", o.num_timesteps, ", dropout ", o.dropout);
  for (int64_t m : o.ch_mult)
    EBM_CHECK(m > 0, ValueError, "NetResTemb2: ch_mult entries must be positive, got ", m);
  std::shared_ptr<Generator> dgen = o.dropout_generator ? o.dropout_generator : derived_generator(gen);
  const int64_t temb_dim = 4 * o.ch;

  temb_ = register_module("temb", std::make_shared<TimestepEmbedding>(o.num_timesteps, o.ch, o.dtype));
  temb_dense_0_ = register_module("temb_dense_0", drl_dense(o.ch, temb_dim, o.spectral_norm, o.dtype, gen));
  temb_dense_1_ = register_module("temb_dense_1", drl_dense(temb_dim, temb_dim, o.spectral_norm, o.dtype, gen));
  // The last time-embedding dense is the one layer without spectral norm.
  temb_dense_2_ = register_module(
      "temb_dense_2", drl_dense(temb_dim, o.ch * o.ch_mult.back(), false, o.dtype, gen));
  conv_in_ = register_module("conv_in", drl_conv(o.in_channels, o.ch, sn(o.spectral_norm), 1.0, o.dtype, gen));

  auto levels = register_module("levels", std::make_shared<ModuleList>());
  int64_t c = o.ch;
  for (int64_t mult : o.ch_mult) {
    auto blocks = levels->push_back(std::make_shared<ModuleList>());
    levels_.emplace_back();
    for (int64_t b = 0; b < o.num_res_blocks; ++b) {
      levels_.back().push_back(
          blocks->push_back(std::make_shared<DrlResBlock>(c, o.ch * mult, temb_dim, o, dgen, gen)));
      c = o.ch * mult;
    }
  }
  set_spectral_norm_schedule(*this, o.sn_schedule);
  set_spectral_norm_iterate_in_eval(*this, o.sn_iterate_in_eval);
}

Tensor NetResTemb2::forward(const Tensor& y, const Tensor& t) {
  const int64_t down = int64_t(1) << (o_.ch_mult.size() - 1);
  EBM_CHECK(y.defined() && y.dim() == 4 && y.size(1) == o_.in_channels && y.size(2) % down == 0 &&
                y.size(3) % down == 0 && y.size(2) > 0 && y.size(3) > 0,
            ShapeError, "NetResTemb2: y must be [N, ", o_.in_channels, ", H, W] with H, W positive "
            "multiples of ", down, " (", o_.ch_mult.size(), " levels), got ",
            y.defined() ? y.description() : std::string("an undefined tensor"));
  EBM_CHECK(t.defined() && t.dtype() == DType::Int64 && t.dim() == 1 && t.size(0) == y.size(0),
            ShapeError, "NetResTemb2: t must be int64 [", y.size(0),
            "] (one noise level per example), got ",
            t.defined() ? t.description() : std::string("an undefined tensor"));

  Tensor temb = temb_dense_0_->forward(temb_->forward(t));  // t range-checked by the gather
  temb = temb_dense_1_->forward(leaky_relu(temb, kLeak));
  Tensor temb_act = leaky_relu(temb, kLeak);  // what every temb_proj and temb_dense_2 read

  Tensor h = conv_in_->forward(y);
  for (size_t l = 0; l < levels_.size(); ++l) {
    for (auto& block : levels_[l]) h = block->forward(h, temb_act);
    if (l + 1 != levels_.size()) h = avg_pool2d(h, 2);
  }
  Tensor u = sum(relu(h), {2, 3});                // [N, C]: sum pooling (final_act = relu)
  Tensor w = temb_dense_2_->forward(temb_act);    // [N, C]
  return sum(mul(u, w), {1});                     // f = <u, w>, [N]
}

// ------------------------------------------------------------------------------------------
// Factory

const std::vector<std::string>& drl_model_names() {
  static const std::vector<std::string> names{"net_res_temb2", "net_res_temb2_small", "wrn28_10",
                                              "wrn_small"};
  return names;
}

namespace {

void check_name(const std::string& name) {
  const auto& names = drl_model_names();
  if (std::find(names.begin(), names.end(), name) != names.end()) return;
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  EBM_THROW(ValueError, "make_drl_model: unknown model '", name, "' (valid: ", list, ")");
}

}  // namespace

NetResTemb2Options net_res_temb2_options(const std::string& name, const DrlModelOptions& f) {
  check_name(name);
  EBM_CHECK(name.rfind("net_res_temb2", 0) == 0, ValueError, "net_res_temb2_options: '", name,
            "' is not a net_res_temb2 model");
  NetResTemb2Options o;
  if (name == "net_res_temb2_small") {
    o.ch = 16;
    o.ch_mult = {1, 2, 2};
    o.num_res_blocks = 1;
  }
  if (f.ch) o.ch = f.ch;
  if (!f.ch_mult.empty()) o.ch_mult = f.ch_mult;
  if (f.num_res_blocks) o.num_res_blocks = f.num_res_blocks;
  o.in_channels = f.in_channels;
  o.num_timesteps = f.num_timesteps;
  o.dropout = f.dropout;
  o.sn_schedule = f.sn_schedule;
  o.sn_iterate_in_eval = f.sn_iterate_in_eval;
  o.dropout_generator = f.dropout_generator;
  o.dtype = f.dtype;
  return o;
}

std::shared_ptr<DrlNet> make_drl_model(const std::string& name, const DrlModelOptions& f,
                                       Generator& gen) {
  check_name(name);
  if (name.rfind("net_res_temb2", 0) == 0)
    return std::make_shared<NetResTemb2>(net_res_temb2_options(name, f), gen);
  WrnOptions o = name == "wrn_small" ? wrn_small_options() : WrnOptions{};
  o.time_embedding = true;  // the DRL port's Wide_ResNet (spec §2.13)
  if (f.depth) o.depth = f.depth;
  if (f.widen_factor) o.widen_factor = f.widen_factor;
  o.norm = f.norm;
  o.in_channels = f.in_channels;
  o.num_timesteps = f.num_timesteps;
  o.dropout = f.dropout;
  o.dropout_generator = f.dropout_generator;
  o.dtype = f.dtype;
  return std::make_shared<WideResNet>(o, gen);
}

}  // namespace ebm::nn
