// Tensor → 8-bit image grid (see image_grid.h).
#include "core/io/image_grid.h"

#include <algorithm>
#include <cmath>

namespace ebm::io {

uint8_t to_byte(double x, double lo, double hi, Quantize q) {
  if (q == Quantize::Truncate) {
    const float v = (static_cast<float>(x) - static_cast<float>(lo)) * static_cast<float>(255.0 / (hi - lo));
    if (!(v >= 0.0f)) return 0;  // also NaN (TF's cast of a clipped NaN is unspecified; 0 here)
    return static_cast<uint8_t>(std::min(v, 255.0f));
  }
  double v = std::floor((x - lo) / (hi - lo) * 255.0 + 0.5);
  if (!(v >= 0)) return 0;  // also NaN
  return static_cast<uint8_t>(std::min(v, 255.0));
}

namespace {

void check_batch(const Tensor& images, double lo, double hi, const char* op) {
  check_defined(images, op, "images");
  EBM_CHECK(images.dim() == 4 && (images.size(1) == 1 || images.size(1) == 3) &&
                images.size(0) > 0,
            ShapeError, op, ": images must be [N, 1 or 3, H, W] with N > 0, got ",
            images.description());
  EBM_CHECK(hi > lo, ValueError, op, ": need hi > lo, got [", lo, ", ", hi, "]");
}

}  // namespace

Image8 make_grid(const Tensor& images, double lo, double hi, int columns, int padding,
                 uint8_t pad_value) {
  check_batch(images, lo, hi, "make_grid");
  EBM_CHECK(columns > 0 && padding >= 0, ValueError,
            "make_grid: need columns > 0 and padding >= 0, got ", columns, ", ", padding);
  std::vector<float> v = images.to(Device::cpu()).to_vector<float>();
  int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  int64_t cols = std::min<int64_t>(columns, n), rows = (n + cols - 1) / cols;
  Image8 g;
  g.channels = static_cast<int>(c);
  g.height = rows * (h + padding) + padding;
  g.width = cols * (w + padding) + padding;
  g.data.assign(static_cast<size_t>(g.height * g.width * c), pad_value);
  for (int64_t i = 0; i < n; ++i) {
    int64_t y0 = padding + (i / cols) * (h + padding), x0 = padding + (i % cols) * (w + padding);
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x)
          g.data[((y0 + y) * g.width + x0 + x) * c + ch] =
              to_byte(v[((i * c + ch) * h + y) * w + x], lo, hi);
  }
  return g;
}

std::vector<uint8_t> to_uint8_nhwc(const Tensor& images, double lo, double hi, Quantize q) {
  check_batch(images, lo, hi, "to_uint8_nhwc");
  std::vector<float> v = images.to(Device::cpu()).to_vector<float>();
  int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  std::vector<uint8_t> out(v.size());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t p = 0; p < h * w; ++p)
        out[(i * h * w + p) * c + ch] = to_byte(v[(i * c + ch) * h * w + p], lo, hi, q);
  return out;
}

}  // namespace ebm::io
