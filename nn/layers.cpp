// Conv2d, Linear and Dropout (see layers.h).
#include "nn/layers.h"

#include "nn/flops.h"
#include "nn/init.h"

namespace ebm::nn {

Tensor per_channel(const Tensor& v) { return reshape(v, Shape{1, v.numel(), 1, 1}); }

Conv2d::Conv2d(const Conv2dOptions& o, Generator& gen) : Module("Conv2d"), o_(o) {
  EBM_CHECK(o.in_channels > 0 && o.out_channels > 0 && o.kernel > 0 && o.stride > 0 &&
                o.padding >= 0,
            ValueError, "Conv2d: need positive channels/kernel/stride and padding >= 0, got in ",
            o.in_channels, ", out ", o.out_channels, ", kernel ", o.kernel, ", stride ", o.stride,
            ", padding ", o.padding);
  Tensor w = Tensor::empty(Shape{o.out_channels, o.in_channels, o.kernel, o.kernel}, o.dtype);
  default_uniform_(w, gen);
  Tensor b;
  if (o.bias) {
    b = Tensor::empty(Shape{o.out_channels}, o.dtype);
    default_bias_uniform_(b, o.in_channels * o.kernel * o.kernel, gen);
  }
  if (o.spectral_norm.enabled) {
    if (b.defined()) b_ = register_parameter("bias", b);
    w_ = register_parameter("weight_orig", w);
    Tensor* u = register_buffer("weight_u", Tensor());  // u before v, as PyTorch registers
    Tensor* v = register_buffer("weight_v", Tensor());
    sn_ = std::make_unique<SpectralNorm>(o.spectral_norm, w_, u, v, gen);
  } else {
    w_ = register_parameter("weight", w);
    if (b.defined()) b_ = register_parameter("bias", b);
  }
}

void Conv2d::on_mode_changed() {
  if (sn_) sn_->clear_cache();
}

Tensor Conv2d::weight() { return sn_ ? sn_->weight(is_training()) : *w_; }

Tensor Conv2d::forward(const Tensor& x) {
  Tensor y = conv2d(x, weight(), b_ ? *b_ : Tensor(), o_.stride, o_.padding);
  FlopCounter::add(2 * y.numel() * o_.in_channels * o_.kernel * o_.kernel);
  return y;
}

Linear::Linear(const LinearOptions& o, Generator& gen) : Module("Linear"), o_(o) {
  EBM_CHECK(o.in_features > 0 && o.out_features > 0, ValueError,
            "Linear: need positive in/out features, got ", o.in_features, " -> ", o.out_features);
  Tensor w = Tensor::empty(Shape{o.out_features, o.in_features}, o.dtype);
  default_uniform_(w, gen);
  Tensor b;
  if (o.bias) {
    b = Tensor::empty(Shape{o.out_features}, o.dtype);
    default_bias_uniform_(b, o.in_features, gen);
  }
  if (o.spectral_norm.enabled) {
    if (b.defined()) b_ = register_parameter("bias", b);
    w_ = register_parameter("weight_orig", w);
    Tensor* u = register_buffer("weight_u", Tensor());  // u before v, as PyTorch registers
    Tensor* v = register_buffer("weight_v", Tensor());
    sn_ = std::make_unique<SpectralNorm>(o.spectral_norm, w_, u, v, gen);
  } else {
    w_ = register_parameter("weight", w);
    if (b.defined()) b_ = register_parameter("bias", b);
  }
}

void Linear::on_mode_changed() {
  if (sn_) sn_->clear_cache();
}

Tensor Linear::weight() { return sn_ ? sn_->weight(is_training()) : *w_; }

Tensor Linear::forward(const Tensor& x) {
  Tensor y = linear(x, weight(), b_ ? *b_ : Tensor());
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
