// IGEBM ResNet32 / ResNet32Large / ResNet32Wider / small (see igebm_models.h and
// ../shared/specs/igebm-drl.md §1.3): architecture tables, the residual block, the network and
// the factory.
#include "nn/igebm_models.h"

#include <algorithm>

#include "autograd/ops.h"
#include "core/philox.h"
#include "nn/embedding.h"
#include "nn/init.h"

namespace ebm::nn {

namespace {

constexpr double kLeakySlope = 0.2;      // TF's leaky_relu default, used by every IGEBM block
constexpr double kZeroInitStd = 1e-10;   // conv2 of each block (utils.get_weight, zero=True)

std::string valid_names() {
  std::string s;
  for (const auto& n : igebm_model_names()) s += (s.empty() ? "" : ", ") + n;
  return s;
}

// The conv of the spec: 3×3, stride 1, SAME padding, no bias, spectrally normalised.
Conv2dOptions sn_conv(int64_t in, int64_t out, bool capped, DType dtype) {
  Conv2dOptions o;
  o.in_channels = in;
  o.out_channels = out;
  o.kernel = 3;
  o.stride = 1;
  o.padding = 1;
  o.bias = false;
  o.spectral_norm.enabled = true;
  o.spectral_norm.capped = capped;
  o.dtype = dtype;
  return o;
}

std::shared_ptr<Conv2d> make_sn_conv(int64_t in, int64_t out, bool capped, double stddev,
                                     DType dtype, Generator& gen) {
  auto conv = std::make_shared<Conv2d>(sn_conv(in, out, capped, dtype), gen);
  normal_(conv->raw_weight(), 0.0, stddev, gen);
  return conv;
}

// A 64-bit seed for the model's own dropout stream, drawn from the init generator.
uint64_t derive_seed(Generator& gen) {
  uint64_t w = gen.reserve(2);
  return (static_cast<uint64_t>(philox::word(gen.seed(), w)) << 32) |
         philox::word(gen.seed(), w + 1);
}

}  // namespace

// ------------------------------------------------------------------ architecture tables

const std::vector<std::string>& igebm_model_names() {
  static const std::vector<std::string> names{"resnet32", "resnet32_large", "resnet32_wider",
                                              "resnet32_small"};
  return names;
}

IgebmArch igebm_architecture(const std::string& name, const IgebmModelOptions& o) {
  auto it = std::find(igebm_model_names().begin(), igebm_model_names().end(), name);
  EBM_CHECK(it != igebm_model_names().end(), ValueError, "make_igebm_model: unknown model '",
            name, "'; valid names: ", valid_names());
  EBM_CHECK(o.in_channels > 0, ValueError, "make_igebm_model(", name,
            "): in_channels must be positive, got ", o.in_channels);
  EBM_CHECK(o.image_size >= 8, ValueError, "make_igebm_model(", name,
            "): image_size must be >= 8 (three 2× downsamples), got ", o.image_size);
  EBM_CHECK(o.num_classes >= -1, ValueError, "make_igebm_model(", name,
            "): num_classes must be -1 (default), 0 (unconditional) or positive, got ",
            o.num_classes);
  EBM_CHECK(o.num_filters >= 0, ValueError, "make_igebm_model(", name,
            "): num_filters must be positive (or 0 for the default), got ", o.num_filters);
  EBM_CHECK(o.dropout < 1.0, ValueError, "make_igebm_model(", name,
            "): dropout must be < 1 (or negative for the default), got ", o.dropout);

  IgebmArch a;
  a.name = name;
  a.in_channels = o.in_channels;
  a.image_size = o.image_size;
  const bool large = name == "resnet32_large", wider = name == "resnet32_wider";
  int64_t f = o.num_filters > 0 ? o.num_filters : wider ? 192 : name == "resnet32_small" ? 32 : 128;
  a.num_classes = o.num_classes >= 0 ? o.num_classes : large ? 0 : 10;
  a.dropout = o.dropout >= 0 ? o.dropout : large ? 0.5 : 0.0;

  // {in, out, downsample, adaptive}, block by block as models.py builds them.
  if (large || wider) {
    // ResNet32Wider: stem fixed at 128, res_optim always adaptive (128 -> f).
    a.stem_channels = wider ? 128 : f;
    a.blocks = {{a.stem_channels, f, true, wider}, {f, f, false, false},
                {f, f, false, false},              {f, 2 * f, true, true},
                {2 * f, 2 * f, false, false},      {2 * f, 2 * f, false, false},
                {2 * f, 4 * f, true, true},        {4 * f, 4 * f, false, false},
                {4 * f, 4 * f, false, false}};
    // ResNet32Large's head is LeakyReLU when conditional (models.py: `if FLAGS.cclass`).
    a.head_act = large && a.num_classes > 0 ? IgebmHeadAct::LeakyRelu : IgebmHeadAct::Relu;
  } else {  // resnet32, resnet32_small
    a.stem_channels = f;
    a.blocks = {{f, f, true, false},         {f, f, false, false},
                {f, 2 * f, true, true},      {2 * f, 2 * f, false, false},
                {2 * f, 2 * f, true, false}, {2 * f, 2 * f, false, false}};
    a.head_act = IgebmHeadAct::Relu;
  }
  return a;
}

// ------------------------------------------------------------------ residual block

IgebmResBlock::IgebmResBlock(const IgebmBlockSpec& s, int64_t num_classes, double dropout,
                             DType dtype, Generator& gen, std::shared_ptr<Generator> dropout_gen)
    : Module("IgebmResBlock"), spec_(s), num_classes_(num_classes) {
  EBM_CHECK(s.in_channels > 0 && s.out_channels > 0, ValueError,
            "IgebmResBlock: channels must be positive, got ", s.in_channels, " -> ",
            s.out_channels);
  EBM_CHECK(s.adaptive || s.in_channels == s.out_channels, ValueError,
            "IgebmResBlock: an identity skip needs in == out channels, got ", s.in_channels,
            " -> ", s.out_channels);
  auto vec = [&](int64_t c) {
    return num_classes > 0 ? Shape{num_classes, c} : Shape{c};
  };
  // Own parameters first (state_dict order), as the replica registers them.
  gb1_ = register_parameter("gb1", Tensor::zeros(vec(s.in_channels), dtype));
  gb2_ = register_parameter("gb2", Tensor::zeros(vec(s.out_channels), dtype));
  g2_ = register_parameter("g2", Tensor::ones(vec(s.out_channels), dtype));
  if (num_classes > 0) cb2_ = register_parameter("cb2", Tensor::zeros(Shape{s.out_channels}, dtype));

  conv1_ = register_module("conv1", make_sn_conv(s.in_channels, s.out_channels, false, 1.0, dtype, gen));
  if (dropout > 0) dropout_ = register_module("dropout", std::make_shared<Dropout>(dropout, std::move(dropout_gen)));
  conv2_ = register_module("conv2", make_sn_conv(s.out_channels, s.out_channels, true, kZeroInitStd, dtype, gen));
  if (s.adaptive)
    skip_ = register_module("skip", make_sn_conv(s.in_channels, s.out_channels, false, 1.0, dtype, gen));
}

Tensor IgebmResBlock::per_class(const Tensor& p, const Tensor& labels) const {
  return num_classes_ > 0 ? rows_for_labels(p, labels) : per_channel(p);
}

Tensor IgebmResBlock::forward(const Tensor& x, const Tensor& labels) {
  Tensor h = conv1_->forward(x + per_class(*gb1_, labels));
  if (dropout_) h = dropout_->forward(h);
  h = leaky_relu(h, kLeakySlope);
  Tensor gain = per_class(*g2_, labels);
  if (cb2_) gain = gain + per_channel(*cb2_);
  h = conv2_->forward(h + per_class(*gb2_, labels)) * gain;
  Tensor r = h + (skip_ ? skip_->forward(x) : x);
  if (spec_.downsample) r = avg_pool2d(r, 2, 2);
  return leaky_relu(r, kLeakySlope);
}

// ------------------------------------------------------------------ network

IgebmResNet::IgebmResNet(const IgebmArch& arch, Generator& gen, DType dtype,
                         SpectralNormSchedule sn_schedule, std::shared_ptr<Generator> dropout_gen)
    : Module("IgebmResNet"), arch_(arch), dropout_gen_(std::move(dropout_gen)) {
  EBM_CHECK(dtype == DType::Float32 || dtype == DType::Float64, DTypeError, "IgebmResNet(",
            arch.name, "): dtype must be float32 or float64, got ", dtype_name(dtype));
  EBM_CHECK(!arch.blocks.empty() && arch.blocks.front().in_channels == arch.stem_channels,
            ValueError, "IgebmResNet(", arch.name, "): the first block must take the stem's ",
            arch.stem_channels, " channels");
  if (!dropout_gen_) dropout_gen_ = std::make_shared<Generator>(derive_seed(gen));

  stem_ = register_module("stem", make_sn_conv(arch.in_channels, arch.stem_channels, false, 1.0, dtype, gen));
  auto list = std::make_shared<ModuleList>();
  for (const IgebmBlockSpec& s : arch.blocks) {
    blocks_.push_back(std::make_shared<IgebmResBlock>(s, arch.num_classes, arch.dropout, dtype,
                                                      gen, dropout_gen_));
    list->push_back(blocks_.back());
  }
  block_list_ = register_module("blocks", std::static_pointer_cast<Module>(list));

  LinearOptions lo;
  lo.in_features = arch.out_channels();
  lo.out_features = 1;
  lo.bias = true;
  lo.dtype = dtype;
  fc_ = register_module("fc", std::make_shared<Linear>(lo, gen));
  xavier_uniform_(fc_->raw_weight(), gen);
  fc_->bias()->detach().fill_(0.0);

  set_spectral_norm_schedule(sn_schedule);
}

void IgebmResNet::check_inputs(const Tensor& x, const Tensor& labels) const {
  const std::string who = str(arch_.name, ".forward");
  EBM_CHECK(x.defined(), ValueError, who, ": x is undefined");
  EBM_CHECK(x.dim() == 4 && x.size(1) == arch_.in_channels && x.size(2) == arch_.image_size &&
                x.size(3) == arch_.image_size,
            ShapeError, who, ": x must be [N, ", arch_.in_channels, ", ", arch_.image_size, ", ",
            arch_.image_size, "], got ", x.description());
  if (arch_.num_classes > 0) {
    EBM_CHECK(labels.defined(), ValueError, who, ": the model is class-conditional (",
              arch_.num_classes, " classes) and needs labels int64 [N]");
    EBM_CHECK(labels.dtype() == DType::Int64 && labels.dim() == 1 && labels.size(0) == x.size(0),
              ShapeError, who, ": labels must be int64 [", x.size(0), "], got ",
              labels.description());
  } else {
    EBM_CHECK(!labels.defined(), ValueError, who,
              ": the model is unconditional but labels were given (", labels.description(), ")");
  }
}

Tensor IgebmResNet::forward(const Tensor& x, const Tensor& labels) {
  check_inputs(x, labels);
  Tensor h = leaky_relu(stem_->forward(x), kLeakySlope);
  for (auto& b : blocks_) h = b->forward(h, labels);
  h = arch_.head_act == IgebmHeadAct::Relu ? relu(h) : leaky_relu(h, kLeakySlope);
  Tensor pooled = sum(h, {2, 3});  // global SUM pooling [N, C]
  Tensor e = fc_->forward(pooled);  // [N, 1]
  return reshape(e, Shape{e.size(0)});
}

void IgebmResNet::refresh_spectral_norm() { nn::refresh_spectral_norm(*this); }

void IgebmResNet::set_spectral_norm_schedule(SpectralNormSchedule s) {
  nn::set_spectral_norm_schedule(*this, s);
}

int64_t IgebmResNet::num_conv_weights() {
  int64_t n = 0;
  for (auto& [name, m] : named_modules())
    if (auto* conv = dynamic_cast<Conv2d*>(m)) n += conv->raw_weight().numel();
  return n;
}

std::shared_ptr<IgebmResNet> make_igebm_model(const std::string& name,
                                              const IgebmModelOptions& options, Generator& gen) {
  IgebmArch arch = igebm_architecture(name, options);
  return std::make_shared<IgebmResNet>(arch, gen, options.dtype, options.sn_schedule,
                                       options.dropout_generator);
}

}  // namespace ebm::nn
