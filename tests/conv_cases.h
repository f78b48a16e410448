// Convolution geometries shared by the CPU and the CUDA conv tests: strides, paddings, 1x1, 3x3,
// 5x5 and non-square kernels, C_in != C_out, batch 1 and batches that take the threaded paths.
#pragma once

#include <cstdint>
#include <ostream>

namespace ebm::test {

struct ConvCase {
  int64_t n, cin, h, w, cout, kh, kw;
  int s, p;
  bool bias;
};

std::ostream& operator<<(std::ostream& os, const ConvCase& c) {
  return os << "x[" << c.n << "," << c.cin << "," << c.h << "," << c.w << "] w[" << c.cout << ","
            << c.cin << "," << c.kh << "," << c.kw << "] s" << c.s << " p" << c.p
            << (c.bias ? " bias" : "");
}

inline const ConvCase kConvCases[] = {
    {1, 3, 8, 8, 4, 3, 3, 1, 1, true},       // batch 1, 3x3 "same"
    {2, 3, 5, 5, 2, 3, 3, 1, 0, true},       // no padding
    {4, 5, 9, 7, 6, 3, 3, 2, 1, false},      // stride 2, odd non-square image
    {3, 4, 6, 6, 8, 1, 1, 1, 0, true},       // 1x1 (the direct, im2col-free path)
    {2, 4, 7, 7, 3, 1, 1, 2, 0, false},      // 1x1 stride 2
    {2, 3, 3, 3, 2, 1, 1, 1, 1, true},       // 1x1 with padding
    {2, 3, 10, 8, 5, 7, 1, 1, 2, true},      // 7x1 non-square kernel, padding 2
    {2, 2, 6, 9, 3, 1, 5, 2, 2, false},      // 1x5, stride 2, padding 2
    {3, 6, 11, 11, 4, 5, 5, 2, 2, true},     // 5x5 stride 2 padding 2
    {1, 2, 4, 4, 3, 4, 4, 1, 0, true},       // kernel covers the whole image
    {2, 2, 2, 3, 2, 3, 3, 2, 2, false},      // padding larger than half the image
    {16, 16, 16, 16, 24, 3, 3, 1, 1, true},  // batch-parallel path
    {17, 8, 15, 15, 12, 3, 3, 2, 1, false},  // batch-parallel, uneven split, stride 2
    {9, 32, 8, 8, 16, 1, 1, 1, 0, true},     // batch-parallel direct 1x1
    {1, 32, 20, 20, 48, 3, 3, 1, 1, true},   // batch 1: Eigen-threaded GEMM, parallel im2col
};

}  // namespace ebm::test
