// Helpers shared by the tests of elementwise ops and of kernels: the table of unary op cases, an
// output that counts writes per element (each must be written exactly once), bitwise comparison.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "core/ops/elementwise.h"
#include "core/tensor.h"

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

// Bitwise equality of a kernel's output with the CPU op's (NaN poison left anywhere fails).
template <class T>
void expect_bitwise_equal(const std::vector<T>& got, const Tensor& want) {
  std::vector<T> ref = want.to_vector<T>();
  ASSERT_EQ(got.size(), ref.size());
  int64_t bad = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (std::memcmp(&got[i], &ref[i], sizeof(T)) != 0 && bad++ < 3)
      ADD_FAILURE() << "element " << i << ": " << got[i] << " vs " << ref[i];
  EXPECT_EQ(bad, 0);
}

}  // namespace ebm::test
