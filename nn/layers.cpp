// Conv2d, Linear and Dropout (see layers.h).
#include "nn/layers.h"

#include "nn/flops.h"
#include "nn/init.h"

namespace ebm::nn {

Tensor per_channel(const Tensor& v) { return reshape(v, Shape{1, v.numel(), 1, 1}); }

WeightedLayer::WeightedLayer(const std::string& type_name, Tensor w, Tensor b,
                             const SpectralNormOptions& sn, Generator& gen)
    : Module(type_name) {
  if (sn.enabled) {
    if (b.defined()) b_ = register_parameter("bias", b);
    w_ = register_parameter("weight_orig", w);
    Tensor* u = register_buffer("weight_u", Tensor());
    Tensor* v = register_buffer("weight_v", Tensor());
    sn_ = std::make_unique<SpectralNorm>(sn, w_, u, v, gen);
  } else {
    w_ = register_parameter("weight", w);
    if (b.defined()) b_ = register_parameter("bias", b);
  }
}

void WeightedLayer::on_mode_changed() {
  if (sn_) sn_->clear_cache();
}

Tensor WeightedLayer::weight() { return sn_ ? sn_->weight(is_training()) : *w_; }

namespace {

// PyTorch's default initialisation of a weight [out, in, ...] and its bias [out].
std::pair<Tensor, Tensor> default_init(const Shape& w_shape, bool bias, DType dtype, Generator& gen) {
  Tensor w = Tensor::empty(w_shape, dtype);
  default_uniform_(w, gen);
  Tensor b;
  if (bias) {
    b = Tensor::empty(Shape{w_shape.size(0)}, dtype);
    default_bias_uniform_(b, fan_in_fan_out(w_shape).first, gen);
  }
  return {w, b};
}

std::pair<Tensor, Tensor> initial_weights(const Conv2dOptions& o, Generator& gen) {
  EBM_CHECK(o.in_channels > 0 && o.out_channels > 0 && o.kernel > 0 && o.stride > 0 &&
                o.padding >= 0,
            ValueError, "Conv2d: need positive channels/kernel/stride and padding >= 0, got in ",
            o.in_channels, ", out ", o.out_channels, ", kernel ", o.kernel, ", stride ", o.stride,
            ", padding ", o.padding);
  return default_init(Shape{o.out_channels, o.in_channels, o.kernel, o.kernel}, o.bias, o.dtype, gen);
}

std::pair<Tensor, Tensor> initial_weights(const LinearOptions& o, Generator& gen) {
  EBM_CHECK(o.in_features > 0 && o.out_features > 0, ValueError,
            "Linear: need positive in/out features, got ", o.in_features, " -> ", o.out_features);
  return default_init(Shape{o.out_features, o.in_features}, o.bias, o.dtype, gen);
}

}  // namespace

Conv2d::Conv2d(const Conv2dOptions& o, Generator& gen) : Conv2d(o, initial_weights(o, gen), gen) {}

Conv2d::Conv2d(const Conv2dOptions& o, std::pair<Tensor, Tensor> wb, Generator& gen)
    : WeightedLayer("Conv2d", wb.first, wb.second, o.spectral_norm, gen), o_(o) {}

Tensor Conv2d::forward(const Tensor& x) {
  Tensor* b = bias();
  Tensor y = conv2d(x, weight(), b ? *b : Tensor(), o_.stride, o_.padding);
  FlopCounter::add(2 * y.numel() * o_.in_channels * o_.kernel * o_.kernel);
  return y;
}

Linear::Linear(const LinearOptions& o, Generator& gen) : Linear(o, initial_weights(o, gen), gen) {}

Linear::Linear(const LinearOptions& o, std::pair<Tensor, Tensor> wb, Generator& gen)
    : WeightedLayer("Linear", wb.first, wb.second, o.spectral_norm, gen), o_(o) {}

Tensor Linear::forward(const Tensor& x) {
  Tensor* b = bias();
  Tensor y = linear(x, weight(), b ? *b : Tensor());
  FlopCounter::add(2 * y.numel() * o_.in_features);
  return y;
}

Dropout::Dropout(double p, std::shared_ptr<Generator> gen)
    : Module("Dropout"), p_(p), gen_(std::move(gen)) {
  EBM_CHECK(p >= 0.0 && p <= 1.0, ValueError, "Dropout: p must lie in [0, 1], got ", p);
  EBM_CHECK(gen_ != nullptr, ValueError, "Dropout: needs a generator");
}

Tensor Dropout::forward(const Tensor& x) { return dropout(x, p_, is_training(), *gen_); }

}  // namespace ebm::nn
