// Weight initialisers, drawn from the engine's Philox Generator (so an init is reproducible from
// the seed on any device). The rules are PyTorch's and TensorFlow's:
//   default_uniform_   PyTorch's Conv2d/Linear default, kaiming_uniform_(a=sqrt(5)):
//                      U(-b, b) with b = 1/sqrt(fan_in) (also the default bias rule)
//   xavier_uniform_    Glorot & Bengio 2010: U(-b, b), b = gain·sqrt(6/(fan_in + fan_out))
//   variance_scaling_fan_avg_uniform_   TF VarianceScaling(scale, "fan_avg", "uniform"):
//                      b = sqrt(3·scale/((fan_in + fan_out)/2)); scale 1 is Glorot uniform
//                      (DRL's default), scale 1e-10 its "near zero" layers
// Fans of a weight [out, in, k...]: fan_in = in·prod(k), fan_out = out·prod(k) (a TF kernel
// [k..., in, out] has the same fans).
#pragma once

#include <utility>

#include "core/random.h"
#include "core/tensor.h"

namespace ebm::nn {

std::pair<int64_t, int64_t> fan_in_fan_out(const Shape& weight_shape);

void uniform_(Tensor& t, double lo, double hi, Generator& gen);
void normal_(Tensor& t, double mean, double stddev, Generator& gen);
void default_uniform_(Tensor& weight, Generator& gen);
// Bias of a layer whose weight has fan_in inputs (PyTorch: U(-1/sqrt(fan_in), 1/sqrt(fan_in))).
void default_bias_uniform_(Tensor& bias, int64_t fan_in, Generator& gen);
void xavier_uniform_(Tensor& weight, Generator& gen, double gain = 1.0);
void variance_scaling_fan_avg_uniform_(Tensor& weight, double scale, Generator& gen);

}  // namespace ebm::nn
