// Tensor images to 8-bit pictures: one image ([C, H, W]) or a grid of a batch ([N, C, H, W], C 1
// or 3) tiled row-major `columns` across with `padding` pixels of `pad_value` between and
// around tiles (torchvision's make_grid layout). Values map linearly from [lo, hi] to 0..255,
// rounded to nearest and clamped: lo = 0, hi = 1 for IGEBM's [0, 1] pixels, lo = -1 for DRL's.
// Sample dumps can instead truncate as the reference codes' uint8 casts do (DRL: clip((x+1)·127.5,
// 0, 255) cast to uint8 in float32, spec §2.3), so exported files hold the same bytes.
#pragma once

#include "core/io/png.h"
#include "core/tensor.h"

namespace ebm::io {

enum class Quantize {
  Round,     // nearest (torchvision's save_image, our PNG grids)
  Truncate,  // float32 (x − lo)·255/(hi − lo), clipped to [0, 255], then cast (floor)
};

// 8-bit value of x for the range [lo, hi].
uint8_t to_byte(double x, double lo, double hi, Quantize q = Quantize::Round);

Image8 make_grid(const Tensor& images, double lo, double hi, int columns = 8, int padding = 2,
                 uint8_t pad_value = 0);

// The batch as uint8 NHWC bytes (the layout .npz sample dumps use for pytorch-fid).
std::vector<uint8_t> to_uint8_nhwc(const Tensor& images, double lo, double hi, Quantize q = Quantize::Round);

}  // namespace ebm::io
