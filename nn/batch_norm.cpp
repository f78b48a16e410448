// BatchNorm2d forward in differentiable ops; running statistics updated without recording.
#include "nn/batch_norm.h"

#include "autograd/ops.h"
#include "nn/layers.h"

namespace ebm::nn {

BatchNorm2d::BatchNorm2d(const BatchNorm2dOptions& o) : Module("BatchNorm2d"), o_(o) {
  EBM_CHECK(o.num_features > 0 && o.eps > 0 && o.momentum >= 0 && o.momentum <= 1, ValueError,
            "BatchNorm2d: need num_features > 0, eps > 0, momentum in [0, 1]; got ",
            o.num_features, ", ", o.eps, ", ", o.momentum);
  Shape c{o.num_features};
  if (o.affine) {
    weight_ = register_parameter("weight", Tensor::ones(c, o.dtype));
    bias_ = register_parameter("bias", Tensor::zeros(c, o.dtype));
  }
  running_mean_ = register_buffer("running_mean", Tensor::zeros(c, o.dtype));
  running_var_ = register_buffer("running_var", Tensor::ones(c, o.dtype));
  num_batches_tracked_ = register_buffer("num_batches_tracked", Tensor::zeros(Shape{}, DType::Int64));
}

void BatchNorm2d::on_mode_changed() {
  // The step counter stays on the host, so counting a batch never waits on the device.
  if (!num_batches_tracked_->device().is_cpu())
    *num_batches_tracked_ = num_batches_tracked_->to(Device::cpu());
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  EBM_CHECK(x.dim() == 4 && x.size(1) == o_.num_features, ShapeError,
            "BatchNorm2d: expected [N, ", o_.num_features, ", H, W], got ", x.description());
  Tensor y;
  if (is_training()) {
    int64_t n = x.numel() / o_.num_features;
    EBM_CHECK(n > 1, ShapeError,
              "BatchNorm2d: training needs more than one value per channel, got ",
              x.description());
    Tensor mean_c = mean(x, {0, 2, 3});
    Tensor xc = sub(x, per_channel(mean_c));
    Tensor var_c = mean(square(xc), {0, 2, 3});  // biased, as used for normalising
    y = div(xc, sqrt(affine(per_channel(var_c), 1.0, o_.eps)));
    NoGradGuard no_grad;
    double m = o_.momentum;
    Tensor new_mean = affine(*running_mean_, 1.0 - m, 0.0) + affine(mean_c.detach(), m, 0.0);
    Tensor new_var = affine(*running_var_, 1.0 - m, 0.0) +
                     affine(var_c.detach(), m * static_cast<double>(n) / (n - 1), 0.0);
    running_mean_->copy_(new_mean);
    running_var_->copy_(new_var);
    num_batches_tracked_->data<int64_t>()[0] += 1;  // host-resident (see on_mode_changed)
    num_batches_tracked_->bump_version();
  } else {
    y = div(sub(x, per_channel(*running_mean_)),
            sqrt(affine(per_channel(*running_var_), 1.0, o_.eps)));
  }
  if (weight_) y = add(mul(y, per_channel(*weight_)), per_channel(*bias_));
  return y;
}

}  // namespace ebm::nn
