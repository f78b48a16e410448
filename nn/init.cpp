// Weight initialisers (see init.h for the rules and their sources).
#include "nn/init.h"

#include <cmath>

#include "core/ops/random.h"

namespace ebm::nn {

std::pair<int64_t, int64_t> fan_in_fan_out(const Shape& s) {
  EBM_CHECK(s.ndim() >= 2, ShapeError, "init: fans need a weight of rank >= 2 ([out, in, ...]), got ",
            s);
  int64_t receptive = 1;
  for (int i = 2; i < s.ndim(); ++i) receptive *= s.size(i);
  return {s.size(1) * receptive, s.size(0) * receptive};
}

void uniform_(Tensor& t, double lo, double hi, Generator& gen) { ops::fill_uniform_(t, gen, lo, hi); }

void normal_(Tensor& t, double mean, double stddev, Generator& gen) {
  ops::fill_normal_(t, gen, mean, stddev);
}

void default_uniform_(Tensor& weight, Generator& gen) {
  double b = 1.0 / std::sqrt(static_cast<double>(fan_in_fan_out(weight.shape()).first));
  uniform_(weight, -b, b, gen);
}

void default_bias_uniform_(Tensor& bias, int64_t fan_in, Generator& gen) {
  double b = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
  uniform_(bias, -b, b, gen);
}

void xavier_uniform_(Tensor& weight, Generator& gen, double gain) {
  auto [fi, fo] = fan_in_fan_out(weight.shape());
  double b = gain * std::sqrt(6.0 / static_cast<double>(fi + fo));
  uniform_(weight, -b, b, gen);
}

void variance_scaling_fan_avg_uniform_(Tensor& weight, double scale, Generator& gen) {
  auto [fi, fo] = fan_in_fan_out(weight.shape());
  double b = std::sqrt(3.0 * scale / (static_cast<double>(fi + fo) / 2.0));
  uniform_(weight, -b, b, gen);
}

}  // namespace ebm::nn
