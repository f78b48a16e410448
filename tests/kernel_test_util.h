// Helpers shared by the tests of elementwise ops and of CPU-run kernel bodies: the table of unary
// op cases, and an output that counts writes per element (each must be written exactly once).
#pragma once

#include <cstdint>

#include "core/ops/elementwise.h"

namespace ebm::test {

struct UnaryCase {
  UnaryOp op;
  double a, b;
  bool positive;  // domain restricted to x > 0
};

inline const UnaryCase kUnaryCases[] = {
    {UnaryOp::Neg, 0, 0, false},        {UnaryOp::Exp, 0, 0, false},
    {UnaryOp::Log, 0, 0, true},         {UnaryOp::Sqrt, 0, 0, true},
    {UnaryOp::Abs, 0, 0, false},        {UnaryOp::Sign, 0, 0, false},
    {UnaryOp::Square, 0, 0, false},     {UnaryOp::Reciprocal, 0, 0, true},
    {UnaryOp::Relu, 0, 0, false},       {UnaryOp::Step, 0, 0, false},
    {UnaryOp::LeakyRelu, 0.2, 0, false}, {UnaryOp::LeakyReluGrad, 0.2, 0, false},
    {UnaryOp::Silu, 0, 0, false},       {UnaryOp::SiluGrad, 0, 0, false},
    {UnaryOp::Softplus, 0, 0, false},   {UnaryOp::Tanh, 0, 0, false},
    {UnaryOp::Sigmoid, 0, 0, false},    {UnaryOp::Pow, 2.5, 0, true},
    {UnaryOp::Clamp, -0.5, 0.7, false}, {UnaryOp::ClampMask, -0.5, 0.7, false},
    {UnaryOp::Affine, -1.5, 0.25, false},
};

// Output for a kernel body run on the CPU: counts the writes to each element and catches writes
// out of range.
template <class T>
struct CountingOut {
  T* p;
  int* count;
  int64_t n;
  int* out_of_range;
  void put(int64_t i, T v) const {
    if (i < 0 || i >= n) {
      ++*out_of_range;
      return;
    }
    p[i] = v;
    ++count[i];
  }
  void put4(int64_t i, T v0, T v1, T v2, T v3) const {
    put(i, v0);
    put(i + 1, v1);
    put(i + 2, v2);
    put(i + 3, v3);
  }
};

}  // namespace ebm::test
