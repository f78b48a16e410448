// JEM's Wide ResNet with the DRL port's optional time embedding (see wrn.h; specs
// gebm-jem-mebm.md §2.3, igebm-drl.md §2.13).
#include "nn/wrn.h"

#include "autograd/ops.h"

namespace ebm::nn {

namespace {

std::shared_ptr<Conv2d> conv(int64_t c_in, int64_t c_out, int kernel, int stride, DType dt,
                             Generator& gen) {
  Conv2dOptions o;
  o.in_channels = c_in;
  o.out_channels = c_out;
  o.kernel = kernel;
  o.stride = stride;
  o.padding = kernel / 2;
  o.dtype = dt;
  return std::make_shared<Conv2d>(o, gen);
}

std::shared_ptr<Linear> dense(int64_t in, int64_t out, DType dt, Generator& gen) {
  LinearOptions o;
  o.in_features = in;
  o.out_features = out;
  o.dtype = dt;
  return std::make_shared<Linear>(o, gen);
}

std::shared_ptr<BatchNorm2d> norm(int64_t c, const WrnOptions& o) {
  if (o.norm == WrnNorm::None) return nullptr;
  BatchNorm2dOptions b;
  b.num_features = c;
  b.momentum = o.bn_momentum;
  b.dtype = o.dtype;
  return std::make_shared<BatchNorm2d>(b);
}

// The shortcut's container: JEM's nn.Sequential(conv), so the conv is named "shortcut.0".
class Shortcut : public Module {
 public:
  explicit Shortcut(std::shared_ptr<Conv2d> c) : Module("Sequential") { register_module("0", std::move(c)); }
};

}  // namespace

WrnOptions wrn_small_options() {
  WrnOptions o;
  o.depth = 10;
  o.widen_factor = 1;
  o.base_width = 8;
  o.temb_ch = 32;
  o.temb_hidden = 64;
  return o;
}

// ------------------------------------------------------------------------------------------
// WideBasic

WideBasic::WideBasic(int64_t c_in, int64_t c_out, int stride, const WrnOptions& o,
                     const std::shared_ptr<Generator>& dropout_gen, Generator& gen)
    : Module("wide_basic"), leak_(o.leak) {
  // Registration order = JEM's / the port's: bn1, conv1, dropout, bn2, conv2, temb_dense, shortcut.
  if ((bn1_ = norm(c_in, o))) register_module("bn1", bn1_);
  conv1_ = register_module("conv1", conv(c_in, c_out, 3, 1, o.dtype, gen));
  if (o.dropout > 0) dropout_ = register_module("dropout", std::make_shared<Dropout>(o.dropout, dropout_gen));
  if ((bn2_ = norm(c_out, o))) register_module("bn2", bn2_);
  conv2_ = register_module("conv2", conv(c_out, c_out, 3, stride, o.dtype, gen));
  if (o.time_embedding) temb_dense_ = register_module("temb_dense", dense(o.temb_hidden, c_out, o.dtype, gen));
  if (stride != 1 || c_in != c_out) {
    shortcut_ = conv(c_in, c_out, 1, stride, o.dtype, gen);
    register_module("shortcut", std::make_shared<Shortcut>(shortcut_));
  }
}

Tensor WideBasic::forward(const Tensor& x, const Tensor& temb) {
  Tensor h = conv1_->forward(leaky_relu(bn1_ ? bn1_->forward(x) : x, leak_));
  if (temb_dense_) {
    EBM_CHECK(temb.defined(), ValueError, "wide_basic: this block is time-conditioned and needs temb");
    Tensor e = leaky_relu(temb_dense_->forward(temb), leak_);  // [N, C]
    h = add(h, reshape(e, Shape{e.size(0), e.size(1), 1, 1}));
  }
  if (dropout_) h = dropout_->forward(h);
  h = conv2_->forward(leaky_relu(bn2_ ? bn2_->forward(h) : h, leak_));
  return add(h, shortcut_ ? shortcut_->forward(x) : x);
}

// ------------------------------------------------------------------------------------------
// WideResNet

WideResNet::WideResNet(const WrnOptions& o, Generator& gen) : DrlNet("Wide_ResNet"), o_(o) {
  EBM_CHECK(o.depth >= 10 && (o.depth - 4) % 6 == 0, ValueError,
            "WideResNet: depth must be 6n+4 with n >= 1 (10, 16, 22, 28, ...), got ", o.depth);
  EBM_CHECK(o.widen_factor > 0 && o.base_width > 0 && o.num_classes > 0 && o.in_channels > 0 &&
                o.dropout >= 0 && o.dropout < 1 && o.num_timesteps > 0 && o.temb_ch >= 4 &&
                o.temb_ch % 2 == 0 && o.temb_hidden > 0,
            ValueError, "WideResNet: need positive widen_factor, base_width, num_classes, "
            "in_channels, num_timesteps, temb_hidden, an even temb_ch >= 4 and dropout in [0, 1); "
            "got widen ", o.widen_factor, ", base ", o.base_width, ", classes ", o.num_classes,
            ", in ", o.in_channels, ", T ", o.num_timesteps, ", temb ", o.temb_ch, "/",
            o.temb_hidden, ", dropout ", o.dropout);
  const int64_t n = (o.depth - 4) / 6, b = o.base_width, k = o.widen_factor;
  const int64_t widths[3] = {b * k, 2 * b * k, 4 * b * k};
  std::shared_ptr<Generator> dgen;
  if (o.dropout > 0) dgen = o.dropout_generator ? o.dropout_generator : derived_generator(gen);

  conv1_ = register_module("conv1", conv(o.in_channels, b, 3, 1, o.dtype, gen));
  int64_t c = b;
  for (int s = 0; s < 3; ++s) {
    auto layer = register_module("layer" + std::to_string(s + 1), std::make_shared<ModuleList>());
    for (int64_t i = 0; i < n; ++i) {
      int stride = (i == 0 && s > 0) ? 2 : 1;
      blocks_.push_back(layer->push_back(std::make_shared<WideBasic>(c, widths[s], stride, o, dgen, gen)));
      c = widths[s];
    }
  }
  last_dim_ = c;
  if ((bn1_ = norm(c, o))) register_module("bn1", bn1_);
  linear_ = register_module("linear", dense(c, o.num_classes, o.dtype, gen));
  if (o.time_embedding) {
    temb_ = register_module("temb", std::make_shared<TimestepEmbedding>(o.num_timesteps, o.temb_ch, o.dtype));
    temb_dense_0_ = register_module("temb_dense_0", dense(o.temb_ch, o.temb_hidden, o.dtype, gen));
    temb_dense_1_ = register_module("temb_dense_1", dense(o.temb_hidden, o.temb_hidden, o.dtype, gen));
    temb_dense_2_ = register_module("temb_dense_2", dense(o.temb_hidden, c, o.dtype, gen));
  }
}

Tensor WideResNet::features(const Tensor& x, const Tensor& t) {
  EBM_CHECK(x.defined() && x.dim() == 4 && x.size(1) == o_.in_channels && x.size(2) == 32 &&
                x.size(3) == 32,
            ShapeError, "WideResNet: x must be [N, ", o_.in_channels,
            ", 32, 32] (the head average-pools the final 8x8 map, as JEM's avg_pool2d(8)), got ",
            x.defined() ? x.description() : std::string("an undefined tensor"));
  Tensor temb;
  if (o_.time_embedding) {
    EBM_CHECK(t.defined() && t.dtype() == DType::Int64 && t.dim() == 1 && t.size(0) == x.size(0),
              ShapeError, "WideResNet (time-conditioned): t must be int64 [", x.size(0),
              "] (one noise level per example), got ",
              t.defined() ? t.description() : std::string("an undefined tensor"));
    temb = temb_dense_0_->forward(temb_->forward(t));
    temb = temb_dense_1_->forward(leaky_relu(temb, o_.leak));
  } else {
    EBM_CHECK(!t.defined(), ValueError,
              "WideResNet: built without time embedding, so t must be undefined, got ",
              t.description());
  }
  Tensor h = conv1_->forward(x);
  for (auto& block : blocks_) h = block->forward(h, temb);
  if (bn1_) h = bn1_->forward(h);
  h = flatten(avg_pool2d(leaky_relu(h, o_.leak), 8));  // [N, C]
  if (o_.time_embedding) h = mul(h, temb_dense_2_->forward(leaky_relu(temb, o_.leak)));
  return h;
}

Tensor WideResNet::forward(const Tensor& x, const Tensor& t) {
  Tensor h = features(x, t);
  return o_.time_embedding ? sum(h, {1}) : linear_->forward(h);
}

// ------------------------------------------------------------------------------------------
// JemWrn

JemWrn::JemWrn(const WrnOptions& o, Generator& gen) : Module("F") {
  EBM_CHECK(!o.time_embedding, ValueError, "JemWrn: JEM's network has no time embedding");
  f_ = register_module("f", std::make_shared<WideResNet>(o, gen));
  energy_output_ = register_module("energy_output", dense(f_->last_dim(), 1, o.dtype, gen));
  class_output_ = register_module("class_output", dense(f_->last_dim(), o.num_classes, o.dtype, gen));
}

Tensor JemWrn::forward(const Tensor& x) { return class_output_->forward(f_->features(x)); }

Tensor JemWrn::energy(const Tensor& x) { return energy_from_logits(forward(x)); }

Tensor JemWrn::uncond_f(const Tensor& x) {
  Tensor e = energy_output_->forward(f_->features(x));  // [N, 1]
  return reshape(e, Shape{e.size(0)});
}

Tensor energy_from_logits(const Tensor& logits) {
  EBM_CHECK(logits.defined() && logits.dim() == 2, ShapeError,
            "energy_from_logits: logits must be [N, K], got ",
            logits.defined() ? logits.description() : std::string("an undefined tensor"));
  return neg(logsumexp(logits, {1}));
}

}  // namespace ebm::nn
